// Package auth is the account service: registration, sign-in, sessions and
// refresh-token families, password changes, invites and the first-admin
// bootstrap. Every rule and every authorization decision about accounts lives
// here, once; transports (HTTP, WebSocket) only translate.
//
// Guarantees:
//   - Passwords are stored only as Argon2id PHC strings and compared in
//     constant time; a login for an unknown user costs as much as a wrong
//     password. A disabled account answers a right password exactly as a
//     wrong one (same error, same verification, same backoff count).
//   - Refresh tokens are stored only as SHA-256 hashes and rotate on every
//     use. Replaying a used token outside the grace window revokes its whole
//     session (family); inside it, the caller gets a fresh successor.
//   - Revoking a session (logout, password change, disabling a user) makes its
//     access tokens fail Authenticate at once, not at expiry.
//   - Failed logins can slow the real user down, never lock them out: a
//     login with the account's device token (device.go) is judged only by
//     that device's failures, and one from a network with no failures of its
//     own against the account is never refused for failures elsewhere, only
//     delayed, at most MaxAccountDelay (1 s). The exact rules are in package
//     ratelimit's documentation.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/auth/password"
	"github.com/unhidra/unhidra/auth/seal"
	"github.com/unhidra/unhidra/auth/token"
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

	// The login backoffs (package ratelimit says how they combine; nil
	// disables one). AccountBackoff is keyed by account and client network,
	// DeviceBackoff by account and device token, GlobalBackoff by account
	// alone. GlobalBackoff refuses only networks with failures of their own
	// against the account; any other try it makes wait at most
	// MaxAccountDelay (1 s if zero), and tries from a known device never see
	// it, so an attacker can slow the real user down but never lock them out.
	//
	// Each is a Backoff: the in-memory ratelimit.Backoff (WithContext) for
	// one node, or ratestore.Backoff, which every node shares.
	AccountBackoff  Backoff
	DeviceBackoff   Backoff
	GlobalBackoff   Backoff
	MaxAccountDelay time.Duration

	// DeviceKey is the HMAC key of device tokens (device.go); nil issues
	// none. DeviceTokenTTL is how long one counts (DefaultDeviceTokenTTL if
	// zero).
	DeviceKey      []byte
	DeviceTokenTTL time.Duration

	// SecretKey seals the TOTP secrets in the database: the server's
	// key-encryption key. Nil leaves two-factor enrolment unavailable.
	SecretKey *seal.Key
	// TOTPIssuer names the server in authenticator apps ("Unhidra" if
	// empty).
	TOTPIssuer string
	// MFABackoff limits wrong second-factor codes per account (nil
	// disables it); like the login backoffs, ratestore's is shared by
	// every node.
	MFABackoff Backoff
	// PasswordLogin is the password-login policy: PasswordLoginOn (the
	// default) or PasswordLoginSSOOnly (policy.go).
	PasswordLogin string
	// Live, when set, supplies the settings an admin changes while the
	// server runs (package settings): its values win over Registration,
	// PasswordLogin and Policy.MinLength, which are then its defaults.
	Live LiveSettings

	// Wait, if set, replaces the sleep of a delayed login (tests record it).
	Wait func(ctx context.Context, d time.Duration) error

	// Audit records the events that share no transaction with a change
	// (refused logins); nil records none. Events of changes travel with
	// the store call (audit.With) whatever this is.
	Audit audit.Recorder

	// Content, when set, is the chat service's part of deleting accounts
	// (delete.go); without it AdminDeleteUser answers unavailable.
	Content Content

	// Events, when set, hears session revocations (wire.UserSubject), so
	// that live WebSockets of a revoked session close at once.
	Events Publisher

	Now    func() time.Time
	Logger *slog.Logger
}

// LiveSettings are the account settings in force, read at each use
// (settings.Service implements it).
type LiveSettings interface {
	Registration() string
	PasswordLogin() string
	PasswordMinLength() int
}

// Backoff is a failed-login backoff per key, with the methods and meaning
// of ratelimit.Backoff; (*ratelimit.Backoff).WithContext and
// *ratestore.Backoff both fit. An error from Failures, Reserve or Admit
// means no decision: the login is refused with unavailable, never let
// through unchecked. An error from Fail, Succeed or Release is logged; the
// reservation it could not end keeps counting as a failure until it lapses.
type Backoff interface {
	Failures(ctx context.Context, key string) (int, error)
	Reserve(ctx context.Context, key string) (time.Duration, error)
	Admit(ctx context.Context, key string) (time.Duration, error)
	Fail(ctx context.Context, key string) error
	Succeed(ctx context.Context, key string) error
	Release(ctx context.Context, key string) error
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

	deletions chan struct{} // wakes RunDeletions
	purgeMu   sync.Mutex
	purging   map[string]bool // users whose deletion this node is purging
}

// New returns a Service with defaults filled in.
func New(cfg Config) *Service {
	if cfg.Registration == "" {
		cfg.Registration = unhidra.RegistrationOpen
	}
	if cfg.PasswordLogin == "" {
		cfg.PasswordLogin = PasswordLoginOn
	}
	if cfg.TOTPIssuer == "" {
		cfg.TOTPIssuer = "Unhidra"
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 30 * 24 * time.Hour
	}
	if cfg.MaxAccountDelay <= 0 {
		cfg.MaxAccountDelay = time.Second
	}
	if cfg.DeviceTokenTTL <= 0 {
		cfg.DeviceTokenTTL = DefaultDeviceTokenTTL
	}
	s := &Service{cfg: cfg, now: cfg.Now, log: cfg.Logger, deletions: make(chan struct{}, 1), purging: map[string]bool{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
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

// SessionTTL is how long a session lives without a refresh.
func (s *Service) SessionTTL() time.Duration { return s.cfg.SessionTTL }
