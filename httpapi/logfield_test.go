package httpapi

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLogField(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 16, "plain"},
		{"a\x00b", 16, "a\uFFFDb"},
		{"a\xffb", 16, "a\uFFFDb"},
		{"line\nbreak\ttab", 32, "line\uFFFDbreak\uFFFDtab"},
		{strings.Repeat("x", 20), 16, "xxxxxxxxxxxxx…"},
		{strings.Repeat("x", 16), 16, strings.Repeat("x", 16)},
		{strings.Repeat("é", 10), 16, "éééééé…"},
	} {
		if got := logField(tc.in, tc.max); got != tc.want {
			t.Errorf("logField(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func FuzzLogField(f *testing.F) {
	for _, s := range []string{"", "GET", "a\x00b", "\xff\xfe", strings.Repeat("é", 100), "x\u202ey"} {
		f.Add(s, 16)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 4 || max > 1<<16 {
			return
		}
		out := logField(s, max)
		if len(out) > max || !utf8.ValidString(out) {
			t.Fatalf("logField(%q, %d) = %q", s, max, out)
		}
		for _, r := range out {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("logField(%q, %d) = %q holds a control character", s, max, out)
			}
		}
	})
}
