package chatstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/chat"
	"github.com/unhidra/unhidra/store"
)

// What deleting an account reads and writes in the channels
// (chat.Service.PurgeUser), and the admins' list of channels.
//
// A user's messages are found by sender_id alone: user and device ids are
// both UUIDv7s, so no device shares an id with a user, and the partial
// indexes of migration 0004 (live messages by sender) then serve every
// query here without reading the rows.

func (r reader) CountUserMessages(ctx context.Context, userID string) (int, error) {
	var n int
	if err := r.c.QueryRow(ctx, `SELECT COUNT(*) FROM messages WHERE sender_id = ? AND deleted_at IS NULL`, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count user messages: %w", err)
	}
	return n, nil
}

func (r reader) UserMessageChannels(ctx context.Context, userID string) ([]string, error) {
	rows, err := r.c.Query(ctx, `SELECT DISTINCT channel_id FROM messages WHERE sender_id = ? AND deleted_at IS NULL ORDER BY channel_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("user message channels: %w", err)
	}
	return store.Collect(rows, "user message channels", scanString)
}

func (r reader) ErasableMessageIDs(ctx context.Context, channelID, userID string, limit int) ([]string, error) {
	rows, err := r.c.Query(ctx, `SELECT m.id FROM messages m
		WHERE m.channel_id = ? AND m.sender_id = ? AND m.deleted_at IS NULL
		AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.kind = 'user' AND h.target_id = m.sender_id)
		AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.kind = 'channel' AND h.target_id = m.channel_id)
		ORDER BY m.created_at, m.id LIMIT ?`, channelID, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("erasable messages: %w", err)
	}
	return store.Collect(rows, "erasable messages", scanString)
}

func (r reader) ErasureHolds(ctx context.Context, userID string) (bool, []string, error) {
	var n int
	if err := r.c.QueryRow(ctx, `SELECT COUNT(*) FROM legal_holds WHERE kind = 'user' AND target_id = ?`, userID).Scan(&n); err != nil {
		return false, nil, fmt.Errorf("erasure holds: %w", err)
	}
	rows, err := r.c.Query(ctx, `SELECT h.target_id FROM legal_holds h WHERE h.kind = 'channel'
		AND EXISTS (SELECT 1 FROM messages m WHERE m.channel_id = h.target_id AND m.sender_id = ? AND m.deleted_at IS NULL)
		ORDER BY h.target_id`, userID)
	if err != nil {
		return false, nil, fmt.Errorf("erasure holds: %w", err)
	}
	chs, err := store.Collect(rows, "erasure holds", scanString)
	return n > 0, chs, err
}

func (r reader) UserReactions(ctx context.Context, userID string, limit int) ([]chat.UserReaction, error) {
	// Standard reactions (by emoji) and encrypted ones (by id), grouped by
	// channel.
	rows, err := r.c.Query(ctx, `SELECT channel_id, message_id, emoji, reaction_id FROM (
		SELECT m.channel_id, r.message_id, r.emoji, '' AS reaction_id FROM reactions r JOIN messages m ON m.id = r.message_id
		WHERE r.user_id = ?
		AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.kind = 'user' AND h.target_id = r.user_id)
		AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.kind = 'channel' AND h.target_id = m.channel_id)
		UNION ALL
		SELECT e.channel_id, e.message_id, '' AS emoji, e.id AS reaction_id FROM encrypted_reactions e
		WHERE e.user_id = ?
		AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.kind = 'user' AND h.target_id = e.user_id)
		AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.kind = 'channel' AND h.target_id = e.channel_id)
	) x ORDER BY channel_id, message_id, emoji, reaction_id LIMIT ?`, userID, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("user reactions: %w", err)
	}
	return store.Collect(rows, "user reactions", func(s store.Scanner) (chat.UserReaction, error) {
		var x chat.UserReaction
		err := s.Scan(&x.ChannelID, &x.MessageID, &x.Emoji, &x.ReactionID)
		return x, err
	})
}

func (t tx) ForgetUser(ctx context.Context, userID string) error {
	for _, q := range []string{
		`DELETE FROM thread_follows WHERE user_id = ?`,
		`DELETE FROM mentions WHERE user_id = ?`,
	} {
		if _, err := t.c.Exec(ctx, q, userID); err != nil {
			return fmt.Errorf("forget user: %w", err)
		}
	}
	return nil
}

func (r reader) AdminChannels(ctx context.Context, q, afterName, afterID string, limit int) ([]*chat.AdminChannel, error) {
	// The counts are per row of the page: a member count is a range of
	// channel_members' primary key, the last event one seek at the end of
	// channel_events' (channel_id, seq).
	rows, err := r.c.Query(ctx, `SELECT `+channelColumns+`,
			(SELECT COUNT(*) FROM channel_members cm WHERE cm.channel_id = c.id),
			(SELECT e.created_at FROM channel_events e WHERE e.channel_id = c.id ORDER BY e.seq DESC LIMIT 1)
		FROM channels c
		WHERE c.kind IN (?, ?) AND c.name_lower LIKE ? ESCAPE '\'
		AND (c.name_lower > ? OR (c.name_lower = ? AND c.id > ?))
		ORDER BY c.name_lower, c.id LIMIT ?`,
		unhidra.ChannelPublic, unhidra.ChannelPrivate, "%"+store.EscapeLike(store.Fold(q))+"%",
		afterName, afterName, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("admin channels: %w", err)
	}
	return store.Collect(rows, "admin channels", func(s store.Scanner) (*chat.AdminChannel, error) {
		var members int
		var last sql.NullInt64
		ch, err := scanChannel(s, &members, &last)
		if err != nil {
			return nil, err
		}
		return &chat.AdminChannel{ID: ch.ID, Name: ch.Name, Kind: ch.Kind, Encrypted: ch.Encrypted, Archived: ch.Archived,
			ArchivedAt: ch.ArchivedAt, CreatedBy: ch.CreatedBy, CreatedAt: ch.CreatedAt, LastSeq: ch.LastSeq,
			MemberCount: members, LastActivityAt: store.TimePtr(last)}, nil
	})
}

func (r reader) CountDirectChannels(ctx context.Context) (int, error) {
	var n int
	if err := r.c.QueryRow(ctx, `SELECT COUNT(*) FROM channels WHERE kind = ?`, unhidra.ChannelDirect).Scan(&n); err != nil {
		return 0, fmt.Errorf("count direct channels: %w", err)
	}
	return n, nil
}

func scanString(s store.Scanner) (string, error) {
	var v string
	return v, s.Scan(&v)
}
