package store

import (
	"slices"
	"testing"
)

// TestMatchPhrases pins the SQL each engine's dialect builds for a phrase
// match; the contract suite checks what the SQL finds.
func TestMatchPhrases(t *testing.T) {
	ix := TextIndex{FTS5Table: "messages_fts", RowID: "m.pk", TSVector: "m.body_tsv"}
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
