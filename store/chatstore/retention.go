package chatstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/unhidra/unhidra/chat"
	"github.com/unhidra/unhidra/store"
)

func (r reader) RetentionTargets(ctx context.Context, defaultDays int) ([]chat.RetentionTarget, error) {
	rows, err := r.c.Query(ctx, `SELECT c.id, COALESCE(c.retention_days, ?) FROM channels c
		WHERE COALESCE(c.retention_days, ?) > 0
		AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.kind = 'channel' AND h.target_id = c.id)
		ORDER BY c.id`, defaultDays, defaultDays)
	if err != nil {
		return nil, fmt.Errorf("retention targets: %w", err)
	}
	return store.Collect(rows, "retention targets", func(s store.Scanner) (chat.RetentionTarget, error) {
		var t chat.RetentionTarget
		err := s.Scan(&t.ChannelID, &t.Days)
		return t, err
	})
}

func (r reader) ExpiredMessageIDs(ctx context.Context, channelID string, before time.Time, limit int) ([]string, error) {
	rows, err := r.c.Query(ctx, `SELECT m.id FROM messages m
		WHERE m.channel_id = ? AND m.deleted_at IS NULL AND m.created_at < ?
		AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.kind = 'user' AND h.target_id = m.sender_id)
		AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.kind = 'channel' AND h.target_id = m.channel_id)
		ORDER BY m.created_at, m.id LIMIT ?`, channelID, store.Micros(before), limit)
	if err != nil {
		return nil, fmt.Errorf("expired messages: %w", err)
	}
	return store.Collect(rows, "expired messages", func(s store.Scanner) (string, error) {
		var id string
		err := s.Scan(&id)
		return id, err
	})
}

func (r reader) ChannelRetention(ctx context.Context, channelID string) (*int, error) {
	var days sql.NullInt64
	err := r.c.QueryRow(ctx, `SELECT retention_days FROM channels WHERE id = ?`, channelID).Scan(&days)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.NotFound("channel")
	} else if err != nil {
		return nil, fmt.Errorf("channel retention: %w", err)
	}
	if !days.Valid {
		return nil, nil
	}
	d := int(days.Int64)
	return &d, nil
}

func (r reader) Holds(ctx context.Context) ([]chat.Hold, error) {
	rows, err := r.c.Query(ctx, `SELECT kind, target_id, reason, created_by, created_at FROM legal_holds ORDER BY kind, target_id`)
	if err != nil {
		return nil, fmt.Errorf("legal holds: %w", err)
	}
	return store.Collect(rows, "legal holds", func(s store.Scanner) (chat.Hold, error) {
		var h chat.Hold
		var at int64
		err := s.Scan(&h.Kind, &h.TargetID, &h.Reason, &h.CreatedBy, &at)
		h.CreatedAt = store.Time(at)
		return h, err
	})
}

func (r reader) ComplianceMessages(ctx context.Context, q chat.ComplianceQuery) ([]chat.ComplianceRecord, error) {
	args := []any{false, store.Micros(q.From), store.Micros(q.To)}
	where := ""
	if q.ChannelID != "" {
		where += ` AND m.channel_id = ?`
		args = append(args, q.ChannelID)
	}
	if q.AfterID != "" {
		at := store.Micros(q.AfterTime)
		where += ` AND (m.created_at > ? OR (m.created_at = ? AND m.id > ?))`
		args = append(args, at, at, q.AfterID)
	}
	args = append(args, q.Limit)
	rows, err := r.c.Query(ctx, `SELECT `+messageColumns+`, c.name FROM messages m JOIN channels c ON c.id = m.channel_id
		WHERE c.encrypted = ? AND m.deleted_at IS NULL AND m.created_at >= ? AND m.created_at < ?`+where+`
		ORDER BY m.created_at, m.id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("compliance export: %w", err)
	}
	return store.Collect(rows, "compliance export", func(s store.Scanner) (chat.ComplianceRecord, error) {
		var rec chat.ComplianceRecord
		m, err := scanMessage(s, &rec.ChannelName)
		rec.Message = m
		return rec, err
	})
}

func (t tx) SetRetention(ctx context.Context, channelID string, days *int) error {
	var v any
	if days != nil {
		v = *days
	}
	n, err := t.c.ExecN(ctx, `UPDATE channels SET retention_days = ? WHERE id = ?`, v, channelID)
	if err != nil {
		return fmt.Errorf("set retention: %w", err)
	}
	if n == 0 {
		return store.NotFound("channel")
	}
	return nil
}

func (t tx) PutHold(ctx context.Context, h chat.Hold) error {
	if _, err := t.c.Exec(ctx, `INSERT INTO legal_holds (kind, target_id, reason, created_by, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (kind, target_id) DO UPDATE SET reason = excluded.reason`,
		h.Kind, h.TargetID, h.Reason, h.CreatedBy, store.Micros(h.CreatedAt)); err != nil {
		return fmt.Errorf("place hold: %w", err)
	}
	return nil
}

func (t tx) DeleteHold(ctx context.Context, kind, targetID string) (bool, error) {
	n, err := t.c.ExecN(ctx, `DELETE FROM legal_holds WHERE kind = ? AND target_id = ?`, kind, targetID)
	if err != nil {
		return false, fmt.Errorf("release hold: %w", err)
	}
	return n > 0, nil
}

func (r reader) SharesChannel(ctx context.Context, userA, userB string) (bool, error) {
	var one int
	err := r.c.QueryRow(ctx, `SELECT 1 FROM channel_members a
		JOIN channel_members b ON b.channel_id = a.channel_id AND b.user_id = ?
		JOIN channels c ON c.id = a.channel_id AND c.kind <> 'direct'
		WHERE a.user_id = ? LIMIT 1`, userB, userA).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("shares channel: %w", err)
	}
	return true, nil
}
