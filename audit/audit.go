// Package audit is Unhidra's tamper-evident audit log: the domain types of
// an audit event, their validation, the canonical encoding that is hashed
// into the chain, checkpoint signatures, verification and export formats.
// The SQL side (the outbox, the chainer, the log tables) is store/auditstore.
//
// What it guarantees:
//
//   - An Event holds identifiers and small metadata only, never message
//     content: every field has a bounded size, metadata keys that name
//     content (body, text, ciphertext, password, token, …) are refused, and
//     values are short.
//   - The log is a hash chain: entry n carries hash(n-1), and its own hash
//     is SHA-256(Encode(entry) || prev_hash), with the encoding written
//     down in docs/audit.md so that an auditor can re-verify with a script.
//   - Checkpoints sign (seq, hash) with Ed25519 under a key that comes from
//     the environment or a file, never from the database; Verify names the
//     first entry that does not check out.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/unhidra/unhidra"
)

// Actions. The name is <area>.<verb>; later features add their own with
// Record or With (keys, devices, files), following the same rules.
const (
	ActionLogin          = "auth.login"           // Result ok or failed, Reason says why
	ActionRegister       = "auth.register"        // a new account
	ActionAdminCreate    = "auth.admin_create"    // the first admin (setup token or CLI)
	ActionRefresh        = "auth.refresh"         // a refresh token rotated
	ActionRefreshReuse   = "auth.refresh_reuse"   // a spent refresh token replayed: the session is revoked
	ActionLogout         = "auth.logout"          // the caller's session ended
	ActionSessionRevoke  = "auth.session_revoke"  // one session revoked by its user
	ActionSessionsRevoke = "auth.sessions_revoke" // every other session revoked
	ActionPasswordChange = "auth.password_change" // Result ok or failed
	ActionUserUpdate     = "admin.user_update"    // role or disabled changed by an admin
	ActionUserDelete     = "admin.user_delete"    // an account deleted by an admin (Metadata: mode, messages)
	ActionMemberAdd      = "chat.member_add"      // join, or added by someone
	ActionMemberRemove   = "chat.member_remove"   // leave, or removed by someone
	ActionMemberRole     = "chat.member_role"     // a member's channel role changed
	ActionMessageDelete  = "chat.message_delete"  // a message deleted by a moderator (not its author)
	ActionChannelCreate  = "chat.channel_create"
	ActionChannelArchive = "chat.channel_archive"
	ActionChannelSetting = "chat.channel_settings" // a channel setting changed by a member (Metadata: the setting and its value, e.g. disappear_after_s)
	ActionTokenCreate    = "auth.token_create"     // a personal access token made (its id, never the secret)
	ActionTokenRevoke    = "auth.token_revoke"     // a personal access token revoked
	ActionRetention      = "chat.retention_delete" // expired messages of a channel deleted (Metadata: messages)
	ActionRetentionSet   = "admin.retention_set"   // a channel's retention changed (Metadata: days, or "server")
	ActionHoldPlace      = "admin.hold_place"      // a legal hold placed (TargetType user or channel)
	ActionHoldRelease    = "admin.hold_release"    // a legal hold released

	// Reserved for the features that do not exist yet, so that their
	// events get these names when they arrive.
	ActionSSOLogin        = "auth.sso_login"
	ActionTOTPEnable      = "auth.totp_enable"
	ActionTOTPDisable     = "auth.totp_disable"
	ActionTOTPVerify      = "auth.totp_verify"
	ActionPasskeyRegister = "auth.passkey_register"
	ActionPasskeyLogin    = "auth.passkey_login"
	ActionPasskeyRemove   = "auth.passkey_remove"
	ActionKeyChange       = "keys.change"
	ActionClientRegister  = "keys.client_register" // a new end-to-end client install
	ActionClientRemove    = "keys.client_remove"   // a client install removed by its user
	ActionMasterKeySet    = "keys.master_set"      // a user's first master key
	ActionClientListSet   = "keys.client_list"     // a new signed client list
	ActionDeviceRegister  = "devices.register"
	ActionDeviceRevoke    = "devices.revoke"
	ActionFileDelete      = "files.delete"
	ActionSettingsChange  = "admin.settings_change"

	// ActionConnectionClose: an admin closed a live socket (TargetType
	// connection) or every socket of a user (TargetType user).
	ActionConnectionClose = "admin.connection_close"
)

// Actions added after the first set, each recorded by the feature it names.
const (
	ActionSSOLink      = "auth.sso_link"           // an identity linked to the caller's account (Metadata: provider, subject)
	ActionSSOUnlink    = "auth.sso_unlink"         // an identity unlinked (Metadata: provider)
	ActionRecoveryUse  = "auth.recovery_code_use"  // a recovery code spent (Metadata: purpose, remaining)
	ActionRecoveryNew  = "auth.recovery_codes_new" // the recovery codes replaced
	ActionBreakGlass   = "admin.break_glass"       // an account marked or unmarked break-glass (Metadata: state set or cleared)
	ActionInviteCreate = "admin.invite_create"     // an invite made (target: its id, never the code)
	ActionInviteDelete = "admin.invite_delete"     // an invite withdrawn
	ActionAuditPrune   = "audit.prune"             // retention removed the oldest entries (Metadata: through_seq, entries)
)

// Actor types.
const (
	ActorUser      = "user"
	ActorDevice    = "device"
	ActorSystem    = "system"    // the server itself, or an operator at the CLI
	ActorAnonymous = "anonymous" // a caller not yet authenticated (a failed login)
)

// Results.
const (
	ResultOK     = "ok"
	ResultFailed = "failed"
	ResultDenied = "denied"
)

// Size limits of an event's fields, in bytes.
const (
	MaxActionLen   = 64
	MaxIDLen       = 128
	MaxReasonLen   = 64
	MaxMetadata    = 16
	MaxMetaKeyLen  = 32
	MaxMetaValLen  = 128
	maxTypeLen     = 32
	maxIPLen       = 64
	encodingLabel  = "unhidra.audit.v1"
	checkpointText = "unhidra.audit.checkpoint.v1"
)

// Event is one security-relevant action: who did what to what, from
// where, with which outcome. It holds ids and small metadata, never
// content.
type Event struct {
	Action     string            `json:"action"`
	ActorType  string            `json:"actor_type"`
	ActorID    string            `json:"actor_id,omitempty"`
	TargetType string            `json:"target_type,omitempty"`
	TargetID   string            `json:"target_id,omitempty"`
	IP         string            `json:"ip,omitempty"`
	Result     string            `json:"result"`
	Reason     string            `json:"reason,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	// Time is when the action happened (microsecond precision, UTC).
	Time time.Time `json:"time"`
}

// contentKeys are metadata keys that would hold what the audit log must
// never hold: message content and secrets.
var contentKeys = []string{"body", "text", "content", "ciphertext", "message", "password", "secret", "token", "key_material", "plaintext"}

func isCode(s string, extra string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '_' || strings.ContainsRune(extra, r)) {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Validate checks the event's fields and fills defaults: ResultOK for an
// empty Result, ActorSystem for an empty ActorType, the time truncated to
// the microsecond in UTC. It returns an *unhidra.Error (EInvalid) naming
// the first bad field.
func (e *Event) Validate() error {
	bad := func(format string, args ...any) error {
		return unhidra.Errorf(unhidra.EInvalid, "audit event: "+format, args...)
	}
	if e.Result == "" {
		e.Result = ResultOK
	}
	if e.ActorType == "" {
		e.ActorType = ActorSystem
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	switch {
	case e.Action == "" || len(e.Action) > MaxActionLen || !isCode(e.Action, ".") || !strings.Contains(e.Action, "."):
		return bad("action %q: want area.verb of at most %d characters [a-z0-9_.]", e.Action, MaxActionLen)
	case len(e.ActorType) > maxTypeLen || !isCode(e.ActorType, ""):
		return bad("actor type %q", e.ActorType)
	case len(e.TargetType) > maxTypeLen || !isCode(e.TargetType, ""):
		return bad("target type %q", e.TargetType)
	case len(e.ActorID) > MaxIDLen || !printable(e.ActorID):
		return bad("actor id: at most %d printable bytes", MaxIDLen)
	case len(e.TargetID) > MaxIDLen || !printable(e.TargetID):
		return bad("target id: at most %d printable bytes", MaxIDLen)
	case e.Result != ResultOK && e.Result != ResultFailed && e.Result != ResultDenied:
		return bad("result %q: want ok, failed or denied", e.Result)
	case len(e.Reason) > MaxReasonLen || !isCode(e.Reason, ""):
		return bad("reason %q: a code of at most %d characters [a-z0-9_]", e.Reason, MaxReasonLen)
	case len(e.Metadata) > MaxMetadata:
		return bad("at most %d metadata entries", MaxMetadata)
	case e.Time.IsZero():
		return bad("no time")
	}
	if e.IP != "" {
		if len(e.IP) > maxIPLen {
			return bad("ip too long")
		}
		if _, err := netip.ParseAddr(e.IP); err != nil {
			return bad("ip %q is not an IP address", e.IP)
		}
	}
	for k, v := range e.Metadata {
		if k == "" || len(k) > MaxMetaKeyLen || !isCode(k, "") {
			return bad("metadata key %q: at most %d characters [a-z0-9_]", k, MaxMetaKeyLen)
		}
		if slices.Contains(contentKeys, k) {
			return bad("metadata key %q would hold content or a secret, which the audit log never keeps", k)
		}
		if len(v) > MaxMetaValLen || !printable(v) {
			return bad("metadata %q: at most %d printable bytes", k, MaxMetaValLen)
		}
	}
	return nil
}

// Entry is an event as the log keeps it: its place in the chain and the
// hashes that link it.
type Entry struct {
	Seq int64 `json:"seq"`
	Event
	PrevHash Hex `json:"prev_hash"`
	Hash     Hex `json:"hash"`
}

// Hex is a digest, written in JSON as lower-case hex.
type Hex []byte

// MarshalText encodes h as lower-case hex.
func (h Hex) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

// UnmarshalText decodes hex.
func (h *Hex) UnmarshalText(b []byte) error {
	d, err := hex.DecodeString(string(b))
	if err != nil {
		return fmt.Errorf("audit: bad hex digest")
	}
	*h = d
	return nil
}

// ZeroHash is the prev_hash of the first entry.
var zeroHash [sha256.Size]byte

// ZeroHash returns the prev_hash of entry 1: 32 zero bytes.
func ZeroHash() []byte { return zeroHash[:] }

func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// Encode returns the canonical encoding of the entry's seq and event, the
// bytes its hash covers (before prev_hash). Every field is a 4-byte
// big-endian length followed by its bytes, in this order: the label
// "unhidra.audit.v1", seq (decimal), time (unix microseconds, decimal),
// action, actor_type, actor_id, target_type, target_id, ip, result,
// reason, then the number of metadata entries as a 4-byte big-endian
// integer and each key and value, keys in ascending byte order.
func Encode(seq int64, e *Event) []byte {
	b := make([]byte, 0, 256)
	b = appendField(b, encodingLabel)
	b = appendField(b, strconv.FormatInt(seq, 10))
	b = appendField(b, strconv.FormatInt(e.Time.UnixMicro(), 10))
	for _, f := range []string{e.Action, e.ActorType, e.ActorID, e.TargetType, e.TargetID, e.IP, e.Result, e.Reason} {
		b = appendField(b, f)
	}
	keys := make([]string, 0, len(e.Metadata))
	for k := range e.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		b = appendField(b, k)
		b = appendField(b, e.Metadata[k])
	}
	return b
}

// Hash returns SHA-256(Encode(seq, e) || prev).
func Hash(seq int64, e *Event, prev []byte) []byte {
	h := sha256.New()
	h.Write(Encode(seq, e))
	h.Write(prev)
	return h.Sum(nil)
}

// Recorder appends events to the audit log in a transaction of their own:
// for actions that have no transaction to share (a failed login changes
// nothing). Actions that do change something attach their events with With,
// so that the store writes them in the action's own transaction.
type Recorder interface {
	Record(ctx context.Context, events ...*Event) error
}

// pending holds the events attached to a context until a store takes them.
type pending struct {
	mu     sync.Mutex
	events []*Event
	taken  bool
}

type pendingKey struct{}

// With returns a context carrying events for the next store write made
// with it: the store takes them (Take) inside the write's transaction, so
// they commit or roll back with it. Attach right at the store call, so the
// context reaches exactly one write.
func With(ctx context.Context, events ...*Event) context.Context {
	return context.WithValue(ctx, pendingKey{}, &pending{events: events})
}

// Pending reports whether ctx carries events not yet taken.
func Pending(ctx context.Context) bool {
	p, _ := ctx.Value(pendingKey{}).(*pending)
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.taken && len(p.events) > 0
}

// Take returns the events ctx carries and marks them taken, so that a
// second write with the same context does not record them twice; done,
// called with the transaction's outcome, gives them back if it rolled
// back. Stores call it inside their transaction.
func Take(ctx context.Context) (events []*Event, done func(committed bool)) {
	p, _ := ctx.Value(pendingKey{}).(*pending)
	if p == nil {
		return nil, func(bool) {}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.taken {
		return nil, func(bool) {}
	}
	p.taken = true
	return p.events, func(committed bool) {
		if !committed {
			p.mu.Lock()
			p.taken = false
			p.mu.Unlock()
		}
	}
}

// Untaken returns the events of ctx that no store took, for a service to
// record on their own after a write that could not carry them.
func Untaken(ctx context.Context) []*Event {
	p, _ := ctx.Value(pendingKey{}).(*pending)
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.taken {
		return nil
	}
	p.taken = true
	return p.events
}

// String is a one-line rendering for logs and errors.
func (e *Entry) String() string {
	return fmt.Sprintf("#%d %s %s/%s -> %s/%s %s", e.Seq, e.Action, e.ActorType, e.ActorID, e.TargetType, e.TargetID, e.Result)
}

type clientIPKey struct{}

// WithClientIP returns ctx carrying the client address the transport
// resolved, for the events of the request (ClientIP).
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIP returns the address WithClientIP attached, or "".
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

// CleanIP returns ip if it is an IP address (of at most 64 bytes), else "":
// the transports resolve addresses, but an event must not fail over one.
func CleanIP(ip string) string {
	if len(ip) > maxIPLen {
		return ""
	}
	if _, err := netip.ParseAddr(ip); err != nil {
		return ""
	}
	return ip
}
