package store

import "strings"

// TextIndex names one full-text index as the migrations build it on each
// engine. Both engines tokenize alike and without stemming (FTS5's
// unicode61 with remove_diacritics 0, PostgreSQL's 'simple' configuration),
// so a phrase finds the same rows on either.
type TextIndex struct {
	// FTS5Table is the SQLite FTS5 table of the index and RowID the
	// column of the indexed table its rowid refers to, as the query names
	// it (for example "m.pk").
	FTS5Table, RowID string
	// TSVector is the PostgreSQL tsvector column of the index, as the query
	// names it (for example "m.body_tsv").
	TSVector string
}

// MatchPhrases returns what keeps only the rows whose text in ix contains
// every one of terms, each as a phrase of whole tokens: a JOIN clause to
// place after the query's other joins ("" when the engine needs none), a
// condition for its WHERE clause, and the condition's arguments, in order.
// Without terms all three are empty. Terms are bound as arguments, never
// spliced into the SQL.
func (c Conn) MatchPhrases(ix TextIndex, terms []string) (join, where string, args []any) {
	if len(terms) == 0 {
		return "", "", nil
	}
	return c.d.matchPhrases(ix, terms)
}

// fts5Phrases matches with FTS5: an FTS5 string ("…") is tokenized like
// the indexed text and matched as a phrase; a double quote inside it is
// doubled. The terms are ANDed in one MATCH argument.
func fts5Phrases(ix TextIndex, terms []string) (join, where string, args []any) {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
	}
	return `JOIN ` + ix.FTS5Table + ` ON ` + ix.FTS5Table + `.rowid = ` + ix.RowID,
		ix.FTS5Table + ` MATCH ?`, []any{strings.Join(parts, " AND ")}
}

// tsqueryPhrases matches with a tsquery: phraseto_tsquery per term,
// combined with &&.
func tsqueryPhrases(ix TextIndex, terms []string) (join, where string, args []any) {
	parts := make([]string, len(terms))
	args = make([]any, len(terms))
	for i, t := range terms {
		parts[i] = `phraseto_tsquery('simple', ?)`
		args[i] = t
	}
	return "", ix.TSVector + ` @@ (` + strings.Join(parts, " && ") + `)`, args
}
