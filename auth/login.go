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
	// DeviceToken is the device token the client got at an earlier login
	// of this account (cookie or body), if any.
	DeviceToken string
}

// Login checks a username and password and starts a session.
func (s *Service) Login(ctx context.Context, username, plain string, meta ClientMeta) (*TokenPair, error) {
	// No account's name holds a NUL or invalid UTF-8, and the store must
	// not see one: refuse it before it counts as a try.
	if err := unhidra.CheckParam("username", username, 4096); err != nil {
		return nil, err
	}
	account := strings.ToLower(username)
	try, err := s.reserveTry(ctx, account, meta)
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
	pair, err := s.pair(u, sess.ID, refresh)
	if err != nil {
		return nil, err
	}
	pair.DeviceToken = s.issueDeviceToken(account)
	return pair, nil
}

// loginTry is one admitted login attempt, reserved in the backoffs that
// judge it until its outcome is reported (see package ratelimit for the
// flow and why). A try from a known device uses only the device's key; any
// other try uses its network's key and the account-wide key.
type loginTry struct {
	s               *Service
	netKey, account string
	devKey          string // set when the try is from a known device
	network, global bool   // which of the network and account keys hold a reservation
	done            bool
}

// reserveTry admits a login attempt or refuses it with rate_limited. The
// promise (package ratelimit): failures elsewhere never refuse a known
// device or a network with no recent failures of its own; the account-wide
// key can only make such a try wait, at most MaxAccountDelay.
func (s *Service) reserveTry(ctx context.Context, account string, meta ClientMeta) (*loginTry, error) {
	limited := func(d time.Duration) error {
		return &unhidra.Error{
			Code:              unhidra.ERateLimited,
			Message:           "too many failed logins for this account; try again later",
			RetryAfterSeconds: ratelimit.RetryAfterSeconds(d),
		}
	}
	t := &loginTry{s: s, account: account, netKey: account + "|" + meta.NetworkKey}
	if id := s.deviceID(account, meta.DeviceToken); id != "" {
		t.devKey = account + "|device:" + id
		if b := s.cfg.DeviceBackoff; b != nil {
			if d := b.Reserve(t.devKey); d > 0 {
				return nil, limited(d)
			}
		}
		return t, nil
	}
	clean := true
	if b := s.cfg.AccountBackoff; b != nil {
		clean = b.Failures(t.netKey) == 0
		if d := b.Reserve(t.netKey); d > 0 {
			return nil, limited(d)
		}
		t.network = true
	}
	b := s.cfg.GlobalBackoff
	if b == nil {
		return t, nil
	}
	if !clean {
		// This network has failed against the account itself: while the
		// account is under attack it waits its turn like any attacker.
		if d := b.Reserve(account); d > 0 {
			t.release()
			return nil, limited(d)
		}
		t.global = true
		return t, nil
	}
	t.global = true
	if d := min(b.Admit(account), s.cfg.MaxAccountDelay); d > 0 {
		if err := s.wait(ctx, d); err != nil {
			t.release()
			return nil, err
		}
	}
	return t, nil
}

func (t *loginTry) fail() {
	t.done = true
	if t.devKey != "" {
		if b := t.s.cfg.DeviceBackoff; b != nil {
			b.Fail(t.devKey)
		}
		return
	}
	if t.network {
		t.s.cfg.AccountBackoff.Fail(t.netKey)
	}
	if t.global {
		t.s.cfg.GlobalBackoff.Fail(t.account)
	}
}

// succeed clears the device's or the network's key; the account-wide key is
// only released, so a distributed attacker does not get fresh free tries
// after every legitimate login.
func (t *loginTry) succeed() {
	t.done = true
	if t.devKey != "" {
		if b := t.s.cfg.DeviceBackoff; b != nil {
			b.Succeed(t.devKey)
		}
		return
	}
	if t.network {
		t.s.cfg.AccountBackoff.Succeed(t.netKey)
	}
	if t.global {
		t.s.cfg.GlobalBackoff.Release(t.account)
	}
}

func (t *loginTry) release() {
	if t.done {
		return
	}
	t.done = true
	if t.devKey != "" {
		if b := t.s.cfg.DeviceBackoff; b != nil {
			b.Release(t.devKey)
		}
		return
	}
	if t.network {
		t.s.cfg.AccountBackoff.Release(t.netKey)
	}
	if t.global {
		t.s.cfg.GlobalBackoff.Release(t.account)
	}
}

// wait sleeps d, or until ctx ends.
func (s *Service) wait(ctx context.Context, d time.Duration) error {
	if s.cfg.Wait != nil {
		return s.cfg.Wait(ctx, d)
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
