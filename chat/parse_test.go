package chat_test

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/unhidra/unhidra/chat"
)

func TestParseMentions(t *testing.T) {
	for _, c := range []struct {
		body    string
		names   []string
		channel bool
	}{
		{"hi @bob", []string{"bob"}, false},
		{"@Bob, @carol. and @bob again", []string{"bob", "carol"}, false},
		{"mail bob@example.com", nil, false},
		{"@channel standup", nil, true},
		{"@here", nil, true},
		{"@ab is too short, @a.b-c_d ok", []string{"a.b-c_d"}, false},
		{"@@bob", nil, false},
		{"(@dave)", []string{"dave"}, false},
		{"@" + strings.Repeat("x", 40), nil, false},
		{"é@bob", nil, false},
	} {
		names, ch := chat.ParseMentions(c.body)
		if !slices.Equal(names, c.names) || ch != c.channel {
			t.Errorf("ParseMentions(%q) = %q, %v; want %q, %v", c.body, names, ch, c.names, c.channel)
		}
	}
}

func FuzzParseMentions(f *testing.F) {
	for _, s := range []string{"hi @bob", "@channel", "a@b.c", "@@x", "@bob.", "@ab", "@ñame", "@" + strings.Repeat("y", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		names, _ := chat.ParseMentions(body)
		seen := map[string]bool{}
		lower := strings.ToLower(body)
		for _, n := range names {
			if len(n) < 3 || len(n) > 32 || seen[n] || n != strings.ToLower(n) {
				t.Fatalf("bad name %q from %q", n, body)
			}
			seen[n] = true
			if !strings.Contains(lower, "@"+n) {
				t.Fatalf("%q is not in %q", n, body)
			}
		}
	})
}

func TestParseQuery(t *testing.T) {
	q, err := chat.ParseQuery(`deploy "brown fox" in:#General from:@Bob after:2026-01-02 before:2026-02-01 re:thing ...`)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.Terms, []string{"deploy", "brown fox", "re:thing"}) || !slices.Equal(q.In, []string{"general"}) ||
		!slices.Equal(q.From, []string{"bob"}) || q.After.Format("2006-01-02") != "2026-01-03" || q.Before.Format("2006-01-02") != "2026-02-01" {
		t.Fatalf("parsed %+v", q)
	}
	for _, bad := range []string{"", "   ", `""`, "in:", "from:", "before:yesterday", "after:2026-13-01", "!!! ???", strings.Repeat("a ", 300)} {
		if _, err := chat.ParseQuery(bad); err == nil {
			t.Errorf("ParseQuery(%q) accepted", bad)
		}
	}
}

func TestHighlights(t *testing.T) {
	got := chat.Highlights("Ünïcode FOX: the brown fox, brown", []string{"brown fox", "ünïcode"})
	want := []chat.Highlight{{Start: 0, End: 7}, {Start: 17, End: 26}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{`"a b" c`, `in:x from:y`, `before:2026-01-01`, `"unclosed`, `a:b:c`, `ü "ß`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		pq, err := chat.ParseQuery(q)
		if err != nil {
			return
		}
		if len(pq.Terms) > chat.MaxQueryTerms {
			t.Fatalf("%d terms", len(pq.Terms))
		}
		for _, term := range pq.Terms {
			if !utf8.ValidString(term) || strings.TrimSpace(term) == "" {
				t.Fatalf("bad term %q", term)
			}
			// Highlights of a body that is the term itself stay in range.
			n := utf8.RuneCountInString(term)
			for _, h := range chat.Highlights(term, pq.Terms) {
				if h.Start < 0 || h.End > n || h.Start >= h.End {
					t.Fatalf("highlight %v out of range for %q", h, term)
				}
			}
		}
	})
}
