// Package passkey is passwordless sign-in with passkeys (WebAuthn): a
// signed-in user registers several passkeys, names, lists and removes them,
// and signs in with any of them without typing a username (discoverable
// credentials). The ceremonies are checked by github.com/go-webauthn/webauthn.
//
// Guarantees:
//   - User verification is required at registration and at every sign-in:
//     the authenticator must report that it checked a PIN or biometric, so
//     a passkey alone is two factors and sign-in with one skips the TOTP
//     step of a password login.
//   - A ceremony's challenge lives in the database, not in one node's
//     memory, so any node finishes what any node began; it is used at most
//     once (taken by one DELETE … RETURNING) and for at most CeremonyTTL.
//     A registration ceremony belongs to the session that began it.
//   - The signature counter only moves forward: an assertion whose counter
//     is not above the stored one (when either is non-zero) is refused as a
//     possibly cloned authenticator, recorded in the audit log, and the
//     stored counter is advanced by a compare-and-set, so two sign-ins
//     racing with one counter value cannot both pass.
//   - The relying party is the configured public URL (its host is the RP
//     ID, its origin the only accepted origin); without one, the host the
//     request came to (development). A browser never hands out an assertion
//     for an RP ID its page's origin does not match, so a forged Host header
//     cannot turn one site's passkey into another's.
//   - Credential public keys are public; nothing secret is stored or logged.
package passkey

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/auth"
)

const (
	// DefaultCeremonyTTL is how long a begun ceremony may take (the
	// browser's own timeout is set to the same).
	DefaultCeremonyTTL = 5 * time.Minute
	// MaxPasskeys is how many passkeys one user may register.
	MaxPasskeys = 20
	// MaxName bounds a passkey's name, in code points.
	MaxName = 64
	// MaxResponse bounds the JSON of an authenticator response, in bytes
	// (real ones are well under 4 KiB; attestation certificates can add a
	// few more).
	MaxResponse = 64 << 10
)

// Purposes of a ceremony.
const (
	PurposeRegister = "register"
	PurposeLogin    = "login"
)

// Config wires a Service. Store and Auth are required.
type Config struct {
	Store Store
	Auth  *auth.Service
	// Audit records refusals, which change nothing (a failed sign-in).
	Audit audit.Recorder
	// PublicURL is the URL browsers use (--public-url): its host is the RP
	// ID. Empty: the request's own origin (Begin's origin argument).
	PublicURL   string
	RPName      string        // shown by the authenticator; default "Unhidra"
	CeremonyTTL time.Duration // DefaultCeremonyTTL if zero
	Now         func() time.Time
	Logger      *slog.Logger
}

// Service runs passkey ceremonies and manages users' passkeys.
type Service struct {
	cfg Config
	now func() time.Time
	log *slog.Logger
}

// New checks cfg and returns the Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Auth == nil {
		return nil, errors.New("passkey: Store and Auth are required")
	}
	if cfg.CeremonyTTL <= 0 {
		cfg.CeremonyTTL = DefaultCeremonyTTL
	}
	if cfg.RPName == "" {
		cfg.RPName = "Unhidra"
	}
	s := &Service{cfg: cfg, now: cfg.Now, log: cfg.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.PublicURL != "" {
		// Not fatal: the server works without passkeys, whose ceremonies
		// then answer with this reason.
		if _, _, err := relyingParty(cfg.PublicURL); err != nil {
			s.log.Warn("passkeys are unavailable: --public-url cannot be their relying party", slog.String("reason", err.Error()))
		}
	}
	return s, nil
}

// Passkey is a registered credential.
type Passkey struct {
	ID             string     `json:"id"`
	UserID         string     `json:"-"`
	Name           string     `json:"name"`
	CredentialID   []byte     `json:"-"`
	BackupEligible bool       `json:"backup_eligible" doc:"a synced passkey, which may live on several of the user's devices"`
	SignCount      uint32     `json:"sign_count" doc:"the authenticator's signature counter at its last use (0 for authenticators that keep none)"`
	CreatedAt      time.Time  `json:"created_at"`
	LastUsedAt     *time.Time `json:"last_used_at,omitempty"`
	// Credential is the whole record the library checks assertions against
	// (public key, flags, counter, attestation), stored as its JSON.
	Credential webauthn.Credential `json:"-"`
}

// Ceremony is a registration or sign-in between Begin and Finish.
type Ceremony struct {
	IDHash    []byte // SHA-256 of the ceremony id handed to the client
	Purpose   string // PurposeRegister or PurposeLogin
	UserID    string // the registering user; empty for a sign-in
	SessionID string // the session that began a registration
	Session   []byte // webauthn.SessionData as JSON (challenge, RP ID, origin)
	ExpiresAt time.Time
}

// Store is what passkeys need from durable storage; authstore.Store
// implements it on SQLite and PostgreSQL. Errors are *unhidra.Error with
// ENotFound or EConflict where noted. Writes carrying an audit event
// (audit.With) write it in their transaction.
type Store interface {
	// PutCeremony stores a ceremony in progress.
	PutCeremony(ctx context.Context, c *Ceremony) error
	// TakeCeremony deletes the ceremony whose id hash is idHash and
	// returns it, in one statement (ENotFound for an unknown or already
	// taken one). Expired rows are returned too: the caller checks.
	TakeCeremony(ctx context.Context, idHash []byte) (*Ceremony, error)
	// DeleteExpiredCeremonies removes ceremonies that expired before now.
	DeleteExpiredCeremonies(ctx context.Context, now time.Time) error

	// CreatePasskey stores p, refusing with EConflict if its credential id
	// is registered already (to anyone) or the user holds max passkeys
	// already (counted in the same transaction).
	CreatePasskey(ctx context.Context, p *Passkey, max int) error
	// Passkeys lists the user's passkeys, oldest first.
	Passkeys(ctx context.Context, userID string) ([]*Passkey, error)
	// PasskeyByCredentialID returns the passkey or ENotFound.
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*Passkey, error)
	// UsePasskey stores a sign-in's result: the credential record (with its
	// new counter and flags) and the time, only if the stored counter is
	// still oldCount (EConflict otherwise: another sign-in used it first).
	UsePasskey(ctx context.Context, p *Passkey, oldCount uint32) error
	// RenamePasskey renames the user's passkey (ENotFound if the user has
	// no passkey id).
	RenamePasskey(ctx context.Context, userID, id, name string) (*Passkey, error)
	// DeletePasskey removes the user's passkey (ENotFound as above).
	DeletePasskey(ctx context.Context, userID, id string) error
	// UserByID returns the user or ENotFound.
	UserByID(ctx context.Context, id string) (*unhidra.User, error)
}

// relyingParty returns the RP ID (the host, without port) and origin of a
// base URL like https://chat.example.com:8443.
func relyingParty(base string) (rpID, origin string, err error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("%q is not an http(s) URL", base)
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil {
		return "", "", fmt.Errorf("passkeys need a domain name, not the IP address %s (browsers refuse an IP as relying party); use a name such as localhost", host)
	}
	return strings.ToLower(host), u.Scheme + "://" + u.Host, nil
}

// webAuthn returns the library configured for this request's relying
// party: the public URL's, else the request's (base is scheme://host).
func (s *Service) webAuthn(base string) (*webauthn.WebAuthn, error) {
	if s.cfg.PublicURL != "" {
		base = s.cfg.PublicURL
	}
	rpID, origin, err := relyingParty(base)
	if err != nil {
		return nil, unhidra.Errorf(unhidra.EInvalid, "passkeys are not available here: %v", err)
	}
	w, err := webauthn.New(&webauthn.Config{
		RPID:          rpID,
		RPDisplayName: s.cfg.RPName,
		RPOrigins:     []string{origin},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: s.cfg.CeremonyTTL, TimeoutUVD: s.cfg.CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: s.cfg.CeremonyTTL, TimeoutUVD: s.cfg.CeremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: relying party %s: %w", rpID, err)
	}
	return w, nil
}

// user adapts an account and its passkeys to the library.
type user struct {
	u     *unhidra.User
	creds []webauthn.Credential
}

// WebAuthnID is the user handle: the account id (random, no personal data).
func (u *user) WebAuthnID() []byte                         { return []byte(u.u.ID) }
func (u *user) WebAuthnName() string                       { return u.u.Username }
func (u *user) WebAuthnDisplayName() string                { return cmp(u.u.DisplayName, u.u.Username) }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Begin is what the client passes to the browser: Options goes to
// navigator.credentials.create or .get (as its publicKey member), and
// CeremonyID comes back with the browser's answer.
type Begin struct {
	CeremonyID string          `json:"ceremony_id"`
	Options    json.RawMessage `json:"options" doc:"PublicKeyCredentialCreationOptions (register) or PublicKeyCredentialRequestOptions (login), binary members in base64url"`
}

func requireSession(ctx context.Context) (*unhidra.Principal, error) {
	p := unhidra.PrincipalFromContext(ctx)
	if p == nil {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "sign in first")
	}
	if p.TokenID != "" || p.SessionID == "" {
		return nil, unhidra.Errorf(unhidra.EPermission, "a personal access token cannot do this; sign in")
	}
	return p, nil
}

// BeginRegistration starts registering a passkey for the signed-in caller
// (a session, not a personal access token). base is the request's origin.
func (s *Service) BeginRegistration(ctx context.Context, base string) (*Begin, error) {
	p, err := requireSession(ctx)
	if err != nil {
		return nil, err
	}
	w, err := s.webAuthn(base)
	if err != nil {
		return nil, err
	}
	u, err := s.loadUser(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	if len(u.creds) >= MaxPasskeys {
		return nil, unhidra.Errorf(unhidra.EConflict, "you have %d passkeys, the most one account may have; remove one first", MaxPasskeys)
	}
	creation, sd, err := w.BeginRegistration(u,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationRequired,
		}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()),
	)
	if err != nil {
		return nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	return s.putCeremony(ctx, &Ceremony{Purpose: PurposeRegister, UserID: p.UserID, SessionID: p.SessionID}, sd, creation.Response)
}

// FinishRegistration checks the browser's answer to a registration
// ceremony and stores the new passkey under name (default "Passkey").
func (s *Service) FinishRegistration(ctx context.Context, base, ceremonyID, name string, response []byte) (*Passkey, error) {
	p, err := requireSession(ctx)
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Passkey"
	}
	if err := unhidra.CheckText("name", name, MaxName); err != nil {
		return nil, err
	}
	c, sd, err := s.takeCeremony(ctx, ceremonyID, PurposeRegister)
	if err != nil {
		return nil, err
	}
	if c.UserID != p.UserID || c.SessionID != p.SessionID {
		return nil, errCeremony()
	}
	w, err := s.webAuthn(base)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, badResponse(err)
	}
	u, err := s.loadUser(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	cred, err := w.CreateCredential(u, *sd, parsed)
	if err != nil {
		return nil, badResponse(err)
	}
	now := s.now().UTC()
	pk := &Passkey{
		ID: uuid.Must(uuid.NewV7()).String(), UserID: p.UserID, Name: name,
		CredentialID: cred.ID, BackupEligible: cred.Flags.BackupEligible,
		SignCount: cred.Authenticator.SignCount, CreatedAt: now, Credential: *cred,
	}
	ev := s.event(ctx, audit.ActionPasskeyRegister, pk.ID)
	if err := s.cfg.Store.CreatePasskey(audit.With(ctx, ev), pk, MaxPasskeys); err != nil {
		return nil, err
	}
	return pk, nil
}

// BeginLogin starts a sign-in with a discoverable passkey: no username;
// the browser offers the user the passkeys it holds for this site.
func (s *Service) BeginLogin(ctx context.Context, base string) (*Begin, error) {
	w, err := s.webAuthn(base)
	if err != nil {
		return nil, err
	}
	assertion, sd, err := w.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("begin passkey login: %w", err)
	}
	return s.putCeremony(ctx, &Ceremony{Purpose: PurposeLogin}, sd, assertion.Response)
}

// Failure reasons of a passkey sign-in, in the audit log.
const (
	ReasonBadAssertion   = "bad_assertion"   // signature, challenge, origin, flags or user verification wrong
	ReasonUnknownPasskey = "unknown_passkey" // no such credential (removed, or never registered here)
	ReasonSignCount      = "sign_count"      // the counter went backwards: a cloned authenticator?
	ReasonDisabled       = "disabled"
)

// FinishLogin checks the browser's answer to a sign-in ceremony and starts
// a session for the passkey's owner.
func (s *Service) FinishLogin(ctx context.Context, base, ceremonyID string, response []byte, meta auth.ClientMeta) (*auth.TokenPair, error) {
	_, sd, err := s.takeCeremony(ctx, ceremonyID, PurposeLogin)
	if err != nil {
		return nil, err
	}
	w, err := s.webAuthn(base)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, errLogin()
	}
	var pk *Passkey
	var owner *unhidra.User
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		k, err := s.cfg.Store.PasskeyByCredentialID(ctx, rawID)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal([]byte(k.UserID), userHandle) {
			return nil, errors.New("user handle does not match the passkey's owner")
		}
		u, err := s.cfg.Store.UserByID(ctx, k.UserID)
		if err != nil {
			return nil, err
		}
		pk, owner = k, u
		return &user{u: u, creds: []webauthn.Credential{k.Credential}}, nil
	}
	_, cred, err := w.ValidatePasskeyLogin(handler, *sd, parsed)
	if err != nil {
		reason, target := ReasonBadAssertion, ""
		if pk == nil {
			reason = ReasonUnknownPasskey
		} else {
			target = owner.ID
		}
		s.loginFailed(ctx, target, reason, meta)
		return nil, errLogin()
	}
	if cred.Authenticator.CloneWarning {
		s.loginFailed(ctx, owner.ID, ReasonSignCount, meta)
		s.log.LogAttrs(ctx, slog.LevelWarn, "passkey refused: its signature counter went backwards (cloned authenticator?)",
			slog.String("user_id", owner.ID), slog.String("passkey_id", pk.ID))
		return nil, errLogin()
	}
	if owner.Disabled {
		s.loginFailed(ctx, owner.ID, ReasonDisabled, meta)
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "this account is disabled")
	}
	old := pk.SignCount
	now := s.now().UTC()
	pk.Credential, pk.SignCount, pk.LastUsedAt = *cred, cred.Authenticator.SignCount, &now
	if err := s.cfg.Store.UsePasskey(ctx, pk, old); err != nil {
		if unhidra.ErrorCode(err) == unhidra.EConflict {
			s.loginFailed(ctx, owner.ID, ReasonSignCount, meta)
			return nil, errLogin()
		}
		return nil, err
	}
	return s.cfg.Auth.StartVerifiedSession(ctx, owner.ID, audit.ActionPasskeyLogin, map[string]string{"passkey_id": pk.ID}, meta)
}

// Passkeys lists the caller's passkeys.
func (s *Service) Passkeys(ctx context.Context) ([]*Passkey, error) {
	p := unhidra.PrincipalFromContext(ctx)
	if p == nil {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "sign in first")
	}
	return s.cfg.Store.Passkeys(ctx, p.UserID)
}

// Rename renames one of the caller's passkeys.
func (s *Service) Rename(ctx context.Context, id, name string) (*Passkey, error) {
	p, err := requireSession(ctx)
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, unhidra.Errorf(unhidra.EInvalid, "name is required")
	}
	if err := unhidra.CheckText("name", name, MaxName); err != nil {
		return nil, err
	}
	return s.cfg.Store.RenamePasskey(ctx, p.UserID, id, name)
}

// Remove deletes one of the caller's passkeys: it stops signing in at once.
func (s *Service) Remove(ctx context.Context, id string) error {
	p, err := requireSession(ctx)
	if err != nil {
		return err
	}
	return s.cfg.Store.DeletePasskey(audit.With(ctx, s.event(ctx, audit.ActionPasskeyRemove, id)), p.UserID, id)
}

func (s *Service) loadUser(ctx context.Context, userID string) (*user, error) {
	u, err := s.cfg.Store.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	keys, err := s.cfg.Store.Passkeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := &user{u: u}
	for _, k := range keys {
		out.creds = append(out.creds, k.Credential)
	}
	return out, nil
}

func (s *Service) putCeremony(ctx context.Context, c *Ceremony, sd *webauthn.SessionData, options any) (*Begin, error) {
	now := s.now()
	// Every so often, not on every begin: a sweep costs a write.
	if mrand.IntN(16) == 0 {
		if err := s.cfg.Store.DeleteExpiredCeremonies(ctx, now); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "expired passkey ceremonies not swept", slog.Any("err", err))
		}
	}
	sess, err := json.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("encode ceremony: %w", err)
	}
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, fmt.Errorf("encode options: %w", err)
	}
	id := randomID()
	c.IDHash, c.Session, c.ExpiresAt = hashID(id), sess, now.Add(s.cfg.CeremonyTTL)
	if err := s.cfg.Store.PutCeremony(ctx, c); err != nil {
		return nil, err
	}
	return &Begin{CeremonyID: id, Options: opts}, nil
}

func (s *Service) takeCeremony(ctx context.Context, id, purpose string) (*Ceremony, *webauthn.SessionData, error) {
	if len(id) != 43 {
		return nil, nil, errCeremony()
	}
	c, err := s.cfg.Store.TakeCeremony(ctx, hashID(id))
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil, nil, errCeremony()
	} else if err != nil {
		return nil, nil, err
	}
	if c.Purpose != purpose || !s.now().Before(c.ExpiresAt) {
		return nil, nil, errCeremony()
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(c.Session, &sd); err != nil {
		return nil, nil, fmt.Errorf("decode ceremony: %w", err)
	}
	return c, &sd, nil
}

func (s *Service) event(ctx context.Context, action, passkeyID string) *audit.Event {
	e := &audit.Event{Action: action, ActorType: audit.ActorSystem, TargetType: "passkey", TargetID: passkeyID,
		IP: audit.CleanIP(audit.ClientIP(ctx)), Time: s.now()}
	if p := unhidra.PrincipalFromContext(ctx); p != nil {
		e.ActorType, e.ActorID = audit.ActorUser, p.UserID
	}
	return e
}

// loginFailed records a refused passkey sign-in: the account only when a
// registered passkey named it.
func (s *Service) loginFailed(ctx context.Context, userID, reason string, meta auth.ClientMeta) {
	if s.cfg.Audit == nil {
		return
	}
	e := &audit.Event{Action: audit.ActionPasskeyLogin, ActorType: audit.ActorAnonymous, Result: audit.ResultFailed,
		Reason: reason, IP: audit.CleanIP(meta.IP), Time: s.now()}
	if userID != "" {
		e.TargetType, e.TargetID = "user", userID
	}
	if err := s.cfg.Audit.Record(ctx, e); err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "audit event not recorded", slog.String("action", e.Action), slog.Any("err", err))
	}
}

func errCeremony() error {
	return unhidra.Errorf(unhidra.EInvalid, "this passkey ceremony is unknown, used or expired; start again")
}

func errLogin() error {
	return unhidra.Errorf(unhidra.EUnauthenticated, "the passkey was not accepted")
}

// badResponse reports an authenticator answer the library refused, with
// its short description (never the response itself).
func badResponse(err error) error {
	msg := "the authenticator's answer was not accepted"
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		msg += ": " + truncate(pe.Details, 200)
	}
	return &unhidra.Error{Code: unhidra.EInvalid, Message: msg, Err: err}
}

// truncate cuts s to at most n bytes on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}
