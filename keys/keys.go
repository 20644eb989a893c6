// Package keys is the server's part of end-to-end encryption: the
// public-key directory of client installs (prekey bundles), the users'
// master keys and signed client lists, the encrypted key backup and the
// to-device inbox (API.md "End-to-end keys and to-device messages"). The
// protocol itself is package e2ee, which the server does not use: keys are
// opaque here.
//
// Guarantees:
//   - The server is not trusted with keys, so it checks only their shape:
//     standard base64 in its one canonical spelling, of exactly the size of
//     the key or signature (32-byte X25519 and Ed25519 keys, 64-byte Ed25519
//     signatures, 1184-byte ML-KEM-768 keys). Clients verify every
//     signature themselves.
//   - A client id is chosen by the client and belongs to one user forever:
//     a removed client keeps its id reserved.
//   - A one-time prekey is handed out at most once, on every engine and
//     across nodes: a bundle fetch takes it with one DELETE … RETURNING
//     (on PostgreSQL over a row picked FOR UPDATE SKIP LOCKED, so parallel
//     fetches each take a different one). With none left, the client's
//     last-resort prekey is handed out instead.
//   - Bundle fetches are rate-limited per requester and per (requester,
//     target) by limits every node shares, so nobody drains another user's
//     prekeys.
//   - A replaced signed prekey stays listed to its owner for RetiredGrace,
//     so the owner keeps its private half until handshakes begun with the
//     old bundle have completed.
//   - A to-device message stays until its client acknowledges it (its row
//     is deleted: nothing of it remains) or InboxTTL passes. Live delivery
//     goes through the bus as ids only (wire.ControlToDevice); the
//     ciphertext is read from the store by the node holding the socket.
//   - Key changes (another identity key for a client, a replaced master
//     key) and client registrations and removals go to the audit log with
//     ids and key fingerprints, never key material, in the transaction of
//     the change.
package keys

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
)

// Limits and durations of the directory and the inbox.
const (
	MaxClientIDLength = 64  // client ids: [A-Za-z0-9_-]{1,64}
	MaxClientsPerUser = 50  // live client installs of one user, and entries of a client list
	MaxPreKeysPerPut  = 100 // one-time prekeys of each kind in one upload
	MaxPreKeysStored  = 500 // one-time prekeys of each kind one client holds

	// RetiredGrace is how long a replaced signed prekey stays listed to
	// its owner (ClientInfo.RetiredPreKeys): the time a handshake begun
	// with the old bundle has to complete, as long as docs/protocol.md has
	// clients keep a replaced prekey's private key.
	RetiredGrace = 30 * 24 * time.Hour

	MaxToDeviceMessages   = 100      // messages in one send
	MaxToDeviceCiphertext = 48 << 10 // characters of one message's base64
	MaxInbox              = 1000     // unacknowledged messages of one client
	// InboxTTL is how long an unacknowledged to-device message is kept.
	InboxTTL = 30 * 24 * time.Hour
	// MaxInboxPage is the most messages one read of an inbox returns.
	MaxInboxPage = 200

	MaxBackupAuthData = 4 << 10 // bytes of a backup's auth_data
	MaxBackupData     = 4 << 20 // bytes of a backup's data
)

// Limiter is a rate limit per key; *ratestore.Limiter (shared by every
// node) fits. An error means no decision: the request is refused.
type Limiter interface {
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// Publisher is the part of the event bus the service uses.
type Publisher interface {
	Publish(ctx context.Context, subject string, data []byte) error
}

// SessionBinder binds the caller's session to a client install, so that
// the session's next access token carries the client_id claim
// (auth.Service implements it). A personal access token has no session to
// bind: BindClient does nothing for one.
type SessionBinder interface {
	BindClient(ctx context.Context, clientID string) error
}

// ChannelLister lists a user's channels, for key-change notices to the
// users who share one (chat.Service implements it).
type ChannelLister interface {
	ChannelIDsOf(ctx context.Context, userID string) ([]string, error)
}

// Config wires a Service. Store is required; the rest may be nil.
type Config struct {
	Store    Store
	Sessions SessionBinder
	Bus      Publisher
	// Channels, with Bus, sends a keys_changed frame to every channel of a
	// user whose keys changed.
	Channels ChannelLister
	// FetchLimit limits bundle fetches per (requester, target user),
	// FetchUserLimit per requester, SendLimit to-device sends per sender.
	FetchLimit, FetchUserLimit, SendLimit Limiter
	Logger                                *slog.Logger
	Now                                   func() time.Time
}

// Service is the key directory and the to-device inbox. Its methods take
// the caller from the context (unhidra.PrincipalFromContext).
type Service struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
}

// New returns the Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("keys: Store is required")
	}
	s := &Service{cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// caller returns the authenticated caller.
func caller(ctx context.Context) (*unhidra.Principal, error) {
	p := unhidra.PrincipalFromContext(ctx)
	if p == nil || p.UserID == "" {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "sign in first")
	}
	return p, nil
}

// writer returns the caller if they may change things: a personal access
// token needs the write scope.
func writer(ctx context.Context) (*unhidra.Principal, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !p.Allows(unhidra.ScopeWrite) {
		return nil, unhidra.Errorf(unhidra.EPermission, "this personal access token lacks the \"write\" scope")
	}
	return p, nil
}

// limited applies a rate limit, refusing when it cannot be checked.
func (s *Service) limited(ctx context.Context, l Limiter, name, key string) error {
	if l == nil {
		return nil
	}
	ok, wait, err := l.Allow(ctx, key)
	return limitError(ctx, name, ok, wait, err)
}

// limitedIn is limited decided inside the transaction tx (Tx.Allow).
func (s *Service) limitedIn(ctx context.Context, tx Tx, l Limiter, name, key string) error {
	if l == nil {
		return nil
	}
	ok, wait, err := tx.Allow(ctx, l, key)
	return limitError(ctx, name, ok, wait, err)
}

func limitError(ctx context.Context, name string, ok bool, wait time.Duration, err error) error {
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &unhidra.Error{Code: unhidra.EUnavailable, Message: "the " + name + " rate limit cannot be checked right now; try again shortly", Err: err}
	}
	if !ok {
		secs := int((wait + time.Second - 1) / time.Second)
		return &unhidra.Error{Code: unhidra.ERateLimited, Message: "too many " + name + "; slow down", RetryAfterSeconds: max(secs, 1)}
	}
	return nil
}

// event is an audit event of the caller.
func (s *Service) event(ctx context.Context, p *unhidra.Principal, action, targetType, targetID string, meta map[string]string) *audit.Event {
	return &audit.Event{Action: action, ActorType: audit.ActorUser, ActorID: p.UserID, TargetType: targetType, TargetID: targetID,
		IP: audit.CleanIP(audit.ClientIP(ctx)), Metadata: meta, Time: s.now()}
}

// Fingerprint is what the audit log records of a key: the first 8 bytes
// of its SHA-256, in hex. It identifies a key without holding it.
func Fingerprint(key []byte) string {
	if len(key) == 0 {
		return ""
	}
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}
