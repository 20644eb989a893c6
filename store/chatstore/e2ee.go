package chatstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/chat"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/wire"
)

// Encrypted channels: disappearing messages and encrypted reactions.

func (r reader) DueMessages(ctx context.Context, channelID string, now time.Time, limit int) ([]chat.DueMessage, error) {
	rows, err := r.c.Query(ctx, `SELECT m.id, m.channel_id FROM messages m
		WHERE m.expires_at IS NOT NULL AND m.deleted_at IS NULL AND m.expires_at <= ? AND (? = '' OR m.channel_id = ?)
		AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.kind = 'user' AND h.target_id = m.sender_id)
		AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.kind = 'channel' AND h.target_id = m.channel_id)
		ORDER BY m.expires_at, m.id LIMIT ?`, store.Micros(now), channelID, channelID, limit)
	if err != nil {
		return nil, fmt.Errorf("due messages: %w", err)
	}
	return store.Collect(rows, "due messages", func(s store.Scanner) (chat.DueMessage, error) {
		var d chat.DueMessage
		err := s.Scan(&d.ID, &d.ChannelID)
		return d, err
	})
}

func (r reader) EncryptedReactions(ctx context.Context, ids []string) (map[string][]unhidra.EncryptedReaction, error) {
	out := map[string][]unhidra.EncryptedReaction{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := r.c.Query(ctx, `SELECT id, message_id, user_id, ciphertext, created_at FROM encrypted_reactions
		WHERE message_id IN (`+store.Placeholders(len(ids))+`) ORDER BY message_id, created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("encrypted reactions: %w", err)
	}
	rs, err := store.Collect(rows, "encrypted reactions", scanEncryptedReaction)
	for _, er := range rs {
		out[er.MessageID] = append(out[er.MessageID], er)
	}
	return out, err
}

func scanEncryptedReaction(s store.Scanner) (unhidra.EncryptedReaction, error) {
	var er unhidra.EncryptedReaction
	var at int64
	err := s.Scan(&er.ID, &er.MessageID, &er.UserID, &er.Ciphertext, &at)
	er.CreatedAt = store.Time(at)
	return er, err
}

func (r reader) EncryptedReaction(ctx context.Context, id string) (*unhidra.EncryptedReaction, string, error) {
	var channelID string
	var at int64
	var er unhidra.EncryptedReaction
	err := r.c.QueryRow(ctx, `SELECT id, message_id, user_id, ciphertext, created_at, channel_id FROM encrypted_reactions WHERE id = ?`, id).
		Scan(&er.ID, &er.MessageID, &er.UserID, &er.Ciphertext, &at, &channelID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", store.NotFound("reaction")
	} else if err != nil {
		return nil, "", fmt.Errorf("encrypted reaction: %w", err)
	}
	er.CreatedAt = store.Time(at)
	return &er, channelID, nil
}

func (t tx) SetDisappear(ctx context.Context, channelID string, seconds int, at time.Time) error {
	n, err := t.c.ExecN(ctx, `UPDATE channels SET disappear_after_s = ?, updated_at = ? WHERE id = ?`, seconds, store.Micros(at), channelID)
	if err != nil {
		return fmt.Errorf("set disappearing timer: %w", err)
	}
	if n == 0 {
		return store.NotFound("channel")
	}
	return nil
}

func (t tx) AddEncryptedReaction(ctx context.Context, channelID string, er *unhidra.EncryptedReaction, seq int64) error {
	_, err := t.c.Exec(ctx, `INSERT INTO encrypted_reactions (id, message_id, channel_id, user_id, ciphertext, seq, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, er.ID, er.MessageID, channelID, er.UserID, er.Ciphertext, seq, store.Micros(er.CreatedAt))
	if err != nil {
		return fmt.Errorf("add encrypted reaction: %w", err)
	}
	return nil
}

// RemoveEncryptedReaction deletes the row and redacts the event that added
// it, so that its ciphertext is nowhere on the server.
func (t tx) RemoveEncryptedReaction(ctx context.Context, id string) (bool, error) {
	var channelID, messageID, userID string
	var seq int64
	err := t.c.QueryRow(ctx, `DELETE FROM encrypted_reactions WHERE id = ? RETURNING channel_id, message_id, user_id, seq`, id).
		Scan(&channelID, &messageID, &userID, &seq)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("remove encrypted reaction: %w", err)
	}
	frame := wire.Encode(wire.Reaction{Type: wire.TypeReaction, ChannelID: channelID, MessageID: messageID,
		ReactionID: id, UserID: userID, Added: true, Seq: seq})
	if _, err := t.c.Exec(ctx, `UPDATE channel_events SET frame = ? WHERE channel_id = ? AND seq = ?`, string(frame), channelID, seq); err != nil {
		return false, fmt.Errorf("remove encrypted reaction: %w", err)
	}
	t.c.Erased()
	return true, nil
}
