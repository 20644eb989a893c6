// Package auth is the account service: registration, sign-in, sessions and
// refresh-token families, password changes, invites and the first-admin
// bootstrap. Every rule and every authorization decision about accounts lives
// here, once; transports (HTTP, WebSocket) only translate.
//
// Guarantees:
//   - Passwords are stored only as Argon2id PHC strings and compared in
//     constant time; a login for an unknown user costs as much as a wrong
//     password.
//   - Refresh tokens are stored only as SHA-256 hashes and rotate on every
//     use. Replaying a used token outside the grace window revokes its whole
//     session (family); inside it, the caller gets a fresh successor.
//   - Revoking a session (logout, password change, disabling a user) makes its
//     access tokens fail Authenticate at once, not at expiry.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth/password"
	"github.com/unhidra/unhidra/auth/token"
	"github.com/unhidra/unhidra/ratelimit"
	"github.com/unhidra/unhidra/wire"
)

// Config wires a Service. Store, Hasher and Tokens are required.
type Config struct {
	Store  Store
	Hasher *password.Hasher
	Policy password.Policy // zero value: the password package's defaults
	Tokens *token.Issuer

	Registration string        // unhidra.Registration*; default open
	RefreshGrace time.Duration // 0 disables the grace window
	SessionTTL   time.Duration // idle lifetime of a session; default 30 days

	// AccountBackoff slows repeated failed logins for one account from one
	// network; GlobalBackoff for one account from anywhere, with a low cap so
	// an attacker can slow the real user down but never lock them out.
	AccountBackoff *ratelimit.Backoff
	GlobalBackoff  *ratelimit.Backoff

	// Events, when set, hears session revocations (wire.UserSubject), so
	// that live WebSockets of a revoked session close at once.
	Events Publisher

	Now    func() time.Time
	Logger *slog.Logger
}

// Publisher is the part of the event bus the auth service uses.
type Publisher interface {
	Publish(ctx context.Context, subject string, data []byte) error
}

// Service implements the account rules. Its methods take the caller from the
// context (unhidra.PrincipalFromContext) where an action needs one.
type Service struct {
	cfg Config
	now func() time.Time
	log *slog.Logger

	mu        sync.Mutex
	setupHash []byte // SHA-256 of the one-time setup token; nil once used or not needed
}

// New returns a Service with defaults filled in.
func New(cfg Config) *Service {
	if cfg.Registration == "" {
		cfg.Registration = unhidra.RegistrationOpen
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 30 * 24 * time.Hour
	}
	s := &Service{cfg: cfg, now: cfg.Now, log: cfg.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Bootstrap prepares the first-admin setup: when no admin exists it returns a
// fresh one-time setup token (and needed = true), which the operator finds in
// the log. Registering with it makes that user the admin.
func (s *Service) Bootstrap(ctx context.Context) (setupToken string, needed bool, err error) {
	n, err := s.cfg.Store.CountAdmins(ctx)
	if err != nil {
		return "", false, fmt.Errorf("count admins: %w", err)
	}
	if n > 0 {
		return "", false, nil
	}
	tok := randomToken("uhs_")
	h := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	s.setupHash = h[:]
	s.mu.Unlock()
	return tok, true, nil
}

// RegisterInput is a registration request.
type RegisterInput struct {
	Username    string
	Password    string
	DisplayName string
	SetupToken  string
	Invite      string
}

var usernameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$`)

// ValidateUsername checks the username rules: 3 to 32 characters, letters,
// digits, '.', '_' and '-', starting with a letter or digit.
func ValidateUsername(name string) error {
	if !usernameRE.MatchString(name) {
		return unhidra.Errorf(unhidra.EInvalid, "username must be 3 to 32 characters of letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

func validateText(field, v string, max int) error {
	if !utf8.ValidString(v) {
		return unhidra.Errorf(unhidra.EInvalid, "%s must be valid UTF-8", field)
	}
	if utf8.RuneCountInString(v) > max {
		return unhidra.Errorf(unhidra.EInvalid, "%s must be at most %d characters", field, max)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return unhidra.Errorf(unhidra.EInvalid, "%s must not contain control characters", field)
		}
	}
	return nil
}

// Register creates an account. With the setup token it creates the admin;
// otherwise the registration mode decides who may register.
func (s *Service) Register(ctx context.Context, in RegisterInput) (*unhidra.User, error) {
	if err := ValidateUsername(in.Username); err != nil {
		return nil, err
	}
	in.DisplayName = strings.TrimSpace(in.DisplayName)
	if err := validateText("display_name", in.DisplayName, 64); err != nil {
		return nil, err
	}
	if err := s.cfg.Policy.Check(in.Username, in.Password); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := &unhidra.User{
		ID:          newID(),
		Username:    in.Username,
		DisplayName: in.DisplayName,
		Role:        unhidra.RoleMember,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	if u.DisplayName == "" {
		u.DisplayName = in.Username
	}
	opts := CreateUserOptions{Now: now}
	switch {
	case in.SetupToken != "":
		if !s.checkSetupToken(in.SetupToken) {
			return nil, unhidra.Errorf(unhidra.EPermission, "the setup token is not valid (it is printed in the server log while no admin exists)")
		}
		u.Role = unhidra.RoleAdmin
		opts.RequireNoAdmin = true
	case s.cfg.Registration == unhidra.RegistrationClosed:
		return nil, unhidra.Errorf(unhidra.EPermission, "registration is closed on this server")
	case s.cfg.Registration == unhidra.RegistrationInvite:
		if in.Invite == "" {
			return nil, unhidra.Errorf(unhidra.EPermission, "registration on this server needs an invite")
		}
		opts.InviteCode = in.Invite
	case in.Invite != "":
		// Open registration: an invite is not needed, but a bad one is still
		// reported rather than silently ignored.
		opts.InviteCode = in.Invite
	}
	hash, err := s.cfg.Hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	if err := s.cfg.Store.CreateUser(ctx, u, hash, opts); err != nil {
		switch {
		case unhidra.ErrorCode(err) == unhidra.ENotFound && opts.InviteCode != "":
			return nil, unhidra.Errorf(unhidra.EPermission, "the invite is not valid, expired or used up")
		case unhidra.ErrorCode(err) == unhidra.EConflict && opts.RequireNoAdmin:
			n, cerr := s.cfg.Store.CountAdmins(ctx)
			if cerr == nil && n > 0 {
				s.clearSetupToken()
				return nil, unhidra.Errorf(unhidra.EConflict, "an admin exists already; the setup token is spent")
			}
			return nil, unhidra.Errorf(unhidra.EConflict, "username %q is taken", in.Username)
		case unhidra.ErrorCode(err) == unhidra.EConflict:
			return nil, unhidra.Errorf(unhidra.EConflict, "username %q is taken", in.Username)
		}
		return nil, fmt.Errorf("create user: %w", err)
	}
	if u.Role == unhidra.RoleAdmin {
		s.clearSetupToken()
		s.log.LogAttrs(ctx, slog.LevelInfo, "admin created with the setup token", slog.String("user_id", u.ID), slog.String("username", u.Username))
	}
	return u, nil
}

// CreateAdmin creates an admin account directly; it is the shell's
// equivalent of registering with the setup token (`unhidra admin
// create-admin`), for operators who have access to the server.
func (s *Service) CreateAdmin(ctx context.Context, username, plain, displayName string) (*unhidra.User, error) {
	if err := ValidateUsername(username); err != nil {
		return nil, err
	}
	if err := s.cfg.Policy.Check(username, plain); err != nil {
		return nil, err
	}
	hash, err := s.cfg.Hasher.Hash(ctx, plain)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	now := s.now().UTC()
	if displayName == "" {
		displayName = username
	}
	u := &unhidra.User{ID: newID(), Username: username, DisplayName: displayName, Role: unhidra.RoleAdmin, CreatedAt: now, UpdatedAt: now}
	if err := s.cfg.Store.CreateUser(ctx, u, hash, CreateUserOptions{Now: now}); err != nil {
		if unhidra.ErrorCode(err) == unhidra.EConflict {
			return nil, unhidra.Errorf(unhidra.EConflict, "username %q is taken", username)
		}
		return nil, fmt.Errorf("create admin: %w", err)
	}
	s.clearSetupToken()
	return u, nil
}

func (s *Service) checkSetupToken(tok string) bool {
	h := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setupHash != nil && subtle.ConstantTimeCompare(h[:], s.setupHash) == 1
}

func (s *Service) clearSetupToken() {
	s.mu.Lock()
	s.setupHash = nil
	s.mu.Unlock()
}

// ClientMeta describes where a request comes from; it is recorded on sessions
// and keys the per-network login backoff.
type ClientMeta struct {
	IP         string // client address as resolved by the transport
	NetworkKey string // the client's network (/24 or /64) for backoff
	UserAgent  string
}

// TokenPair is the result of a login or refresh.
type TokenPair struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int // seconds until the access token expires
	User         *unhidra.User
	SessionID    string
}

// Login checks a username and password and starts a session.
func (s *Service) Login(ctx context.Context, username, plain string, meta ClientMeta) (*TokenPair, error) {
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
	if !ok {
		try.fail()
		return nil, invalid
	}
	try.succeed()
	if u.Disabled {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "this account is disabled")
	}
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

func (s *Service) pair(u *unhidra.User, sessionID, refresh string) (*TokenPair, error) {
	access, exp, err := s.cfg.Tokens.Issue(token.Claims{UserID: u.ID, SessionID: sessionID, Role: u.Role})
	if err != nil {
		return nil, fmt.Errorf("issue access token: %w", err)
	}
	return &TokenPair{
		AccessToken:  access,
		RefreshToken: refresh,
		ExpiresIn:    max(int(time.Until(exp).Seconds()), 0),
		User:         u,
		SessionID:    sessionID,
	}, nil
}

// Refresh rotates a refresh token: the presented one is spent and a new pair
// is returned. See the package doc for reuse and the grace window.
func (s *Service) Refresh(ctx context.Context, refresh string, meta ClientMeta) (*TokenPair, error) {
	invalid := unhidra.Errorf(unhidra.EUnauthenticated, "the refresh token is not valid")
	if refresh == "" || len(refresh) > 256 {
		return nil, invalid
	}
	hash := hashToken(refresh)
	rt, err := s.cfg.Store.RefreshTokenByHash(ctx, hash)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil, invalid
	} else if err != nil {
		return nil, fmt.Errorf("look up refresh token: %w", err)
	}
	now := s.now().UTC()
	sess, err := s.cfg.Store.SessionByID(ctx, rt.SessionID)
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "the session has ended; log in again")
	}
	if rt.UsedAt == nil {
		won, err := s.cfg.Store.MarkRefreshTokenUsed(ctx, hash, now)
		if err != nil {
			return nil, fmt.Errorf("spend refresh token: %w", err)
		}
		if !won {
			// Someone else spent it a moment ago: treat as a repeat.
			if rt, err = s.cfg.Store.RefreshTokenByHash(ctx, hash); err != nil {
				return nil, fmt.Errorf("look up refresh token: %w", err)
			}
		}
	}
	if rt.UsedAt != nil {
		if s.cfg.RefreshGrace <= 0 || now.Sub(*rt.UsedAt) > s.cfg.RefreshGrace {
			if err := s.revokeSession(ctx, sess.UserID, sess.ID, now); err != nil {
				return nil, fmt.Errorf("revoke reused session: %w", err)
			}
			s.log.LogAttrs(ctx, slog.LevelWarn, "refresh token reuse: session revoked",
				slog.String("user_id", sess.UserID), slog.String("session_id", sess.ID), slog.String("ip", meta.IP))
			return nil, unhidra.Errorf(unhidra.EUnauthenticated, "the refresh token was already used; the session is revoked, log in again")
		}
		// Within the grace window: a second tab or a lost response. Hand out
		// another successor in the same family.
	}
	u, err := s.cfg.Store.UserByID(ctx, sess.UserID)
	if err != nil {
		return nil, fmt.Errorf("look up user: %w", err)
	}
	if u.Disabled {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "this account is disabled")
	}
	next := randomToken("uhr_")
	if err := s.cfg.Store.AddRefreshToken(ctx, &RefreshToken{Hash: hashToken(next), SessionID: sess.ID, ParentHash: hash, CreatedAt: now}); err != nil {
		return nil, fmt.Errorf("store refresh token: %w", err)
	}
	if err := s.cfg.Store.TouchSession(ctx, sess.ID, now, meta.IP, truncate(meta.UserAgent, 256), now.Add(s.cfg.SessionTTL)); err != nil {
		return nil, fmt.Errorf("touch session: %w", err)
	}
	return s.pair(u, sess.ID, next)
}

// Authenticate verifies an access token and checks that its session is still
// live and its user still enabled. It returns the caller's principal.
func (s *Service) Authenticate(ctx context.Context, accessToken string) (*unhidra.Principal, error) {
	claims, err := s.cfg.Tokens.Verify(accessToken)
	if err != nil {
		return nil, &unhidra.Error{Code: unhidra.EUnauthenticated, Message: "the access token is not valid", Err: err}
	}
	sess, err := s.cfg.Store.SessionByID(ctx, claims.SessionID)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "the session has ended")
	} else if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	if sess.RevokedAt != nil || sess.UserID != claims.UserID {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "the session has ended")
	}
	u, err := s.cfg.Store.UserByID(ctx, claims.UserID)
	if err != nil {
		if unhidra.ErrorCode(err) == unhidra.ENotFound {
			return nil, unhidra.Errorf(unhidra.EUnauthenticated, "the account no longer exists")
		}
		return nil, fmt.Errorf("look up user: %w", err)
	}
	if u.Disabled {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "this account is disabled")
	}
	// The role comes from the store, not the token, so a demotion applies
	// at once.
	return &unhidra.Principal{UserID: u.ID, Role: u.Role, SessionID: sess.ID, ClientID: claims.ClientID, ExpiresAt: claims.ExpiresAt}, nil
}

// Logout revokes the caller's session, or, with no authenticated caller, the
// session of the given refresh token.
func (s *Service) Logout(ctx context.Context, refresh string) error {
	now := s.now().UTC()
	if p := unhidra.PrincipalFromContext(ctx); p != nil {
		return s.revokeSession(ctx, p.UserID, p.SessionID, now)
	}
	if refresh == "" {
		return unhidra.Errorf(unhidra.EUnauthenticated, "log out needs an access token or a refresh token")
	}
	rt, err := s.cfg.Store.RefreshTokenByHash(ctx, hashToken(refresh))
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return unhidra.Errorf(unhidra.EUnauthenticated, "the refresh token is not valid")
	} else if err != nil {
		return fmt.Errorf("look up refresh token: %w", err)
	}
	sess, err := s.cfg.Store.SessionByID(ctx, rt.SessionID)
	if err != nil {
		return fmt.Errorf("look up session: %w", err)
	}
	return s.revokeSession(ctx, sess.UserID, sess.ID, now)
}

// announce tells every node that sessions of userID ended. A failure is
// logged, not returned: the revocation is already durable, and Authenticate
// refuses the session's tokens whatever the bus does.
func (s *Service) announce(ctx context.Context, userID string, m wire.Control) {
	if s.cfg.Events == nil {
		return
	}
	if err := s.cfg.Events.Publish(context.WithoutCancel(ctx), wire.UserSubject(userID), m.Encode()); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "announce session revocation", slog.String("user_id", userID), slog.Any("err", err))
	}
}

func (s *Service) revokeSession(ctx context.Context, userID, sessionID string, now time.Time) error {
	if err := s.cfg.Store.RevokeSession(ctx, userID, sessionID, now); err != nil {
		return err
	}
	s.announce(ctx, userID, wire.Control{Type: wire.ControlSessionRevoked, SessionID: sessionID})
	return nil
}

func (s *Service) revokeSessions(ctx context.Context, userID, keep string, now time.Time) (int, error) {
	n, err := s.cfg.Store.RevokeSessions(ctx, userID, keep, now)
	if err != nil {
		return 0, err
	}
	s.announce(ctx, userID, wire.Control{Type: wire.ControlSessionsRevoked, KeepSession: keep})
	return n, nil
}

func caller(ctx context.Context) (*unhidra.Principal, error) {
	p := unhidra.PrincipalFromContext(ctx)
	if p == nil {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "sign in first")
	}
	return p, nil
}

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

// Me returns the caller's account.
func (s *Service) Me(ctx context.Context) (*unhidra.User, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.cfg.Store.UserByID(ctx, p.UserID)
}

// ProfileUpdate lists the profile fields a user may change; nil is unchanged.
type ProfileUpdate struct {
	DisplayName *string
	StatusText  *string
}

// UpdateMe changes the caller's profile.
func (s *Service) UpdateMe(ctx context.Context, upd ProfileUpdate) (*unhidra.User, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if upd.DisplayName != nil {
		v := strings.TrimSpace(*upd.DisplayName)
		if v == "" {
			return nil, unhidra.Errorf(unhidra.EInvalid, "display_name must not be empty")
		}
		if err := validateText("display_name", v, 64); err != nil {
			return nil, err
		}
		upd.DisplayName = &v
	}
	if upd.StatusText != nil {
		if err := validateText("status_text", *upd.StatusText, 140); err != nil {
			return nil, err
		}
	}
	return s.cfg.Store.UpdateUser(ctx, p.UserID, UserUpdate{DisplayName: upd.DisplayName, StatusText: upd.StatusText, Now: s.now().UTC()})
}

// ChangePassword replaces the caller's password after checking the old one,
// and revokes every other session of the caller.
func (s *Service) ChangePassword(ctx context.Context, oldPlain, newPlain string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	u, err := s.cfg.Store.UserByID(ctx, p.UserID)
	if err != nil {
		return err
	}
	_, hash, err := s.cfg.Store.UserByUsername(ctx, u.Username)
	if err != nil {
		return err
	}
	ok, _, err := s.cfg.Hasher.Verify(ctx, oldPlain, hash)
	if err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	if !ok {
		return unhidra.Errorf(unhidra.EPermission, "the current password is wrong")
	}
	if err := s.cfg.Policy.Check(u.Username, newPlain); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(oldPlain), []byte(newPlain)) == 1 {
		return unhidra.Errorf(unhidra.EInvalid, "the new password must differ from the current one")
	}
	nh, err := s.cfg.Hasher.Hash(ctx, newPlain)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	now := s.now().UTC()
	if err := s.cfg.Store.SetPasswordHash(ctx, u.ID, nh, now); err != nil {
		return err
	}
	n, err := s.revokeSessions(ctx, u.ID, p.SessionID, now)
	if err != nil {
		return fmt.Errorf("revoke other sessions: %w", err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "password changed", slog.String("user_id", u.ID), slog.Int("sessions_revoked", n))
	return nil
}

// ListSessions returns the caller's live sessions, marking the current one.
func (s *Service) ListSessions(ctx context.Context) ([]*unhidra.Session, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.cfg.Store.ListSessions(ctx, p.UserID, s.now().UTC())
	if err != nil {
		return nil, err
	}
	for _, x := range list {
		x.Current = x.ID == p.SessionID
	}
	return list, nil
}

// RevokeSession ends one of the caller's sessions. Another user's session
// answers not found.
func (s *Service) RevokeSession(ctx context.Context, id string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	sess, err := s.cfg.Store.SessionByID(ctx, id)
	if err != nil || sess.UserID != p.UserID || sess.RevokedAt != nil {
		if err == nil || unhidra.ErrorCode(err) == unhidra.ENotFound {
			return unhidra.Errorf(unhidra.ENotFound, "no such session")
		}
		return err
	}
	return s.revokeSession(ctx, p.UserID, id, s.now().UTC())
}

// RevokeOtherSessions ends every session of the caller but the current one.
func (s *Service) RevokeOtherSessions(ctx context.Context) (int, error) {
	p, err := caller(ctx)
	if err != nil {
		return 0, err
	}
	return s.revokeSessions(ctx, p.UserID, p.SessionID, s.now().UTC())
}

// User returns any user's public profile to a signed-in caller.
func (s *Service) User(ctx context.Context, id string) (*unhidra.User, error) {
	if _, err := caller(ctx); err != nil {
		return nil, err
	}
	if id == "" || len(id) > 64 {
		return nil, unhidra.Errorf(unhidra.ENotFound, "no such user")
	}
	u, err := s.cfg.Store.UserByID(ctx, id)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil, unhidra.Errorf(unhidra.ENotFound, "no such user")
	}
	return u, err
}

// SearchUsers finds users by username or display name. cursor is the
// next_cursor of a previous page.
func (s *Service) SearchUsers(ctx context.Context, q, cursor string, limit int) (users []*unhidra.User, next string, err error) {
	if _, err := caller(ctx); err != nil {
		return nil, "", err
	}
	if utf8.RuneCountInString(q) > 64 || !utf8.ValidString(q) {
		return nil, "", unhidra.Errorf(unhidra.EInvalid, "q must be at most 64 characters")
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	users, err = s.cfg.Store.SearchUsers(ctx, strings.ToLower(q), after, limit+1)
	if err != nil {
		return nil, "", err
	}
	if len(users) > limit {
		users = users[:limit]
		next = encodeCursor(strings.ToLower(users[len(users)-1].Username))
	}
	return users, next, nil
}

// AdminUpdate is an admin's change to another account.
type AdminUpdate struct {
	Role     *string
	Disabled *bool
}

// AdminUpdateUser changes a user's system role or disables the account.
// Disabling revokes every session of the user. The last enabled admin can be
// neither demoted nor disabled, so a server never ends up without one.
func (s *Service) AdminUpdateUser(ctx context.Context, id string, upd AdminUpdate) (*unhidra.User, error) {
	p, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if upd.Role != nil && *upd.Role != unhidra.RoleAdmin && *upd.Role != unhidra.RoleMember {
		return nil, unhidra.Errorf(unhidra.EInvalid, "role must be admin or member")
	}
	target, err := s.cfg.Store.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	losesAdmin := target.IsAdmin() && !target.Disabled &&
		((upd.Role != nil && *upd.Role != unhidra.RoleAdmin) || (upd.Disabled != nil && *upd.Disabled))
	if losesAdmin {
		n, err := s.cfg.Store.CountAdmins(ctx)
		if err != nil {
			return nil, err
		}
		if n <= 1 {
			return nil, unhidra.Errorf(unhidra.EConflict, "this is the last admin; make another admin first")
		}
	}
	now := s.now().UTC()
	u, err := s.cfg.Store.UpdateUser(ctx, id, UserUpdate{Role: upd.Role, Disabled: upd.Disabled, Now: now})
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		if _, err := s.revokeSessions(ctx, u.ID, "", now); err != nil {
			return nil, fmt.Errorf("revoke sessions of disabled user: %w", err)
		}
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "user changed by admin", slog.String("admin_id", p.UserID), slog.String("user_id", u.ID),
		slog.String("role", u.Role), slog.Bool("disabled", u.Disabled))
	return u, nil
}

// AdminListUsers lists every account for admins.
func (s *Service) AdminListUsers(ctx context.Context, cursor string, limit int) ([]*unhidra.User, string, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, "", err
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	users, err := s.cfg.Store.SearchUsers(ctx, "", after, limit+1)
	if err != nil {
		return nil, "", err
	}
	var next string
	if len(users) > limit {
		users = users[:limit]
		next = encodeCursor(strings.ToLower(users[len(users)-1].Username))
	}
	return users, next, nil
}

// CreateInvite makes an invite code (admins only). maxUses 0 means 1;
// expiresIn 0 means 7 days.
func (s *Service) CreateInvite(ctx context.Context, maxUses int, expiresIn time.Duration) (*unhidra.Invite, error) {
	p, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if maxUses < 0 || maxUses > 10000 {
		return nil, unhidra.Errorf(unhidra.EInvalid, "max_uses must be between 1 and 10000")
	}
	if maxUses == 0 {
		maxUses = 1
	}
	if expiresIn < 0 || expiresIn > 365*24*time.Hour {
		return nil, unhidra.Errorf(unhidra.EInvalid, "expires_in_s must be between 1 and 31536000")
	}
	if expiresIn == 0 {
		expiresIn = 7 * 24 * time.Hour
	}
	now := s.now().UTC()
	exp := now.Add(expiresIn)
	inv := &unhidra.Invite{Code: randomToken("uhi_"), CreatedBy: p.UserID, MaxUses: maxUses, ExpiresAt: &exp, CreatedAt: now}
	if err := s.cfg.Store.CreateInvite(ctx, inv); err != nil {
		return nil, err
	}
	return inv, nil
}

// ListInvites lists invites (admins only).
func (s *Service) ListInvites(ctx context.Context) ([]*unhidra.Invite, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.cfg.Store.ListInvites(ctx)
}

// DeleteInvite withdraws an invite (admins only).
func (s *Service) DeleteInvite(ctx context.Context, code string) error {
	if _, err := requireAdmin(ctx); err != nil {
		return err
	}
	if code == "" || len(code) > 128 {
		return unhidra.Errorf(unhidra.ENotFound, "no such invite")
	}
	return s.cfg.Store.DeleteInvite(ctx, code)
}

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error { return s.cfg.Store.Ping(ctx) }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// randomToken returns prefix + 32 random bytes, base64url. The prefix lets
// secret scanners recognise a leaked token.
func randomToken(prefix string) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

func encodeCursor(after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(after))
}

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) > 64 {
		return "", unhidra.Errorf(unhidra.EInvalid, "cursor is not valid")
	}
	return string(b), nil
}

// SessionTTL is how long a session lives without a refresh.
func (s *Service) SessionTTL() time.Duration { return s.cfg.SessionTTL }
