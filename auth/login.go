package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
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
	if err := s.passwordLoginAllowed(ctx, username); err != nil {
		return nil, err
	}
	account := strings.ToLower(username)
	try, err := s.reserveTry(ctx, account, meta)
	if err != nil {
		if unhidra.ErrorCode(err) == unhidra.ERateLimited {
			s.loginFailed(ctx, "", "rate_limited", meta)
		}
		return nil, err
	}
	defer try.release() // a try that neither failed nor succeeded never happened
	invalid := unhidra.Errorf(unhidra.EUnauthenticated, "wrong username or password")
	if len(plain) > 4096 || len(username) > 64 {
		try.fail()
		s.loginFailed(ctx, "", "invalid_input", meta)
		return nil, invalid
	}
	u, hash, err := s.cfg.Store.UserByUsername(ctx, username)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		// Spend the same work as a real check so timing does not reveal
		// which usernames exist, and count the failure the same way.
		s.cfg.Hasher.DummyVerify(ctx, plain)
		try.fail()
		s.loginFailed(ctx, "", "unknown_user", meta)
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
		reason := "bad_password"
		if ok {
			reason = "disabled"
		}
		s.loginFailed(ctx, u.ID, reason, meta)
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
	// A right password of an account with two-factor on earns only a
	// ticket for the second step (CompleteMFALogin); the device token
	// comes with the session, once both factors are in.
	if on, err := s.hasTOTP(ctx, u.ID); err != nil {
		return nil, fmt.Errorf("look up two-factor: %w", err)
	} else if on {
		ch, err := s.startMFA(ctx, u)
		if err != nil {
			return nil, err
		}
		return &TokenPair{MFA: ch}, nil
	}
	return s.startSession(ctx, u, meta)
}

// startSession starts a session of u after a complete login and returns
// its first tokens and a device token.
func (s *Service) startSession(ctx context.Context, u *unhidra.User, meta ClientMeta) (*TokenPair, error) {
	pair, err := s.createSession(ctx, u, meta, audit.ActionLogin, nil)
	if err != nil {
		return nil, err
	}
	pair.DeviceToken = s.issueDeviceToken(strings.ToLower(u.Username))
	return pair, nil
}

// createSession stores a new session of u, audited as action in the same
// transaction, and returns its first tokens: what every way of signing in
// ends with.
func (s *Service) createSession(ctx context.Context, u *unhidra.User, meta ClientMeta, action string, metadata map[string]string) (*TokenPair, error) {
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
	ev := s.userEvent(action, u.ID, "session", sess.ID, meta.IP)
	ev.Metadata = metadata
	actx := audit.With(ctx, ev)
	if err := s.cfg.Store.CreateSession(actx, sess, hashToken(refresh)); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	s.recordUntaken(actx)
	return s.pair(u, sess.ID, refresh)
}

// loginTry is one admitted login attempt, reserved in the backoffs that
// judge it until its outcome is reported (see package ratelimit for the
// flow and why). A try from a known device uses only the device's key; any
// other try uses its network's key and the account-wide key.
type loginTry struct {
	s *Service
	// ctx reports the outcome. It outlives the request on purpose: a client
	// that hangs up once its password has been checked must not thereby
	// keep its failure from being counted.
	ctx                     context.Context
	netKey, account         string
	devKey                  string // set when the try is from a known device
	device, network, global bool   // which of the device, network and account keys hold a reservation
	done                    bool
}

// reportTimeout bounds each write that reports a try's outcome.
const reportTimeout = 5 * time.Second

// backoffUnavailable is the answer when a backoff cannot be checked: the
// login is refused rather than let through unchecked.
func backoffUnavailable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &unhidra.Error{Code: unhidra.EUnavailable, Message: "failed-login limits cannot be checked right now; try again shortly", Err: err}
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
	t := &loginTry{s: s, ctx: context.WithoutCancel(ctx), account: account, netKey: account + "|" + meta.NetworkKey}
	refuse := func(err error) (*loginTry, error) {
		t.release()
		return nil, err
	}
	if id := s.deviceID(account, meta.DeviceToken); id != "" {
		t.devKey = account + "|device:" + id
		if b := s.cfg.DeviceBackoff; b != nil {
			d, err := b.Reserve(ctx, t.devKey)
			if err != nil {
				return refuse(backoffUnavailable(err))
			}
			if d > 0 {
				return refuse(limited(d))
			}
			t.device = true
		}
		return t, nil
	}
	clean := true
	if b := s.cfg.AccountBackoff; b != nil {
		n, err := b.Failures(ctx, t.netKey)
		if err != nil {
			return refuse(backoffUnavailable(err))
		}
		clean = n == 0
		d, err := b.Reserve(ctx, t.netKey)
		if err != nil {
			return refuse(backoffUnavailable(err))
		}
		if d > 0 {
			return refuse(limited(d))
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
		d, err := b.Reserve(ctx, account)
		if err != nil {
			return refuse(backoffUnavailable(err))
		}
		if d > 0 {
			return refuse(limited(d))
		}
		t.global = true
		return t, nil
	}
	d, err := b.Admit(ctx, account)
	if err != nil {
		return refuse(backoffUnavailable(err))
	}
	t.global = true
	if d = min(d, s.cfg.MaxAccountDelay); d > 0 {
		if err := s.wait(ctx, d); err != nil {
			return refuse(err)
		}
	}
	return t, nil
}

// report runs one outcome write; one that fails is logged, and leaves the
// try's reservation to lapse on its own (it counts as a failure until then).
func (t *loginTry) report(what string, fn func(ctx context.Context, key string) error, key string) {
	ctx, cancel := context.WithTimeout(t.ctx, reportTimeout)
	defer cancel()
	if err := fn(ctx, key); err != nil {
		t.s.log.LogAttrs(t.ctx, slog.LevelWarn, "login backoff not updated", slog.String("op", what), slog.Any("err", err))
	}
}

func (t *loginTry) fail() {
	if t.done {
		return
	}
	t.done = true
	if t.devKey != "" {
		if t.device {
			t.report("fail", t.s.cfg.DeviceBackoff.Fail, t.devKey)
		}
		return
	}
	if t.network {
		t.report("fail", t.s.cfg.AccountBackoff.Fail, t.netKey)
	}
	if t.global {
		t.report("fail", t.s.cfg.GlobalBackoff.Fail, t.account)
	}
}

// succeed clears the device's or the network's key; the account-wide key is
// only released, so a distributed attacker does not get fresh free tries
// after every legitimate login.
func (t *loginTry) succeed() {
	if t.done {
		return
	}
	t.done = true
	if t.devKey != "" {
		if t.device {
			t.report("succeed", t.s.cfg.DeviceBackoff.Succeed, t.devKey)
		}
		return
	}
	if t.network {
		t.report("succeed", t.s.cfg.AccountBackoff.Succeed, t.netKey)
	}
	if t.global {
		t.report("release", t.s.cfg.GlobalBackoff.Release, t.account)
	}
}

func (t *loginTry) release() {
	if t.done {
		return
	}
	t.done = true
	if t.devKey != "" {
		if t.device {
			t.report("release", t.s.cfg.DeviceBackoff.Release, t.devKey)
		}
		return
	}
	if t.network {
		t.report("release", t.s.cfg.AccountBackoff.Release, t.netKey)
	}
	if t.global {
		t.report("release", t.s.cfg.GlobalBackoff.Release, t.account)
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
