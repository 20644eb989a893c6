package unhidra_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/unhidra/unhidra"
)

func TestCheckID(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"0190f1c2-7b1e-7c3a-9d2e-1234567890ab", true},
		{"uhi_AbC-_x", true},
		{strings.Repeat("a", unhidra.MaxIDLength), true},
		{"", false},
		{strings.Repeat("a", unhidra.MaxIDLength+1), false},
		{"a\x00b", false},
		{"a\xffb", false},
		{"a\nb", false},
		{"a\u0085b", false}, // C1 control
	} {
		err := unhidra.CheckID("channel_id", tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("CheckID(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
		if err != nil && (unhidra.ErrorCode(err) != unhidra.EInvalid || unhidra.ErrorMessage(err) != "channel_id is not a valid id") {
			t.Errorf("CheckID(%q) = %v", tc.in, err)
		}
	}
}

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string // "" for valid
	}{
		{"Hello, wörld 👋", 20, ""},
		{"", 5, ""},
		{"ééééé", 5, ""},
		{"éééééé", 5, "topic must be at most 5 characters"},
		{"a\x00b", 5, "topic must not contain control characters"},
		{"a\nb", 5, "topic must not contain control characters"},
		{"a\tb", 5, "topic must not contain control characters"},
		{"a\xffb", 5, "topic must be valid UTF-8"},
	} {
		err := unhidra.CheckText("topic", tc.in, tc.max)
		if got := unhidra.ErrorMessage(err); got != tc.want || (err != nil && unhidra.ErrorCode(err) != unhidra.EInvalid) {
			t.Errorf("CheckText(%q, %d) = %v, want %q", tc.in, tc.max, err, tc.want)
		}
	}
}

func TestCheckParam(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"hello world", ""},
		{"tab\tand\nnewline", ""},
		{"", ""},
		{"a\x00b", "q must not contain NUL bytes"},
		{"a\xffb", "q must be valid UTF-8"},
		{strings.Repeat("a", 17), "q must be at most 16 bytes"},
	} {
		err := unhidra.CheckParam("q", tc.in, 16)
		if got := unhidra.ErrorMessage(err); got != tc.want || (err != nil && unhidra.ErrorCode(err) != unhidra.EInvalid) {
			t.Errorf("CheckParam(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

// FuzzCheck: whatever the input, each helper either refuses it with
// EInvalid or accepts something that satisfies its contract.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"", "abc", "0190f1c2-7b1e-7c3a-9d2e-1234567890ab", "a\x00b", "\xff", "é\u202e", strings.Repeat("x", 200), "a\nb"} {
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 1<<12 {
			return
		}
		refused := func(err error) bool {
			if err != nil && unhidra.ErrorCode(err) != unhidra.EInvalid {
				t.Fatalf("error %v is not invalid_argument", err)
			}
			return err != nil
		}
		clean := utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
		if !refused(unhidra.CheckID("id", s)) {
			if s == "" || len(s) > unhidra.MaxIDLength || !clean {
				t.Fatalf("CheckID accepted %q", s)
			}
		} else if s != "" && len(s) <= unhidra.MaxIDLength && clean {
			t.Fatalf("CheckID refused %q", s)
		}
		if !refused(unhidra.CheckText("f", s, n)) {
			if !clean || utf8.RuneCountInString(s) > n {
				t.Fatalf("CheckText accepted %q (max %d)", s, n)
			}
		} else if clean && utf8.RuneCountInString(s) <= n {
			t.Fatalf("CheckText refused %q (max %d)", s, n)
		}
		if !refused(unhidra.CheckParam("f", s, n)) {
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 || len(s) > n {
				t.Fatalf("CheckParam accepted %q (max %d)", s, n)
			}
		} else if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 && len(s) <= n {
			t.Fatalf("CheckParam refused %q (max %d)", s, n)
		}
	})
}
