package chatstore

import (
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/store"
)

// TestSearchPlansSQLite pins the plans SQLite chooses for Search's
// statements, which do not depend on the data (the server runs no
// ANALYZE): every walk reads its index of migration 0004 in order, with no
// sort unless it merges arms; every batch tests its rows with one FTS5 query
// bounded by rowids (INDEX 0:M1><), never a lookup per row; the rare-terms
// statement is driven by FTS5. PostgreSQL's plans depend on statistics;
// docs/architecture.md ("Search") records them for the benchmark's history.
func TestSearchPlansSQLite(t *testing.T) {
	db, err := store.Open(t.Context(), testenv.SQLiteURL(t), store.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := reader{c: db.Read()}
	plan := func(q string, args []any) string {
		t.Helper()
		rows, err := r.c.Query(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, detail)
		}
		return strings.Join(lines, "\n")
	}
	many := []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}
	until := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	after := &searchKey{at: 1, id: "x"}
	cases := []struct {
		name  string
		w     walk
		index string // the walk's index and what bounds its range
		merge bool
	}{
		{"all channels", walk{chans: many}, "USING INDEX messages_search_time ((created_at,id)<(?,?))", false},
		{"before", walk{chans: many, until: &until}, "USING INDEX messages_search_time (", false},
		{"in", walk{chans: []string{"c1"}}, "USING INDEX messages_search_channel (channel_id=? AND (created_at,id)<(?,?))", false},
		{"in two", walk{chans: []string{"c1", "c2"}}, "USING INDEX messages_search_channel (channel_id=? AND (created_at,id)<(?,?))", true},
		{"from", walk{chans: many, senders: []string{"u1"}}, "USING INDEX messages_search_sender (sender_id=? AND (created_at,id)<(?,?))", false},
		{"in and from", walk{chans: []string{"c1"}, senders: []string{"u1"}},
			"USING INDEX messages_search_channel_sender (channel_id=? AND sender_id=? AND (created_at,id)<(?,?))", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.w.c, c.w.maxArms = r.c, 8
			q, args := c.w.sql(messageColumns, after, 51)
			p := plan(q, args)
			if !strings.Contains(p, c.index) || strings.Contains(p, "SCAN m\n") || (!c.merge && strings.Contains(p, "TEMP B-TREE")) {
				t.Errorf("walk without terms:\n%s\nwant %s", p, c.index)
			}
			if c.merge && !strings.Contains(p, "MERGE (UNION ALL)") {
				t.Errorf("several arms not merged:\n%s", p)
			}
			key, test, targs := r.c.MatchPhrasesIn(messageText, []string{"brown fox"}, "w")
			q, args = c.w.batchSQL(key, test, targs, after, 512)
			p = plan(q, args)
			if !strings.Contains(p, c.index) || !strings.Contains(p, "messages_fts VIRTUAL TABLE INDEX 0:M1><") {
				t.Errorf("batch:\n%s\nwant %s and a rowid-bounded FTS5 query", p, c.index)
			}
			q, args = c.w.textSQL([]string{"brown fox"}, after, 51)
			p = plan(q, args)
			if !strings.HasPrefix(p, "SCAN messages_fts VIRTUAL TABLE INDEX 0:M1") ||
				!strings.Contains(p, "SEARCH m USING INTEGER PRIMARY KEY (rowid=?)") {
				t.Errorf("rare terms not driven by FTS5:\n%s", p)
			}
		})
	}
}
