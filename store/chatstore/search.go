package chatstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/chat"
	"github.com/unhidra/unhidra/store"
)

// messageText is the full-text index over messages.body (alias m).
var messageText = store.TextIndex{Table: "messages m", FTS5Table: "messages_fts", RowID: "m.pk", TSVector: "m.body_tsv"}

// SearchTuning holds the thresholds at which Search changes plan (see
// Search). The zero value of a field means its default; the defaults were
// chosen with BenchmarkSearch, and tests lower them to drive every plan
// through a small history.
type SearchTuning struct {
	// RareMatches: terms that match at most this many messages, whatever
	// the query's other conditions, are searched from the full-text index
	// once a walk shows that its page lies far (default 5000); more when
	// the page lies further still (see searchByWalk).
	RareMatches int
	// FirstBatch is how many rows the first batch of a walk tests for the
	// terms (default 64); each next batch is sized from the share of rows
	// that matched so far to fill the page, up to MaxBatch (default 8192).
	FirstBatch, MaxBatch int
	// WalkBudget is how many rows a walk tests before it finishes from
	// the full-text index instead, when the terms are common overall but
	// rare among the rows the other conditions leave (default 20000).
	WalkBudget int
	// MaxArms is the most index walks one search merges: one per from:
	// user, else one per searched channel. Beyond it one walk over all
	// messages filters by channel and sender instead (default 8).
	MaxArms int
}

func (t SearchTuning) withDefaults() SearchTuning {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.RareMatches, 5000)
	def(&t.FirstBatch, 64)
	def(&t.MaxBatch, 8192)
	def(&t.WalkBudget, 20000)
	def(&t.MaxArms, 8)
	return t
}

// Search runs a full-text search, newest first by (created_at, id), reading
// about a page of rows rather than every match. Every term is matched as a
// phrase of whole tokens (no stemming on either engine) and every term
// must match; only live messages in the user's standard (not encrypted)
// channels are found. The cursor is the (created_at, id) of the last hit
// of the previous page.
//
// The SQL is written once; the dialect supplies the full-text parts. The
// plan:
//
//  1. The user's searchable channels (and, with in:, those of them named)
//     are read first; with none, nothing matches.
//  2. Without terms, one statement walks an index newest first (see walk)
//     and stops after the page.
//  3. With terms, the same walk runs in batches, and each batch is tested
//     for the terms with MatchPhrasesIn, which touches only the batch's
//     share of the full-text index. It stops when a page is found: among
//     common terms a page lies within a few thousand rows of the newest.
//     The share of rows that matched sizes the next batch.
//  4. When that share says the page lies beyond WalkBudget rows, a
//     bounded count asks the full-text index how many messages match the
//     terms at all. When they are rare (at most RareMatches, or half the
//     rows the walk would still test if more, up to WalkBudget), the
//     full-text index drives the rest of the page: every match older than
//     where the walk stopped is read, filtered and sorted, which costs no
//     more than the few matches. Otherwise the walk goes on, and a walk
//     that tests WalkBudget rows without filling the page (terms common
//     overall but rare among the rows the other conditions leave)
//     finishes from the full-text index in the same way.
func (r reader) Search(ctx context.Context, q chat.SearchQuery) ([]*unhidra.Message, error) {
	chans, err := r.searchChannels(ctx, q.UserID, q.ChannelIDs)
	if err != nil || len(chans) == 0 || q.Limit <= 0 {
		return nil, err
	}
	t := r.tune.withDefaults()
	w := walk{c: r.c, chans: chans, senders: q.SenderIDs, since: q.Since, until: q.Until, maxArms: t.MaxArms}
	var after *searchKey
	if q.CursorID != "" {
		after = &searchKey{at: store.Micros(q.CursorAt), id: q.CursorID}
	}
	if len(q.Terms) == 0 {
		query, args := w.sql(messageColumns, after, q.Limit)
		return r.searchRows(ctx, query, args)
	}
	return r.searchByWalk(ctx, w, q.Terms, after, q.Limit, t)
}

// searchKey is a position in the newest-first order.
type searchKey struct {
	at int64 // created_at, unix microseconds
	id string
}

// searchChannels returns the ids of userID's standard channels, only those
// among inIDs when it is not empty.
func (r reader) searchChannels(ctx context.Context, userID string, inIDs []string) ([]string, error) {
	query := `SELECT c.id FROM channel_members cm JOIN channels c ON c.id = cm.channel_id
		WHERE cm.user_id = ? AND c.encrypted = ?`
	args := []any{userID, false}
	if len(inIDs) > 0 {
		cond, arg := r.c.InList("c.id", inIDs)
		query += ` AND ` + cond
		args = append(args, arg)
	}
	rows, err := r.c.Query(ctx, query+` ORDER BY c.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("search channels: %w", err)
	}
	return store.Collect(rows, "search channels", func(s store.Scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	})
}

// walk is the newest-first scan of the messages a search may return,
// before any full-text condition: live messages in chans, from senders
// when given, created in [since, until). Each of its arms walks one index
// of migration 0004 in (created_at, id) order with no sort: one arm per
// sender and channel when there are few pairs
// (messages_search_channel_sender), else one per sender
// (messages_search_sender), else one per channel
// (messages_search_channel) when there are few (in: names them, or the
// user is in few), else one over all messages (messages_search_time).
// The filters other than the arm's own are checked in the index on
// SQLite; PostgreSQL checks an = ANY list on a later index column only
// after reading the row, which is why pairs get arms of their own.
type walk struct {
	c            store.Conn
	chans        []string
	senders      []string
	since, until *time.Time
	maxArms      int
}

// sql returns a statement that selects cols (over alias m) of the first
// limit rows of the walk after the key after (nil: from the newest),
// newest first.
func (w walk) sql(cols string, after *searchKey, limit int) (string, []any) {
	type arm struct {
		cond string
		args []any
	}
	var arms []arm
	var shared []string
	var sharedArgs []any
	filter := func(col string, values []string) {
		cond, arg := w.c.FilterInList(col, values)
		shared, sharedArgs = append(shared, cond), append(sharedArgs, arg)
	}
	switch {
	case len(w.senders) > 0 && len(w.senders)*len(w.chans) <= w.maxArms:
		for _, s := range w.senders {
			for _, c := range w.chans {
				arms = append(arms, arm{"m.sender_id = ? AND m.channel_id = ?", []any{s, c}})
			}
		}
	case len(w.senders) > 0 && len(w.senders) <= w.maxArms:
		for _, s := range w.senders {
			arms = append(arms, arm{"m.sender_id = ?", []any{s}})
		}
		filter("m.channel_id", w.chans)
	case len(w.chans) <= w.maxArms:
		for _, c := range w.chans {
			arms = append(arms, arm{"m.channel_id = ?", []any{c}})
		}
		if len(w.senders) > 0 {
			filter("m.sender_id", w.senders)
		}
	default:
		arms = append(arms, arm{"1 = 1", nil})
		filter("m.channel_id", w.chans)
		if len(w.senders) > 0 {
			filter("m.sender_id", w.senders)
		}
	}
	bounds, boundArgs := timeBounds("m.created_at", w.since, w.until, after)
	shared, sharedArgs = append(shared, bounds...), append(sharedArgs, boundArgs...)

	// Several arms are each limited in their own subquery, so that each
	// is planned as its own index walk (a bare UNION ALL under one ORDER
	// BY may be planned as one scan of every arm's rows and a sort), and
	// the at most len(arms)*limit rows are sorted.
	var b strings.Builder
	var args []any
	for i, a := range arms {
		if len(arms) > 1 {
			if i > 0 {
				b.WriteString(` UNION ALL `)
			}
			b.WriteString(`SELECT * FROM (`)
		}
		b.WriteString(`SELECT ` + cols + ` FROM messages m WHERE m.deleted_at IS NULL AND ` + a.cond)
		args = append(args, a.args...)
		for _, s := range shared {
			b.WriteString(` AND ` + s)
		}
		args = append(args, sharedArgs...)
		b.WriteString(` ORDER BY m.created_at DESC, m.id DESC LIMIT ?`)
		args = append(args, limit)
		if len(arms) > 1 {
			b.WriteString(`) a` + strconv.Itoa(i))
		}
	}
	if len(arms) > 1 {
		b.WriteString(` ORDER BY created_at DESC, id DESC LIMIT ?`)
		args = append(args, limit)
	}
	return b.String(), args
}

// batchSQL returns the statement of one batch of searchByWalk: the first
// batch rows of the walk after the key after, tested with the key and test
// of MatchPhrasesIn. It yields the batch's matches (hit 1) and, when the
// batch is full, its last row (hit 0): where the next batch starts.
func (w walk) batchSQL(key, test string, testArgs []any, after *searchKey, batch int) (string, []any) {
	rows, args := w.sql(key+" AS tk, m.created_at, m.id", after, batch)
	// The last row is the oldest, found without sorting the batch (ids
	// are compared only among the oldest created_at, in PostgreSQL by a
	// slow collation).
	query := `WITH w AS MATERIALIZED (` + rows + `)
		SELECT created_at, id, 1 AS hit FROM w WHERE ` + test + `
		UNION ALL SELECT created_at, MIN(id), 0 AS hit FROM w
			WHERE created_at = (SELECT MIN(created_at) FROM w) AND (SELECT COUNT(*) FROM w) = ? GROUP BY created_at`
	return query, append(append(args, testArgs...), batch)
}

// timeBounds returns the conditions on the created_at expression col for
// since (inclusive), until (exclusive) and a cursor key.
func timeBounds(col string, since, until *time.Time, after *searchKey) (conds []string, args []any) {
	if since != nil {
		conds, args = append(conds, col+` >= ?`), append(args, store.Micros(*since))
	}
	// A cursor before until already implies it, and as the only upper
	// bound it is the one the engine starts the index range at (SQLite
	// would start at until and skip the pages before the cursor).
	if until != nil && (after == nil || after.at >= store.Micros(*until)) {
		conds, args = append(conds, col+` < ?`), append(args, store.Micros(*until))
	}
	if after != nil {
		// A row comparison, which both engines turn into a range of the
		// (created_at, id) indexes.
		conds, args = append(conds, `(`+col+`, m.id) < (?, ?)`), append(args, after.at, after.id)
	}
	return conds, args
}

// searchByText reads the matches of terms from the full-text index,
// filters and sorts them: for rare terms, or the rest of a walk. ORDER BY
// and the time conditions name +m.created_at, which no index can serve, so
// that neither engine walks a time index testing each row against the
// full-text index instead.
func (r reader) searchByText(ctx context.Context, w walk, terms []string, after *searchKey, limit int) ([]*unhidra.Message, error) {
	query, args := w.textSQL(terms, after, limit)
	return r.searchRows(ctx, query, args)
}

// textSQL returns the statement of searchByText.
func (w walk) textSQL(terms []string, after *searchKey, limit int) (string, []any) {
	join, match, args := w.c.MatchPhrases(messageText, terms)
	var b strings.Builder
	b.WriteString(`SELECT ` + messageColumns + ` FROM messages m ` + join + ` WHERE ` + match + ` AND m.deleted_at IS NULL`)
	cond, arg := w.c.FilterInList("m.channel_id", w.chans)
	b.WriteString(` AND ` + cond)
	args = append(args, arg)
	if len(w.senders) > 0 {
		cond, arg := w.c.FilterInList("m.sender_id", w.senders)
		b.WriteString(` AND ` + cond)
		args = append(args, arg)
	}
	bounds, boundArgs := timeBounds("+m.created_at", w.since, w.until, after)
	for _, s := range bounds {
		b.WriteString(` AND ` + s)
	}
	args = append(args, boundArgs...)
	b.WriteString(` ORDER BY +m.created_at DESC, m.id DESC LIMIT ?`)
	return b.String(), append(args, limit)
}

// minBatch is the fewest rows a batch after the first tests: enough that a
// page a few rows away costs one more statement, not several.
const minBatch = 16

// searchByWalk walks newest first in batches, testing each batch for terms
// (see Search).
func (r reader) searchByWalk(ctx context.Context, w walk, terms []string, after *searchKey, limit int, t SearchTuning) ([]*unhidra.Message, error) {
	key, test, testArgs := r.c.MatchPhrasesIn(messageText, terms, "w")
	var hits []searchKey
	probed := false
	for batch, walked := t.FirstBatch, 0; ; {
		query, args := w.batchSQL(key, test, testArgs, after, batch)
		found, next, err := r.searchBatch(ctx, query, args)
		if err != nil {
			return nil, err
		}
		hits = append(hits, found...)
		walked += batch
		if len(hits) >= limit || next == nil {
			return r.messagesByKey(ctx, hits[:min(len(hits), limit)])
		}
		after = next
		// The share of the walked rows that matched tells how many more
		// rows the page needs (half a match when none did, so that the
		// guess stays finite and grows with the walk).
		need := float64(limit-len(hits)) * float64(walked) / (float64(len(hits)) + 0.5)
		if !probed && float64(walked)+need > float64(t.WalkBudget) {
			probed = true
			// Reading a match from the full-text index and sorting it
			// costs about what testing two rows of the walk does, so
			// the terms count as rare up to half the rows the walk still
			// needs (at most WalkBudget), or RareMatches if more.
			rare := max(t.RareMatches, min(t.WalkBudget, int(need/2)))
			n, err := r.c.CountPhraseMatches(ctx, messageText, terms, rare+1)
			if err != nil {
				return nil, fmt.Errorf("search: %w", err)
			}
			if n <= rare {
				return r.finishByText(ctx, w, terms, hits, after, limit)
			}
		}
		if walked >= t.WalkBudget {
			return r.finishByText(ctx, w, terms, hits, after, limit)
		}
		// Enough for the page if the guess holds, with a margin that
		// spares most walks another statement, but never more than 32
		// times the last batch (8 while nothing matched, when the terms
		// are likely rare and the count above is near): a guess from few
		// rows is rough, and on SQLite a batch spread thin over the rowids
		// costs the more to test the commoner the terms.
		growth := 32
		if len(hits) == 0 {
			growth = 8
		}
		batch = min(t.MaxBatch, growth*batch, max(minBatch, int(need*1.5)+1))
	}
}

// finishByText completes a walk's page from the full-text index: the walk
// found hits, newest first, and stopped at after.
func (r reader) finishByText(ctx context.Context, w walk, terms []string, hits []searchKey, after *searchKey, limit int) ([]*unhidra.Message, error) {
	ms, err := r.messagesByKey(ctx, hits)
	if err != nil {
		return nil, err
	}
	rest, err := r.searchByText(ctx, w, terms, after, limit-len(hits))
	if err != nil {
		return nil, err
	}
	return append(ms, rest...), nil
}

// searchBatch runs one batch of searchByWalk: its matches, newest first,
// and the key after which the next batch starts (nil when the walk is
// done).
func (r reader) searchBatch(ctx context.Context, query string, args []any) (hits []searchKey, next *searchKey, err error) {
	rows, err := r.c.Query(ctx, query, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k searchKey
		var hit int
		if err := rows.Scan(&k.at, &k.id, &hit); err != nil {
			return nil, nil, fmt.Errorf("search: %w", err)
		}
		if hit == 1 {
			hits = append(hits, k)
		} else {
			next = &k
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("search: %w", err)
	}
	slices.SortFunc(hits, func(a, b searchKey) int {
		if a.at != b.at {
			return -cmpInt(a.at, b.at)
		}
		return -strings.Compare(a.id, b.id)
	})
	return hits, next, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// messagesByKey reads the messages of keys, in the order of keys; one
// deleted since it was found is left out.
func (r reader) messagesByKey(ctx context.Context, keys []searchKey) ([]*unhidra.Message, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.id
	}
	cond, arg := r.c.InList("m.id", ids)
	ms, err := r.searchRows(ctx, `SELECT `+messageColumns+` FROM messages m WHERE `+cond+` AND m.deleted_at IS NULL`, []any{arg})
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*unhidra.Message, len(ms))
	for _, m := range ms {
		byID[m.ID] = m
	}
	out := make([]*unhidra.Message, 0, len(ms))
	for _, id := range ids {
		if m := byID[id]; m != nil {
			out = append(out, m)
		}
	}
	return out, nil
}

func (r reader) searchRows(ctx context.Context, query string, args []any) ([]*unhidra.Message, error) {
	rows, err := r.c.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return store.Collect(rows, "search", func(s store.Scanner) (*unhidra.Message, error) { return scanMessage(s) })
}
