package store

import (
	"slices"
	"testing"
)

var testIndex = TextIndex{Table: "messages m", FTS5Table: "messages_fts", RowID: "m.pk", TSVector: "m.body_tsv"}

// TestMatchPhrases pins the SQL each engine's dialect builds for a phrase
// match; the contract suite checks what the SQL finds.
func TestMatchPhrases(t *testing.T) {
	ix := testIndex
	cases := []struct {
		name        string
		d           *dialect
		terms       []string
		join, where string
		args        []any
	}{
		{"sqlite, no terms", sqliteDialect(), nil, "", "", nil},
		{"postgres, no terms", postgresDialect(), []string{}, "", "", nil},
		{"sqlite", sqliteDialect(), []string{"brown fox", `fo"x`},
			"JOIN messages_fts ON messages_fts.rowid = m.pk", "messages_fts MATCH ?", []any{`"brown fox" AND "fo""x"`}},
		{"postgres", postgresDialect(), []string{"brown fox", `fo"x`},
			"", "m.body_tsv @@ (phraseto_tsquery('simple', ?) && phraseto_tsquery('simple', ?))", []any{"brown fox", `fo"x`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			join, where, args := Conn{d: c.d}.MatchPhrases(ix, c.terms)
			if join != c.join || where != c.where || !slices.Equal(args, c.args) {
				t.Fatalf("MatchPhrases = %q, %q, %q; want %q, %q, %q", join, where, args, c.join, c.where, c.args)
			}
		})
	}
}

// TestMatchPhrasesIn pins the per-batch test: on SQLite a rowid-bounded
// FTS5 query (never a lookup per row), on PostgreSQL the row's tsvector.
func TestMatchPhrasesIn(t *testing.T) {
	cases := []struct {
		name      string
		d         *dialect
		key, test string
		args      []any
	}{
		{"sqlite", sqliteDialect(), "m.pk", "w.tk IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?\n\t\tAND rowid BETWEEN (SELECT MIN(tk) FROM w) AND (SELECT MAX(tk) FROM w))",
			[]any{`"a b" AND "c"`}},
		{"postgres", postgresDialect(), "m.body_tsv", "w.tk @@ (phraseto_tsquery('simple', ?) && phraseto_tsquery('simple', ?))",
			[]any{"a b", "c"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key, test, args := Conn{d: c.d}.MatchPhrasesIn(testIndex, []string{"a b", "c"}, "w")
			if key != c.key || test != c.test || !slices.Equal(args, c.args) {
				t.Fatalf("MatchPhrasesIn = %q, %q, %q; want %q, %q, %q", key, test, args, c.key, c.test, c.args)
			}
		})
	}
}

// TestInList pins the one-argument lists: a JSON array on SQLite (with a
// unary plus when the list must only filter), a text[] on PostgreSQL.
func TestInList(t *testing.T) {
	vals := []string{"a", `b"c`}
	cases := []struct {
		name   string
		d      *dialect
		filter bool
		cond   string
		arg    any
	}{
		{"sqlite", sqliteDialect(), false, "m.id IN (SELECT value FROM json_each(?))", `["a","b\"c"]`},
		{"sqlite, filter", sqliteDialect(), true, "+m.id IN (SELECT value FROM json_each(?))", `["a","b\"c"]`},
		{"postgres", postgresDialect(), false, "m.id = ANY(?)", vals},
		{"postgres, filter", postgresDialect(), true, "m.id = ANY(?)", vals},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn := Conn{d: c.d}
			cond, arg := conn.InList("m.id", vals)
			if c.filter {
				cond, arg = conn.FilterInList("m.id", vals)
			}
			same := false
			switch want := c.arg.(type) {
			case string:
				same = arg == want
			case []string:
				got, ok := arg.([]string)
				same = ok && slices.Equal(got, want)
			}
			if cond != c.cond || !same {
				t.Fatalf("list = %q, %#v; want %q, %#v", cond, arg, c.cond, c.arg)
			}
		})
	}
}
