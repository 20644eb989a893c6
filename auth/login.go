package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/ratelimit"
)

// ClientMeta describes where a request comes from; it is recorded on sessions
// and keys the per-network login backoff.
type ClientMeta struct {
	IP         string // client address as resolved by the transport
	NetworkKey string // the client's network (/24 or /64) for backoff
	UserAgent  string
}

// Login checks a username and password and starts a session.
func (s *Service) Login(ctx context.Context, username, plain string, meta ClientMeta) (*TokenPair, error) {
	// No account's name holds a NUL or invalid UTF-8, and the store must
	// not see one: refuse it before it counts as a try.
	if err := unhidra.CheckParam("username", username, 4096); err != nil {
		return nil, err
	}
	try, err := s.reserveTry(strings.ToLower(username), meta)
	if err != nil {
		return nil, err
	}
	defer try.release() // a try that neither failed nor succeeded never happened
	invalid := unhidra.Errorf(unhidra.EUnauthenticated, "wrong username or password")
	if len(plain) > 4096 || len(username) > 64 {
		try.fail()
		return nil, invalid
	}
	u, hash, err := s.cfg.Store.UserByUsername(ctx, username)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		// Spend the same work as a real check so timing does not reveal
		// which usernames exist, and count the failure the same way.
		s.cfg.Hasher.DummyVerify(ctx, plain)
		try.fail()
		return nil, invalid
	} else if err != nil {
		return nil, fmt.Errorf("look up user: %w", err)
	}
	ok, rehash, err := s.cfg.Hasher.Verify(ctx, plain, hash)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("verify password: %w", err)
	}
	// A disabled account answers exactly like a wrong password, after the
	// same verification, and counts as a failure: a different message, or a
	// backoff that a right guess resets, would tell a guesser the password.
	if !ok || u.Disabled {
		try.fail()
		return nil, invalid
	}
	try.succeed()
	if rehash {
		if nh, err := s.cfg.Hasher.Hash(ctx, plain); err == nil {
			if err := s.cfg.Store.SetPasswordHash(ctx, u.ID, nh, s.now().UTC()); err != nil {
				s.log.LogAttrs(ctx, slog.LevelWarn, "password re-hash not saved", slog.String("user_id", u.ID), slog.Any("err", err))
			} else {
				s.log.LogAttrs(ctx, slog.LevelInfo, "password re-hashed with current parameters", slog.String("user_id", u.ID))
			}
		}
	}
	now := s.now().UTC()
	sess := &unhidra.Session{
		ID:         newID(),
		UserID:     u.ID,
		CreatedAt:  now,
		LastUsedAt: now,
		ExpiresAt:  now.Add(s.cfg.SessionTTL),
		IP:         meta.IP,
		UserAgent:  truncate(meta.UserAgent, 256),
	}
	refresh := randomToken("uhr_")
	if err := s.cfg.Store.CreateSession(ctx, sess, hashToken(refresh)); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	return s.pair(u, sess.ID, refresh)
}

// loginTry is one admitted login attempt, reserved in both backoffs until
// its outcome is reported (see package ratelimit for the flow and why).
type loginTry struct {
	s               *Service
	netKey, account string
	done            bool
}

func (s *Service) reserveTry(account string, meta ClientMeta) (*loginTry, error) {
	t := &loginTry{s: s, netKey: account + "|" + meta.NetworkKey, account: account}
	limited := func(d time.Duration) error {
		return &unhidra.Error{
			Code:              unhidra.ERateLimited,
			Message:           "too many failed logins for this account; try again later",
			RetryAfterSeconds: ratelimit.RetryAfterSeconds(d),
		}
	}
	if b := s.cfg.AccountBackoff; b != nil {
		if d := b.Reserve(t.netKey); d > 0 {
			return nil, limited(d)
		}
	}
	if b := s.cfg.GlobalBackoff; b != nil {
		if d := b.Reserve(account); d > 0 {
			if s.cfg.AccountBackoff != nil {
				s.cfg.AccountBackoff.Release(t.netKey)
			}
			return nil, limited(d)
		}
	}
	return t, nil
}

func (t *loginTry) fail() {
	t.done = true
	if b := t.s.cfg.AccountBackoff; b != nil {
		b.Fail(t.netKey)
	}
	if b := t.s.cfg.GlobalBackoff; b != nil {
		b.Fail(t.account)
	}
}

// succeed clears the network key; the account-wide key is only released, so
// a distributed attacker does not get fresh free tries after every
// legitimate login.
func (t *loginTry) succeed() {
	t.done = true
	if b := t.s.cfg.AccountBackoff; b != nil {
		b.Succeed(t.netKey)
	}
	if b := t.s.cfg.GlobalBackoff; b != nil {
		b.Release(t.account)
	}
}

func (t *loginTry) release() {
	if t.done {
		return
	}
	if b := t.s.cfg.AccountBackoff; b != nil {
		b.Release(t.netKey)
	}
	if b := t.s.cfg.GlobalBackoff; b != nil {
		b.Release(t.account)
	}
}
