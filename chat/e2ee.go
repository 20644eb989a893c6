package chat

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/wire"
)

// Disappearing messages and encrypted reactions.
//
// A channel's timer (disappear_after_s, 0 for off) is set by its
// moderators and up, or by any member of a direct channel. A message sent
// while it is set gets expires_at = created_at + timer, which later changes
// of the timer do not move (as the sender's clients showed it). Every node
// runs SweepDisappearing every few seconds: each due message is deleted as
// a member's delete does (deleteMessage: the row's content, edit history,
// reactions, encrypted reactions, the reaction events' content and the
// search index go; live sockets get message_deleted), a bounded batch per
// transaction, each message rechecked under the channel lock, so that two
// nodes sweeping at once delete each message once. Legal holds suspend it
// as they suspend retention. It works in standard channels too.

const (
	// MaxDisappearS is the longest timer: a year.
	MaxDisappearS = 365 * 24 * 3600
	// DisappearBatch is how many due messages one sweep transaction
	// deletes.
	DisappearBatch = RetentionBatch
)

// DueMessage is a disappearing message whose time has come.
type DueMessage struct {
	ID, ChannelID string
}

// SetDisappear sets a channel's disappearing-messages timer in seconds (0:
// off). It applies to messages sent from now on. It emits channel_updated
// and is audited when it changes.
func (s *Service) SetDisappear(ctx context.Context, channelID string, seconds int) (*unhidra.Channel, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := unhidra.CheckID("channel id", channelID); err != nil {
		return nil, err
	}
	if seconds < 0 || seconds > MaxDisappearS {
		return nil, unhidra.Errorf(unhidra.EInvalid, "disappear_after_s must be from 0 (off) to %d (a year)", MaxDisappearS)
	}
	err = s.inChannel(ctx, "set_disappear", channelID, func(c *change) error {
		a, err := s.load(ctx, c.tx, c.tx, p, channelID)
		if err != nil {
			return err
		}
		if err := a.need(actDisappear); err != nil {
			return err
		}
		if a.ch.DisappearAfterS == seconds {
			return nil
		}
		if err := c.tx.SetDisappear(ctx, channelID, seconds, c.now); err != nil {
			return err
		}
		ch := a.ch
		ch.DisappearAfterS, ch.UpdatedAt = seconds, c.now
		if err := c.audit(ctx, audit.ActionChannelSetting, "channel", channelID,
			map[string]string{"disappear_after_s": strconv.Itoa(seconds)}); err != nil {
			return err
		}
		_, err = c.emitChannel(ctx, ch)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.GetChannel(ctx, channelID)
}

// SweepDisappearing deletes every disappearing message due at now,
// DisappearBatch per transaction, and returns how many it deleted. It is
// the server's own work, run without a caller; it stops early when ctx
// ends.
func (s *Service) SweepDisappearing(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		due, err := s.store.DueMessages(ctx, "", now, DisappearBatch)
		if err != nil {
			return total, fmt.Errorf("disappearing messages: %w", err)
		}
		if len(due) == 0 {
			break
		}
		seen := map[string]bool{}
		progress := 0
		for _, d := range due {
			if seen[d.ChannelID] {
				continue
			}
			seen[d.ChannelID] = true
			n, err := s.disappearBatch(ctx, d.ChannelID, now)
			total += n
			progress += n
			if err != nil {
				return total, fmt.Errorf("disappearing messages of channel %s: %w", d.ChannelID, err)
			}
		}
		if progress == 0 || len(due) < DisappearBatch {
			// All done (or left to a legal hold placed meanwhile, or
			// deleted by another node first).
			break
		}
	}
	if total > 0 {
		s.log.Info("disappearing messages deleted", slog.Int("messages", total))
	}
	return total, nil
}

// disappearBatch deletes up to DisappearBatch due messages of one channel
// in one transaction, reading them again under the channel lock.
func (s *Service) disappearBatch(ctx context.Context, channelID string, now time.Time) (int, error) {
	n := 0
	err := s.inChannel(ctx, "disappear", channelID, func(c *change) error {
		n = 0
		due, err := c.tx.DueMessages(ctx, channelID, now, DisappearBatch)
		if err != nil {
			return err
		}
		for _, d := range due {
			m, err := c.tx.Message(ctx, d.ID)
			if err != nil {
				return err
			}
			if err := s.deleteMessage(ctx, c, m); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// ReactEncrypted adds the caller's reaction to a message of an encrypted
// channel: the emoji is inside ciphertext (an envelope from the caller).
// Each call adds one reaction with a new id; the clients decide what two
// reactions with the same emoji mean. It emits a reaction event, which is
// not a message and never counts as unread.
func (s *Service) ReactEncrypted(ctx context.Context, messageID, ciphertext string) (*unhidra.EncryptedReaction, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var er *unhidra.EncryptedReaction
	err = s.inMessage(ctx, "react", p, messageID, func(c *change, m *unhidra.Message, a *access) error {
		if err := a.need(actPost); err != nil {
			return err
		}
		if !a.ch.Encrypted {
			return unhidra.Errorf(unhidra.EInvalid, "this channel is not encrypted: react with an emoji (PUT /messages/{id}/reactions/{emoji})")
		}
		if m.Deleted {
			return unhidra.Errorf(unhidra.EConflict, "the message was deleted")
		}
		if err := checkCiphertext(ciphertext, p.UserID); err != nil {
			return err
		}
		er = &unhidra.EncryptedReaction{ID: newID(), MessageID: m.ID, UserID: p.UserID, Ciphertext: ciphertext, CreatedAt: c.now}
		seq, err := c.emit(ctx, wire.Event{Type: wire.TypeReaction, MessageID: m.ID, UserID: p.UserID}, func(seq int64) any {
			return wire.Reaction{Type: wire.TypeReaction, ChannelID: m.ChannelID, MessageID: m.ID, ReactionID: er.ID,
				Ciphertext: ciphertext, UserID: p.UserID, Added: true, Seq: seq}
		})
		if err != nil {
			return err
		}
		return c.tx.AddEncryptedReaction(ctx, m.ChannelID, er, seq)
	})
	if err != nil {
		return nil, err
	}
	return er, nil
}

// UnreactEncrypted removes one of the caller's encrypted reactions: the row
// and the ciphertext in the event that added it go, and a reaction event
// with added false says which. Removing one already gone is not an error.
func (s *Service) UnreactEncrypted(ctx context.Context, reactionID string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if err := unhidra.CheckID("reaction id", reactionID); err != nil {
		return err
	}
	done := s.observe("encrypted_reaction")
	er, _, err := s.store.EncryptedReaction(ctx, reactionID)
	done()
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil
	} else if err != nil {
		return err
	}
	return s.inMessage(ctx, "unreact", p, er.MessageID, func(c *change, m *unhidra.Message, a *access) error {
		er, _, err := c.tx.EncryptedReaction(ctx, reactionID)
		if unhidra.ErrorCode(err) == unhidra.ENotFound {
			return nil
		} else if err != nil {
			return err
		}
		if er.UserID != p.UserID {
			return unhidra.Errorf(unhidra.EPermission, "only the member who reacted may remove a reaction")
		}
		if err := a.need(actPost); err != nil {
			return err
		}
		removed, err := c.tx.RemoveEncryptedReaction(ctx, reactionID)
		if err != nil || !removed {
			return err
		}
		_, err = c.emit(ctx, wire.Event{Type: wire.TypeReaction, MessageID: m.ID, UserID: p.UserID}, func(seq int64) any {
			return wire.Reaction{Type: wire.TypeReaction, ChannelID: m.ChannelID, MessageID: m.ID, ReactionID: reactionID,
				UserID: p.UserID, Added: false, Seq: seq}
		})
		return err
	})
}

// withEncryptedReactions fills the encrypted reactions of the messages of
// encrypted channels among ms (those with ciphertext).
func (s *Service) withEncryptedReactions(ctx context.Context, ms ...*unhidra.Message) error {
	var ids []string
	for _, m := range ms {
		if m.Ciphertext != "" {
			ids = append(ids, m.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	done := s.observe("encrypted_reactions")
	rs, err := s.store.EncryptedReactions(ctx, ids)
	done()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.Ciphertext != "" {
			m.EncryptedReactions = rs[m.ID]
			if m.EncryptedReactions == nil {
				m.EncryptedReactions = []unhidra.EncryptedReaction{}
			}
		}
	}
	return nil
}
