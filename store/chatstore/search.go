package chatstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/chat"
	"github.com/unhidra/unhidra/store"
)

// messageText is the full-text index over messages.body (alias m).
var messageText = store.TextIndex{FTS5Table: "messages_fts", RowID: "m.pk", TSVector: "m.body_tsv"}

// Search runs a full-text search. The query is written once; the dialect
// supplies the full-text match (an FTS5 MATCH on SQLite, a tsvector @@
// tsquery on PostgreSQL). Every term is matched as a phrase of whole tokens
// (no stemming on either engine), and every term must match. Results are
// newest first; the cursor is the (created_at, id) of the last hit of the
// previous page.
func (r reader) Search(ctx context.Context, q chat.SearchQuery) ([]*unhidra.Message, error) {
	join, match, matchArgs := r.c.MatchPhrases(messageText, q.Terms)
	var b strings.Builder
	args := []any{q.UserID}
	b.WriteString(`SELECT ` + messageColumns + ` FROM messages m
		JOIN channel_members cm ON cm.channel_id = m.channel_id AND cm.user_id = ?
		JOIN channels c ON c.id = m.channel_id`)
	if join != "" {
		b.WriteString(` ` + join)
	}
	b.WriteString(` WHERE c.encrypted = ? AND m.deleted_at IS NULL`)
	args = append(args, false)
	if match != "" {
		b.WriteString(` AND ` + match)
		args = append(args, matchArgs...)
	}
	if len(q.ChannelIDs) > 0 {
		b.WriteString(` AND m.channel_id IN (` + store.Placeholders(len(q.ChannelIDs)) + `)`)
		for _, id := range q.ChannelIDs {
			args = append(args, id)
		}
	}
	if len(q.SenderIDs) > 0 {
		b.WriteString(` AND m.sender_id IN (` + store.Placeholders(len(q.SenderIDs)) + `)`)
		for _, id := range q.SenderIDs {
			args = append(args, id)
		}
	}
	if q.Since != nil {
		b.WriteString(` AND m.created_at >= ?`)
		args = append(args, store.Micros(*q.Since))
	}
	if q.Until != nil {
		b.WriteString(` AND m.created_at < ?`)
		args = append(args, store.Micros(*q.Until))
	}
	if q.CursorID != "" {
		at := store.Micros(q.CursorAt)
		b.WriteString(` AND (m.created_at < ? OR (m.created_at = ? AND m.id < ?))`)
		args = append(args, at, at, q.CursorID)
	}
	b.WriteString(` ORDER BY m.created_at DESC, m.id DESC LIMIT ?`)
	args = append(args, q.Limit)
	rows, err := r.c.Query(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return store.Collect(rows, "search", func(s store.Scanner) (*unhidra.Message, error) { return scanMessage(s) })
}
