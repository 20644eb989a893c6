package auth

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

// Deleting an account. An admin deletes a user in one of two modes:
//
//   - anonymise: the account is gone — it cannot sign in, every credential
//     and sign-in of it is deleted, its username is freed (the row keeps a
//     tombstone name no registration can take), its display name becomes
//     "Deleted user" and its status text goes — and it leaves every
//     channel; its messages stay, their sender still the account's id,
//     which now reads as the deleted user;
//   - erase: the same, and every message the user sent is deleted as a
//     delete deletes it (chat.Service.PurgeUser), and their reactions go.
//
// The account's part is one transaction, with the audit event: once
// AdminDeleteUser has answered, the user can no longer do anything, and
// their sockets are closed on every node (the session revocation control
// message). The channels' part runs next, a bounded batch per
// transaction; what it cannot finish within DeleteBudget (a large erase)
// is finished in the background, and, should the node stop, by whichever
// node runs RunDeletions next: the account row records that its purge is
// pending until it is done.

// Content is what deleting an account needs from the chat service;
// chat.Service implements it (see there).
type Content interface {
	UserMessageCount(ctx context.Context, userID string) (int, error)
	CheckErasable(ctx context.Context, userID string) error
	PurgeUser(ctx context.Context, userID string, erase bool) (done bool, err error)
}

// DeleteBudget is how long AdminDeleteUser works on a deletion's channels
// before it answers and leaves the rest to the background.
const DeleteBudget = 10 * time.Second

// Deletion is the outcome of AdminDeleteUser.
type Deletion struct {
	User *unhidra.User
	Mode string
	// Messages is how many messages of the user were not deleted when the
	// account was: those kept (anonymise) or to erase (erase).
	Messages int
	// Pending says the channels' part is not finished yet; the server
	// finishes it in the background.
	Pending bool
}

// AdminDeleteUser deletes an account (admins only; see above). An admin
// cannot delete themself, nor the last admin (conflict); erasing is
// refused while a legal hold keeps the user's messages (conflict).
// Deleting a deleted account again is allowed: with erase it erases the
// messages an earlier anonymise kept; otherwise it resumes a pending purge.
func (s *Service) AdminDeleteUser(ctx context.Context, id, mode string) (*Deletion, error) {
	p, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if !p.Allows(unhidra.ScopeAdmin) {
		return nil, errScope(unhidra.ScopeAdmin)
	}
	if mode != unhidra.DeleteAnonymise && mode != unhidra.DeleteErase {
		return nil, unhidra.Errorf(unhidra.EInvalid, `mode must be "anonymise" (keep their messages) or "erase" (delete them)`)
	}
	if err := unhidra.CheckID("user id", id); err != nil {
		return nil, err
	}
	if id == p.UserID {
		return nil, unhidra.Errorf(unhidra.EConflict, "you cannot delete your own account; another admin can")
	}
	if s.cfg.Content == nil {
		return nil, unhidra.Errorf(unhidra.EUnavailable, "deleting accounts is not available on this server")
	}
	target, err := s.cfg.Store.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if mode == unhidra.DeleteErase {
		if err := s.cfg.Content.CheckErasable(ctx, id); err != nil {
			return nil, err
		}
	}
	n, err := s.cfg.Content.UserMessageCount(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &Deletion{User: target, Mode: mode, Messages: n}
	again := false
	if target.Deleted {
		st, err := s.cfg.Store.DeletionState(ctx, id)
		if err != nil {
			return nil, err
		}
		// Deleting again in the mode it has, or anonymising what was
		// erased, changes nothing: it only resumes what is pending.
		if again = mode == unhidra.DeleteAnonymise || st.Mode == unhidra.DeleteErase; again {
			d.Mode, d.Pending = st.Mode, st.PurgedAt == nil
		}
	}
	if again && !d.Pending {
		return d, nil
	}
	if !again {
		now := s.now().UTC()
		ev := s.callerEvent(ctx, audit.ActionUserDelete, "user", id)
		ev.Metadata = map[string]string{"mode": mode, "messages": strconv.Itoa(n)}
		actx := audit.With(ctx, ev)
		u, err := s.cfg.Store.DeleteUser(actx, id, UserDeletion{Mode: mode, KeepAdmin: true, Now: now})
		if err != nil {
			return nil, err
		}
		s.recordUntaken(actx)
		d.User = u
		// Every socket of the user closes, on every node.
		s.announce(ctx, id, wire.Control{Type: wire.ControlSessionsRevoked})
		s.log.LogAttrs(ctx, slog.LevelInfo, "user deleted by admin", slog.String("admin_id", p.UserID),
			slog.String("user_id", id), slog.String("mode", mode), slog.Int("messages", n))
	}
	bctx, cancel := context.WithTimeout(ctx, DeleteBudget)
	done, err := s.purge(bctx, id, d.Mode)
	cancel()
	if err != nil && ctx.Err() == nil && bctx.Err() == nil {
		// The account is deleted; what is left of the channels' part is
		// retried in the background.
		s.log.LogAttrs(ctx, slog.LevelWarn, "deleting a user's channels and messages failed; retrying in the background",
			slog.String("user_id", id), slog.Any("err", err))
	}
	d.Pending = !done
	if !done {
		s.kickDeletions()
	}
	return d, nil
}

// maxPendingScan bounds one read of pending deletions.
const maxPendingScan = 1000

// purge runs the channels' part of a deletion and records it done. One
// purge of a user at a time on this node: another one already running
// (the request's, or the background's) answers not done, so that two do
// not queue behind each other for the same channels.
func (s *Service) purge(ctx context.Context, id, mode string) (bool, error) {
	s.purgeMu.Lock()
	if s.purging[id] {
		s.purgeMu.Unlock()
		return false, nil
	}
	s.purging[id] = true
	s.purgeMu.Unlock()
	defer func() {
		s.purgeMu.Lock()
		delete(s.purging, id)
		s.purgeMu.Unlock()
	}()
	done, err := s.cfg.Content.PurgeUser(ctx, id, mode == unhidra.DeleteErase)
	if err != nil || !done {
		return false, err
	}
	if err := s.cfg.Store.FinishDeletion(context.WithoutCancel(ctx), id, mode, s.now().UTC()); err != nil {
		return false, fmt.Errorf("finish deletion: %w", err)
	}
	return true, nil
}

// kickDeletions wakes RunDeletions, if it runs.
func (s *Service) kickDeletions() {
	select {
	case s.deletions <- struct{}{}:
	default:
	}
}

// RunDeletions finishes pending deletions (their channels' part) until ctx
// ends: at once, every interval and whenever AdminDeleteUser leaves one
// unfinished. Every node runs it; two nodes finishing the same deletion do
// no harm (chat.Service.PurgeUser). A deletion kept from finishing by a
// legal hold placed during an erase is tried again at each round, and
// finishes once the hold is released.
func (s *Service) RunDeletions(ctx context.Context, interval time.Duration) {
	if s.cfg.Content == nil {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.ResumeDeletions(ctx); err != nil && ctx.Err() == nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "finishing deleted accounts failed; retrying at the next interval", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.deletions:
		}
	}
}

// ResumeDeletions runs the channels' part of every pending deletion once.
// It is the server's own work: ctx carries no caller.
func (s *Service) ResumeDeletions(ctx context.Context) error {
	if s.cfg.Content == nil {
		return nil
	}
	ps, err := s.cfg.Store.PendingDeletions(ctx, maxPendingScan)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := s.purge(ctx, p.UserID, p.Mode); err != nil {
			return fmt.Errorf("user %s: %w", p.UserID, err)
		}
	}
	return nil
}
