package chat

import (
	"cmp"
	"context"
	"slices"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/wire"
)

// Deleting an account: the chat service's part of
// auth.Service.AdminDeleteUser. The account service authorizes the
// deletion and turns the account into its tombstone first; then PurgeUser
// takes the user out of every channel and, to erase, deletes every message
// they sent, exactly as a delete does (deleteMessage: the content leaves
// the row, the search index, the edit history, the reactions and every
// replay of the event log; live sockets get message_deleted), a bounded
// batch per transaction, so that a user with a hundred thousand messages
// holds no lock for long. Every step can run again: a membership already
// gone, a message already deleted is skipped, so a purge cut short (a
// crash, a deadline) is finished by running it again, and two nodes
// running it at once do no harm.
//
// Legal holds win: a hold on the user, or on a channel, keeps their
// messages there (and their reactions) until it is released. CheckErasable
// refuses an erase while one is in place; a hold placed during an erase
// stops it, and PurgeUser reports the purge unfinished.

// PurgeBatch is how many messages, or reactions, one transaction of an
// erase deletes. A batch holds the channel (its lock, and on PostgreSQL its
// row) while it runs: 100 keep a send to that channel from waiting more
// than about a tenth of a second on SQLite, a few tenths on PostgreSQL
// (TestEraseLargeUser), at a small cost in throughput.
const PurgeBatch = 100

// requireAdminOrServer allows the server's own work (no caller) and admins.
func requireAdminOrServer(ctx context.Context) error {
	if p := unhidra.PrincipalFromContext(ctx); p != nil && p.Role != unhidra.RoleAdmin {
		return unhidra.Errorf(unhidra.EPermission, "only admins may do this")
	}
	return nil
}

// UserMessageCount counts the messages userID sent that are not deleted
// (admins, or the server).
func (s *Service) UserMessageCount(ctx context.Context, userID string) (int, error) {
	if err := requireAdminOrServer(ctx); err != nil {
		return 0, err
	}
	if err := unhidra.CheckID("user id", userID); err != nil {
		return 0, err
	}
	done := s.observe("count_user_messages")
	defer done()
	return s.store.CountUserMessages(ctx, userID)
}

// CheckErasable returns a conflict when a legal hold keeps messages of
// userID: a hold on the user, or on a channel they posted in (admins, or
// the server).
func (s *Service) CheckErasable(ctx context.Context, userID string) error {
	if err := requireAdminOrServer(ctx); err != nil {
		return err
	}
	if err := unhidra.CheckID("user id", userID); err != nil {
		return err
	}
	onUser, chs, err := s.store.ErasureHolds(ctx, userID)
	switch {
	case err != nil:
		return err
	case onUser:
		return unhidra.Errorf(unhidra.EConflict, "this user is on legal hold: their messages cannot be erased until the hold is released (anonymising keeps the messages and is allowed)")
	case len(chs) == 1:
		return unhidra.Errorf(unhidra.EConflict, "channel %s, which holds messages of this user, is on legal hold: release it before erasing them (anonymising is allowed)", chs[0])
	case len(chs) > 1:
		return unhidra.Errorf(unhidra.EConflict, "%d channels holding messages of this user are on legal hold: release them before erasing (anonymising is allowed)", len(chs))
	}
	return nil
}

// PurgeUser takes a deleted account out of every channel (member_left in
// each; an owner who was the last one hands ownership to the strongest
// remaining member, earliest joined first) and forgets its thread follows
// and mentions; with erase it also deletes every message the user sent
// and every reaction they left. done is false when something is left:
// messages or reactions kept by a legal hold, or ctx ended first; running
// PurgeUser again continues. Admins, or the server; the account must be
// deleted already (conflict otherwise).
func (s *Service) PurgeUser(ctx context.Context, userID string, erase bool) (done bool, err error) {
	if err := requireAdminOrServer(ctx); err != nil {
		return false, err
	}
	if err := unhidra.CheckID("user id", userID); err != nil {
		return false, err
	}
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return false, err
	}
	if !u.Deleted {
		return false, unhidra.Errorf(unhidra.EConflict, "only a deleted account's channels and messages are purged")
	}
	seqs, err := s.store.ChannelSeqs(ctx, userID)
	if err != nil {
		return false, err
	}
	channels := make([]string, 0, len(seqs))
	for id := range seqs {
		channels = append(channels, id)
	}
	slices.Sort(channels)
	for _, id := range channels {
		if err := ctx.Err(); err != nil {
			return false, nil
		}
		if err := s.removeDeletedMember(ctx, id, userID); err != nil {
			return false, err
		}
	}
	if erase {
		complete, err := s.eraseUser(ctx, userID)
		if err != nil || !complete {
			return false, err
		}
	}
	if err := s.store.Tx(ctx, func(tx Tx) error { return tx.ForgetUser(ctx, userID) }); err != nil {
		return false, err
	}
	if !erase {
		return true, nil
	}
	left, err := s.store.CountUserMessages(ctx, userID)
	if err != nil {
		return false, err
	}
	return left == 0, nil
}

// removeDeletedMember ends a deleted user's membership of one channel.
func (s *Service) removeDeletedMember(ctx context.Context, channelID, userID string) error {
	return s.inChannel(ctx, "purge_member", channelID, func(c *change) error {
		ch, err := c.tx.LockChannel(ctx, channelID)
		if unhidra.ErrorCode(err) == unhidra.ENotFound {
			return nil
		} else if err != nil {
			return err
		}
		m, err := c.tx.Member(ctx, channelID, userID)
		if unhidra.ErrorCode(err) == unhidra.ENotFound {
			return nil
		} else if err != nil {
			return err
		}
		if m.Role == unhidra.ChannelOwner && ch.Kind != unhidra.ChannelDirect && !ch.Archived {
			if err := s.handOwnership(ctx, c, userID); err != nil {
				return err
			}
		}
		return removeMember(ctx, c, m)
	})
}

// handOwnership makes another member owner when userID is the channel's
// last owner: the strongest role first, then the earliest joined, skipping
// accounts that are deleted or disabled. With nobody to take it, the
// channel is left without an owner (system admins still manage it).
func (s *Service) handOwnership(ctx context.Context, c *change, userID string) error {
	owners, err := c.tx.CountOwners(ctx, c.channelID)
	if err != nil || owners > 1 {
		return err
	}
	var all []*unhidra.Member
	for after := ""; ; {
		page, err := c.tx.Members(ctx, c.channelID, after, 500)
		if err != nil {
			return err
		}
		for _, m := range page {
			if m.UserID != userID {
				all = append(all, m)
			}
		}
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].UserID
	}
	slices.SortFunc(all, func(a, b *unhidra.Member) int {
		return cmp.Or(cmp.Compare(rank(b.Role), rank(a.Role)), a.JoinedAt.Compare(b.JoinedAt), cmp.Compare(a.UserID, b.UserID))
	})
	for _, m := range all {
		u, err := s.store.UserByID(ctx, m.UserID)
		if err != nil {
			return err
		}
		if u.Deleted || u.Disabled || u.Role == unhidra.RoleGuest {
			continue
		}
		if err := c.tx.SetRole(ctx, c.channelID, m.UserID, unhidra.ChannelOwner); err != nil {
			return err
		}
		if err := c.audit(ctx, audit.ActionMemberRole, "user", m.UserID, map[string]string{"channel_id": c.channelID, "old_role": m.Role, "role": unhidra.ChannelOwner}); err != nil {
			return err
		}
		_, err = c.emitMember(ctx, wire.TypeMemberJoined, m.UserID, unhidra.ChannelOwner)
		return err
	}
	return nil
}

// eraseUser deletes every message of userID that no hold keeps, and their
// reactions, a batch per transaction; complete is false if ctx ended first.
func (s *Service) eraseUser(ctx context.Context, userID string) (complete bool, err error) {
	chs, err := s.store.UserMessageChannels(ctx, userID)
	if err != nil {
		return false, err
	}
	for _, ch := range chs {
		for {
			if ctx.Err() != nil {
				return false, nil
			}
			n, err := s.eraseBatch(ctx, ch, userID)
			if err != nil {
				return false, err
			}
			if n < PurgeBatch {
				break
			}
		}
	}
	for {
		if ctx.Err() != nil {
			return false, nil
		}
		rs, err := s.store.UserReactions(ctx, userID, PurgeBatch)
		if err != nil {
			return false, err
		}
		for rest := rs; len(rest) > 0; {
			n := 1
			for n < len(rest) && rest[n].ChannelID == rest[0].ChannelID {
				n++
			}
			if err := s.removeReactions(ctx, userID, rest[:n]); err != nil {
				return false, err
			}
			rest = rest[n:]
		}
		if len(rs) < PurgeBatch {
			break
		}
	}
	return true, nil
}

// eraseBatch deletes up to PurgeBatch messages of userID in one channel in
// one transaction, choosing them again under the channel lock (a hold
// placed meanwhile wins).
func (s *Service) eraseBatch(ctx context.Context, channelID, userID string) (int, error) {
	n := 0
	err := s.inChannel(ctx, "erase_user", channelID, func(c *change) error {
		n = 0
		if _, err := c.tx.LockChannel(ctx, channelID); err != nil {
			return err
		}
		ids, err := c.tx.ErasableMessageIDs(ctx, channelID, userID, PurgeBatch)
		if err != nil {
			return err
		}
		for _, id := range ids {
			m, err := c.tx.Message(ctx, id)
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

// removeReactions removes reactions of userID in one channel, with the
// reaction event a member's own removal emits.
func (s *Service) removeReactions(ctx context.Context, userID string, rs []UserReaction) error {
	channelID := rs[0].ChannelID
	return s.inChannel(ctx, "erase_reactions", channelID, func(c *change) error {
		if _, err := c.tx.LockChannel(ctx, channelID); err != nil {
			return err
		}
		for _, r := range rs {
			if r.ReactionID != "" {
				removed, err := c.tx.RemoveEncryptedReaction(ctx, r.ReactionID)
				if err != nil {
					return err
				}
				if !removed {
					continue
				}
				if _, err := c.emit(ctx, wire.Event{Type: wire.TypeReaction, MessageID: r.MessageID, UserID: userID}, func(seq int64) any {
					return wire.Reaction{Type: wire.TypeReaction, ChannelID: channelID, MessageID: r.MessageID, ReactionID: r.ReactionID,
						UserID: userID, Added: false, Seq: seq}
				}); err != nil {
					return err
				}
				continue
			}
			changed, err := c.tx.RemoveReaction(ctx, r.MessageID, userID, r.Emoji)
			if err != nil {
				return err
			}
			if !changed {
				continue
			}
			if _, err := c.emit(ctx, wire.Event{Type: wire.TypeReaction, MessageID: r.MessageID, UserID: userID}, func(seq int64) any {
				return wire.Reaction{Type: wire.TypeReaction, ChannelID: channelID, MessageID: r.MessageID, Emoji: r.Emoji, UserID: userID, Added: false, Seq: seq}
			}); err != nil {
				return err
			}
		}
		return nil
	})
}
