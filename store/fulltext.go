package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// TextIndex names one full-text index as the migrations build it on each
// engine. Both engines tokenize alike and without stemming (FTS5's
// unicode61 with remove_diacritics 0, PostgreSQL's 'simple' configuration),
// so a phrase finds the same rows on either.
type TextIndex struct {
	// Table is the indexed table with the alias the other fields use, as
	// a FROM clause names it (for example "messages m").
	Table string
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
//
// The match drives the query on both engines when nothing else can (FTS5's
// MATCH, a GIN index scan on PostgreSQL), and the engine then visits every
// matching row: use it when the terms are known to be rare (see
// CountPhraseMatches), and for a newest-first walk that stops early use
// MatchPhrasesIn.
func (c Conn) MatchPhrases(ix TextIndex, terms []string) (join, where string, args []any) {
	if len(terms) == 0 {
		return "", "", nil
	}
	return c.d.matchPhrases(ix, terms)
}

// CountPhraseMatches counts the rows of ix's table whose text contains
// every one of terms (as MatchPhrases), stopping at atMost: a bounded probe
// of how rare the terms are, which reads the index alone on SQLite and
// stops after atMost rows on PostgreSQL.
func (c Conn) CountPhraseMatches(ctx context.Context, ix TextIndex, terms []string, atMost int) (int, error) {
	if len(terms) == 0 {
		return 0, nil
	}
	from, where, args := c.d.countPhrases(ix, terms)
	var n int
	err := c.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 AS one FROM `+from+` WHERE `+where+` LIMIT ?) x`,
		append(args, atMost)...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count matches: %w", err)
	}
	return n, nil
}

// MatchPhrasesIn tests a set of rows that the query has already chosen,
// for example the next few hundred rows of a newest-first walk, for the
// terms of MatchPhrases, without visiting the other matches of the terms.
// The rows are a common table expression named rows that selects key AS
// tk (key is an expression over ix.Table's alias); test is a condition on
// a row of rows (rows.tk), with args its arguments.
//
// On PostgreSQL the key is the row's tsvector and the test evaluates it. On
// SQLite the key is the rowid, and the test reads from the FTS5 index only
// the matches whose rowids lie between the smallest and the largest rowid
// of rows: rowids grow with insertion, so for the rows of a walk by time
// that range is narrow, and the test stays exact however the rowids of the
// rows are ordered.
func (c Conn) MatchPhrasesIn(ix TextIndex, terms []string, rows string) (key, test string, args []any) {
	return c.d.matchPhrasesIn(ix, terms, rows)
}

// InList returns a condition that expr is one of values, with its one
// argument: however many values there are, the statement is the same (a
// json_each table on SQLite, = ANY of an array on PostgreSQL), so it is
// prepared once and never reaches an engine's limit on placeholders. The
// engine may look the values up through an index on expr.
func (c Conn) InList(expr string, values []string) (cond string, arg any) {
	return c.d.inList(expr, values, false)
}

// FilterInList is InList for a condition that must only filter the rows an
// index walk yields, never choose the index: SQLite would otherwise read
// each value's range of an index on expr and sort, where a newest-first walk
// stops after a page. PostgreSQL plans that choice by cost, so it is InList
// there.
func (c Conn) FilterInList(expr string, values []string) (cond string, arg any) {
	return c.d.inList(expr, values, true)
}

// fts5Query is one FTS5 query string for terms: an FTS5 string ("…") is
// tokenized like the indexed text and matched as a phrase; a double quote
// inside it is doubled. The terms are ANDed.
func fts5Query(terms []string) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
	}
	return strings.Join(parts, " AND ")
}

// fts5Phrases matches with FTS5.
func fts5Phrases(ix TextIndex, terms []string) (join, where string, args []any) {
	return `JOIN ` + ix.FTS5Table + ` ON ` + ix.FTS5Table + `.rowid = ` + ix.RowID,
		ix.FTS5Table + ` MATCH ?`, []any{fts5Query(terms)}
}

func fts5Count(ix TextIndex, terms []string) (from, where string, args []any) {
	return ix.FTS5Table, ix.FTS5Table + ` MATCH ?`, []any{fts5Query(terms)}
}

// fts5PhrasesIn bounds the FTS5 query by the rowids of rows, which FTS5
// turns into a seek within each term's posting list.
func fts5PhrasesIn(ix TextIndex, terms []string, rows string) (key, test string, args []any) {
	return ix.RowID, rows + `.tk IN (SELECT rowid FROM ` + ix.FTS5Table + ` WHERE ` + ix.FTS5Table + ` MATCH ?
		AND rowid BETWEEN (SELECT MIN(tk) FROM ` + rows + `) AND (SELECT MAX(tk) FROM ` + rows + `))`,
		[]any{fts5Query(terms)}
}

// sqliteInList reads the values from a JSON array. The unary plus, which
// changes no value, keeps SQLite from using an index on expr for the
// condition.
func sqliteInList(expr string, values []string, filterOnly bool) (string, any) {
	b, _ := json.Marshal(values) // a []string always marshals
	if filterOnly {
		expr = "+" + expr
	}
	return expr + ` IN (SELECT value FROM json_each(?))`, string(b)
}

// tsquery is the tsquery of terms: phraseto_tsquery per term, combined
// with &&.
func tsquery(terms []string) (string, []any) {
	parts := make([]string, len(terms))
	args := make([]any, len(terms))
	for i, t := range terms {
		parts[i] = `phraseto_tsquery('simple', ?)`
		args[i] = t
	}
	return `(` + strings.Join(parts, " && ") + `)`, args
}

// tsqueryPhrases matches with a tsquery.
func tsqueryPhrases(ix TextIndex, terms []string) (join, where string, args []any) {
	q, args := tsquery(terms)
	return "", ix.TSVector + ` @@ ` + q, args
}

func tsqueryCount(ix TextIndex, terms []string) (from, where string, args []any) {
	q, args := tsquery(terms)
	return ix.Table, ix.TSVector + ` @@ ` + q, args
}

func tsqueryPhrasesIn(ix TextIndex, terms []string, rows string) (key, test string, args []any) {
	q, args := tsquery(terms)
	return ix.TSVector, rows + `.tk @@ ` + q, args
}

// postgresInList binds the values as one text[].
func postgresInList(expr string, values []string, _ bool) (string, any) {
	if values == nil {
		values = []string{}
	}
	return expr + ` = ANY(?)`, values
}
