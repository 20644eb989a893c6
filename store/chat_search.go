package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/chat"
)

// Search runs a full-text search. The query is written once; only the
// full-text match differs between the engines: an FTS5 MATCH on SQLite, a
// tsvector @@ tsquery on PostgreSQL. Every term is matched as a phrase of
// whole tokens (no stemming on either engine), and every term must match.
// Results are newest first; the cursor is the (created_at, id) of the last
// hit of the previous page.
func (r chatConn) Search(ctx context.Context, q chat.SearchQuery) ([]*unhidra.Message, error) {
	var b strings.Builder
	args := []any{q.UserID}
	b.WriteString(`SELECT ` + messageColumns + ` FROM messages m
		JOIN channel_members cm ON cm.channel_id = m.channel_id AND cm.user_id = ?
		JOIN channels c ON c.id = m.channel_id`)
	sqlite := r.c.d.name == EngineSQLite
	if len(q.Terms) > 0 && sqlite {
		b.WriteString(` JOIN messages_fts ON messages_fts.rowid = m.pk`)
	}
	b.WriteString(` WHERE c.encrypted = ? AND m.deleted_at IS NULL`)
	args = append(args, false)
	if len(q.Terms) > 0 {
		if sqlite {
			// An FTS5 string ("…") is tokenized like the indexed text and
			// matched as a phrase; a double quote inside it is doubled.
			parts := make([]string, len(q.Terms))
			for i, t := range q.Terms {
				parts[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
			}
			b.WriteString(` AND messages_fts MATCH ?`)
			args = append(args, strings.Join(parts, " AND "))
		} else {
			parts := make([]string, len(q.Terms))
			for i, t := range q.Terms {
				parts[i] = `phraseto_tsquery('simple', ?)`
				args = append(args, t)
			}
			b.WriteString(` AND m.body_tsv @@ (` + strings.Join(parts, " && ") + `)`)
		}
	}
	if len(q.ChannelIDs) > 0 {
		b.WriteString(` AND m.channel_id IN (` + placeholders(len(q.ChannelIDs)) + `)`)
		for _, id := range q.ChannelIDs {
			args = append(args, id)
		}
	}
	if len(q.SenderIDs) > 0 {
		b.WriteString(` AND m.sender_id IN (` + placeholders(len(q.SenderIDs)) + `)`)
		for _, id := range q.SenderIDs {
			args = append(args, id)
		}
	}
	if q.Since != nil {
		b.WriteString(` AND m.created_at >= ?`)
		args = append(args, dbTime(*q.Since))
	}
	if q.Until != nil {
		b.WriteString(` AND m.created_at < ?`)
		args = append(args, dbTime(*q.Until))
	}
	if q.CursorID != "" {
		at := dbTime(q.CursorAt)
		b.WriteString(` AND (m.created_at < ? OR (m.created_at = ? AND m.id < ?))`)
		args = append(args, at, at, q.CursorID)
	}
	b.WriteString(` ORDER BY m.created_at DESC, m.id DESC LIMIT ?`)
	args = append(args, q.Limit)
	rows, err := r.c.query(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return collect(rows, "search", func(s scanner) (*unhidra.Message, error) { return scanMessage(s) })
}
