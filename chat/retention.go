package chat

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
)

// Retention. The server keeps messages forever unless --retention-days (the
// default for every channel) or a channel's own retention says otherwise;
// a sweep, run periodically by every node, deletes each expired message as
// a member's delete does (deleteMessage: the content leaves the row, the
// search index, the edit history and the reactions; live sockets get the
// message_deleted), a bounded batch per transaction. Legal holds suspend it:
// a hold on a channel keeps all its messages, one on a user every message
// they sent. Several nodes sweeping at once do no harm: a message already
// deleted is skipped.

// Legal hold kinds.
const (
	HoldUser    = "user"
	HoldChannel = "channel"
)

// Bounds on what an admin may set.
const (
	MaxRetentionDays = 36500 // a hundred years
	MaxHoldReason    = 500
	// RetentionBatch is how many messages one transaction deletes.
	RetentionBatch = 200
	// MaxComplianceSpan bounds one export's date range.
	MaxComplianceSpan = 366 * 24 * time.Hour
)

// Hold is a legal hold on a user or a channel.
type Hold struct {
	Kind      string    `json:"kind" doc:"user or channel"`
	TargetID  string    `json:"target_id"`
	Reason    string    `json:"reason"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// RetentionTarget is a channel whose messages expire after Days.
type RetentionTarget struct {
	ChannelID string
	Days      int
}

// ComplianceQuery selects the messages of a compliance export.
type ComplianceQuery struct {
	From, To  time.Time
	ChannelID string // "" for every standard channel
	// After is the (created_at, id) of the last record of the previous
	// page; zero for the first.
	AfterTime time.Time
	AfterID   string
	Limit     int
}

// ComplianceRecord is one exported message.
type ComplianceRecord struct {
	Message     *unhidra.Message
	ChannelName string
}

// adminEvent is the audit event of an admin's action.
func (s *Service) adminEvent(ctx context.Context, action, targetType, targetID string, meta map[string]string) *audit.Event {
	e := &audit.Event{Action: action, ActorType: audit.ActorSystem, TargetType: targetType, TargetID: targetID,
		IP: audit.CleanIP(audit.ClientIP(ctx)), Metadata: meta, Time: s.now().UTC()}
	if p := unhidra.PrincipalFromContext(ctx); p != nil {
		e.ActorType, e.ActorID = audit.ActorUser, p.UserID
	}
	return e
}

// requireAdmin returns the caller if they are a system admin.
func requireAdmin(ctx context.Context) (*unhidra.Principal, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if p.Role != unhidra.RoleAdmin {
		return nil, unhidra.Errorf(unhidra.EPermission, "only admins may do this")
	}
	return p, nil
}

// serverRetention is the server's retention in force, in days.
func (s *Service) serverRetention() int {
	if s.liveRetentionDays != nil {
		return s.liveRetentionDays()
	}
	return s.retentionDays
}

// SetChannelRetention sets how many days a channel keeps its messages: nil
// for the server's default, 0 for forever (admins only).
func (s *Service) SetChannelRetention(ctx context.Context, channelID string, days *int) error {
	if _, err := requireAdmin(ctx); err != nil {
		return err
	}
	if err := unhidra.CheckID("channel id", channelID); err != nil {
		return err
	}
	if days != nil && (*days < 0 || *days > MaxRetentionDays) {
		return unhidra.Errorf(unhidra.EInvalid, "days must be from 0 (keep forever) to %d", MaxRetentionDays)
	}
	return s.store.Tx(ctx, func(tx Tx) error {
		if err := tx.SetRetention(ctx, channelID, days); err != nil {
			return err
		}
		v := "server"
		if days != nil {
			v = strconv.Itoa(*days)
		}
		return tx.Audit(ctx, s.adminEvent(ctx, audit.ActionRetentionSet, "channel", channelID, map[string]string{"days": v}))
	})
}

// ChannelRetention returns a channel's own retention (nil: the server's)
// and the server's default (admins only).
func (s *Service) ChannelRetention(ctx context.Context, channelID string) (own *int, serverDays int, err error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, 0, err
	}
	if err := unhidra.CheckID("channel id", channelID); err != nil {
		return nil, 0, err
	}
	own, err = s.store.ChannelRetention(ctx, channelID)
	return own, s.serverRetention(), err
}

// Holds lists the legal holds (admins only).
func (s *Service) Holds(ctx context.Context) ([]Hold, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	hs, err := s.store.Holds(ctx)
	if hs == nil && err == nil {
		hs = []Hold{}
	}
	return hs, err
}

// PlaceHold puts a user or a channel on legal hold (admins only): retention
// deletes none of their messages until the hold is released.
func (s *Service) PlaceHold(ctx context.Context, kind, targetID, reason string) (*Hold, error) {
	p, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkHoldTarget(kind, targetID); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if err := unhidra.CheckText("reason", reason, MaxHoldReason); err != nil {
		return nil, err
	}
	h := Hold{Kind: kind, TargetID: targetID, Reason: reason, CreatedBy: p.UserID, CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	if err := s.store.Tx(ctx, func(tx Tx) error {
		switch kind {
		case HoldUser:
			if _, err := s.store.UserByID(ctx, targetID); err != nil {
				return err
			}
		case HoldChannel:
			if _, err := tx.Channel(ctx, targetID); err != nil {
				return err
			}
		}
		if err := tx.PutHold(ctx, h); err != nil {
			return err
		}
		return tx.Audit(ctx, s.adminEvent(ctx, audit.ActionHoldPlace, kind, targetID, nil))
	}); err != nil {
		return nil, err
	}
	return &h, nil
}

// ReleaseHold ends a legal hold (admins only); ENotFound if there is none.
func (s *Service) ReleaseHold(ctx context.Context, kind, targetID string) error {
	if _, err := requireAdmin(ctx); err != nil {
		return err
	}
	if err := checkHoldTarget(kind, targetID); err != nil {
		return err
	}
	return s.store.Tx(ctx, func(tx Tx) error {
		ok, err := tx.DeleteHold(ctx, kind, targetID)
		if err == nil && !ok {
			err = unhidra.Errorf(unhidra.ENotFound, "no legal hold on that %s", kind)
		}
		if err != nil {
			return err
		}
		return tx.Audit(ctx, s.adminEvent(ctx, audit.ActionHoldRelease, kind, targetID, nil))
	})
}

func checkHoldTarget(kind, targetID string) error {
	if kind != HoldUser && kind != HoldChannel {
		return unhidra.Errorf(unhidra.EInvalid, "a hold is on a user or a channel")
	}
	return unhidra.CheckID(kind+" id", targetID)
}

// SweepRetention deletes every expired message at now, channel by channel,
// RetentionBatch messages per transaction, and returns how many it
// deleted. It is the server's own work, run without a caller; it stops
// early when ctx ends.
func (s *Service) SweepRetention(ctx context.Context, now time.Time) (int, error) {
	targets, err := s.store.RetentionTargets(ctx, s.serverRetention())
	if err != nil {
		return 0, fmt.Errorf("retention: %w", err)
	}
	total := 0
	for _, t := range targets {
		before := now.Add(-time.Duration(t.Days) * 24 * time.Hour)
		for {
			if err := ctx.Err(); err != nil {
				return total, err
			}
			n, err := s.sweepBatch(ctx, t.ChannelID, before)
			total += n
			if err != nil {
				return total, fmt.Errorf("retention of channel %s: %w", t.ChannelID, err)
			}
			if n < RetentionBatch {
				break
			}
		}
	}
	if total > 0 {
		s.log.Info("retention deleted messages", slog.Int("messages", total), slog.Int("channels", len(targets)))
	}
	return total, nil
}

// sweepBatch deletes up to RetentionBatch expired messages of one channel
// in one transaction, rechecking each (and the holds) inside it.
func (s *Service) sweepBatch(ctx context.Context, channelID string, before time.Time) (int, error) {
	ids, err := s.store.ExpiredMessageIDs(ctx, channelID, before, RetentionBatch)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	n := 0
	err = s.inChannel(ctx, "retention", channelID, func(c *change) error {
		n = 0
		// Read again under the channel lock: a hold placed meanwhile, or
		// a member's own delete, wins.
		still, err := c.tx.ExpiredMessageIDs(ctx, channelID, before, RetentionBatch)
		if err != nil {
			return err
		}
		for _, id := range still {
			m, err := c.tx.Message(ctx, id)
			if err != nil {
				return err
			}
			if err := s.deleteMessage(ctx, c, m); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return nil
		}
		// One entry per batch: the channel and how many, never what.
		return c.audit(ctx, audit.ActionRetention, "channel", channelID, map[string]string{"messages": strconv.Itoa(n)})
	})
	return n, err
}

// ComplianceExport streams the messages of standard channels created in
// [from, to) to each, in (created_at, id) order (admins only). End-to-end
// encrypted channels are left out: the server holds only their ciphertext.
func (s *Service) ComplianceExport(ctx context.Context, from, to time.Time, channelID string, each func(ComplianceRecord) error) error {
	if _, err := requireAdmin(ctx); err != nil {
		return err
	}
	if from.IsZero() || to.IsZero() || !from.Before(to) {
		return unhidra.Errorf(unhidra.EInvalid, "from must be before to")
	}
	if to.Sub(from) > MaxComplianceSpan {
		return unhidra.Errorf(unhidra.EInvalid, "one export covers at most 366 days; export longer periods in parts")
	}
	if channelID != "" {
		if err := unhidra.CheckID("channel id", channelID); err != nil {
			return err
		}
	}
	q := ComplianceQuery{From: from, To: to, ChannelID: channelID, Limit: 500}
	for {
		recs, err := s.store.ComplianceMessages(ctx, q)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := each(r); err != nil {
				return err
			}
		}
		if len(recs) < q.Limit {
			return nil
		}
		last := recs[len(recs)-1].Message
		q.AfterTime, q.AfterID = last.CreatedAt, last.ID
	}
}
