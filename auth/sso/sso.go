// Package sso is single sign-on through OpenID Connect providers: the
// authorization code flow with PKCE (S256), state and nonce, the ID token
// checked by github.com/coreos/go-oidc (issuer, audience, expiry and
// signature against the provider's JWKS), just-in-time accounts, linking
// and the group → role mapping.
//
// Guarantees:
//   - A flow's state, nonce and PKCE verifier live in the database, not in
//     one node's memory, so any node finishes a flow any node started. A
//     state is used at most once (taken by one DELETE … RETURNING), for at
//     most StateTTL, and only by the browser that started it: the flow is
//     bound to a random cookie whose hash is stored beside the state.
//   - Nothing is created, linked or changed unless the ID token passed
//     every check and its nonce matches the flow's.
//   - An identity is never linked to an existing account on the strength of
//     a matching username or email: a first sign-in either creates a new
//     account (with a suffix if the name is taken) or is refused. Linking
//     is a flow the signed-in user starts (Start with PurposeLink).
//   - Secrets (client secrets, codes, tokens, verifiers) are never logged.
package sso

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/auth"
)

// DefaultStateTTL is how long a started flow may take.
const DefaultStateTTL = 10 * time.Minute

// ErrUsernameTaken is wrapped by Store.CreateUserWithIdentity's conflict
// when the username is taken.
var ErrUsernameTaken = errors.New("username taken")

// Config wires a Service. Store and Auth are required.
type Config struct {
	Providers []Provider
	Store     Store
	Auth      *auth.Service
	// HTTPClient reaches the providers (discovery, JWKS, token endpoint);
	// nil is http.DefaultClient with a 10 s timeout.
	HTTPClient *http.Client
	StateTTL   time.Duration // DefaultStateTTL if zero
	Now        func() time.Time
	Logger     *slog.Logger
}

// Service runs single sign-on flows.
type Service struct {
	cfg       Config
	now       func() time.Time
	log       *slog.Logger
	providers map[string]*provider
	order     []*provider
}

// provider is a configured provider and, once fetched, its discovery.
type provider struct {
	Provider
	mu  sync.Mutex
	rp  *oidc.Provider // nil until discovered
	ver *oidc.IDTokenVerifier
}

// New validates the providers and returns the Service. Discovery happens
// at the first use of each provider (a provider down at start does not
// stop the server; its errors name it).
func New(cfg Config) (*Service, error) {
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = DefaultStateTTL
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	s := &Service{cfg: cfg, now: cfg.Now, log: cfg.Logger, providers: map[string]*provider{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	for _, p := range cfg.Providers {
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := s.providers[p.ID]; dup {
			errs = append(errs, fmt.Errorf("oidc provider %q: configured twice", p.ID))
			continue
		}
		pp := &provider{Provider: p}
		s.providers[p.ID] = pp
		s.order = append(s.order, pp)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// ProviderInfo is the public face of a provider: what a login button needs.
type ProviderInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Providers lists the configured providers in configuration order.
func (s *Service) Providers() []ProviderInfo {
	out := make([]ProviderInfo, 0, len(s.order))
	for _, p := range s.order {
		out = append(out, ProviderInfo{ID: p.ID, Name: p.Name})
	}
	return out
}

func (s *Service) provider(id string) (*provider, error) {
	if p := s.providers[id]; p != nil {
		return p, nil
	}
	return nil, unhidra.Errorf(unhidra.ENotFound, "no single sign-on provider %q", id)
}

// discover returns the provider's discovery and verifier, fetching them
// the first time (and again after a failure).
func (s *Service) discover(ctx context.Context, p *provider) (*oidc.Provider, *oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rp != nil {
		return p.rp, p.ver, nil
	}
	rp, err := oidc.NewProvider(oidc.ClientContext(ctx, s.cfg.HTTPClient), p.Issuer)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "oidc discovery failed", slog.String("provider", p.ID), slog.String("issuer", p.Issuer), slog.Any("err", err))
		return nil, nil, &unhidra.Error{Code: unhidra.EUnavailable,
			Message: fmt.Sprintf("the sign-in provider %q cannot be reached right now; try again shortly", p.ID),
			Err:     fmt.Errorf("oidc provider %q: discovery at %s: %w", p.ID, p.Issuer, err)}
	}
	p.rp = rp
	p.ver = rp.Verifier(&oidc.Config{ClientID: p.ClientID, Now: s.now})
	return p.rp, p.ver, nil
}

func (s *Service) oauth2Config(rp *oidc.Provider, p *provider, redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: p.ClientID, ClientSecret: p.ClientSecret,
		Endpoint: rp.Endpoint(), RedirectURL: redirectURI, Scopes: p.scopes(),
	}
}

// CallbackPath is the path of a provider's redirect URI, to register at
// the provider as PublicURL + CallbackPath(id).
func CallbackPath(providerID string) string { return "/api/v1/auth/oidc/" + providerID + "/callback" }

// Flow is a started flow: send the browser to URL, with Binding in a
// short-lived HttpOnly cookie that comes back to the callback.
type Flow struct {
	URL     string
	Binding string
	// Key names the flow among others in progress in the same browser
	// (FlowKey of its state): the binding cookie is stored under it, so
	// that starting a second flow (another tab, another provider) does
	// not break the first.
	Key string
	TTL time.Duration
}

// FlowKey is the short name of the flow whose state parameter is state:
// 16 hex digits of its SHA-256 (it reveals nothing the state, which is in
// the URL, does not).
func FlowKey(state string) string { return hex.EncodeToString(hash(state)[:8]) }

// Start begins a flow with the provider. base is the server's public URL
// (scheme://host[:port]) that the redirect URI is built on. PurposeLink
// needs a signed-in caller, to whom the identity will be linked.
func (s *Service) Start(ctx context.Context, providerID, purpose, base string) (*Flow, error) {
	p, err := s.provider(providerID)
	if err != nil {
		return nil, err
	}
	st := &State{Provider: p.ID, Purpose: purpose}
	switch purpose {
	case PurposeLogin:
	case PurposeLink:
		pr := unhidra.PrincipalFromContext(ctx)
		if pr == nil {
			return nil, unhidra.Errorf(unhidra.EUnauthenticated, "sign in first: only a signed-in user can link an identity")
		}
		st.UserID = pr.UserID
	default:
		return nil, unhidra.Errorf(unhidra.EInvalid, "unknown purpose %q", purpose)
	}
	rp, _, err := s.discover(ctx, p)
	if err != nil {
		return nil, err
	}
	now := s.now()
	// Every so often, not on every start: a sweep costs a write.
	if mrand.IntN(16) == 0 {
		if err := s.cfg.Store.DeleteExpiredStates(ctx, now); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "expired sso states not swept", slog.Any("err", err))
		}
	}
	state, binding := randomString(), randomString()
	st.StateHash, st.BindingHash = hash(state), hash(binding)
	st.Nonce, st.Verifier = randomString(), oauth2.GenerateVerifier()
	st.ExpiresAt = now.Add(s.cfg.StateTTL)
	if err := s.cfg.Store.PutState(ctx, st); err != nil {
		return nil, err
	}
	u := s.oauth2Config(rp, p, base+CallbackPath(p.ID)).AuthCodeURL(state,
		oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier))
	return &Flow{URL: u, Binding: binding, Key: FlowKey(state), TTL: s.cfg.StateTTL}, nil
}

// Callback is what the provider's redirect brought back.
type Callback struct {
	State, Code string
	// Error is the provider's error parameter (the user declined, …).
	Error   string
	Binding string // the browser's binding cookie
}

// Result is a finished flow.
type Result struct {
	Purpose string
	User    *unhidra.User
	Pair    *auth.TokenPair // PurposeLogin: the new session
	Created bool            // PurposeLogin: the account was just provisioned
}

// Error is a failed flow: Code is what the web client is told (the
// redirect's sso_error parameter), Err the detail for the log.
type Error struct {
	Code string
	Err  error
}

func (e *Error) Error() string { return "sso " + e.Code + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Error codes of a failed flow.
const (
	CodeInvalidState   = "invalid_state"   // missing, unknown, used, expired or another browser's state
	CodeProviderError  = "provider_error"  // the provider answered with an error (user declined, …)
	CodeInvalidToken   = "invalid_token"   // code exchange failed or the ID token failed a check
	CodeSignupDisabled = "signup_disabled" // no linked account, and the provider may not create one
	CodeIdentityInUse  = "identity_in_use" // link: the identity belongs to another account
	CodeAccountDenied  = "account_disabled"
	CodeUnavailable    = "unavailable"
	CodeInternal       = "internal"
)

func fail(code string, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// Finish completes a flow: it takes the state (once), checks the browser
// binding, exchanges the code with the PKCE verifier, verifies the ID
// token and its nonce, then signs the user in (finding, or creating, the
// account) or links the identity. base must be the one Start got. Errors
// are *Error.
func (s *Service) Finish(ctx context.Context, providerID string, cb Callback, base string, meta auth.ClientMeta) (*Result, error) {
	p, err := s.provider(providerID)
	if err != nil {
		return nil, fail(CodeInvalidState, "unknown provider")
	}
	if cb.State == "" || len(cb.State) > 256 || cb.Binding == "" || len(cb.Binding) > 256 {
		return nil, fail(CodeInvalidState, "state or binding cookie missing")
	}
	// The state is spent first, whatever follows: a replayed callback
	// (same state, same code) finds nothing.
	st, err := s.cfg.Store.TakeState(ctx, hash(cb.State))
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil, fail(CodeInvalidState, "state unknown or already used")
	} else if err != nil {
		return nil, &Error{Code: CodeInternal, Err: err}
	}
	if subtle.ConstantTimeCompare(st.BindingHash, hash(cb.Binding)) != 1 {
		return nil, fail(CodeInvalidState, "state started in another browser")
	}
	if st.Provider != p.ID {
		return nil, fail(CodeInvalidState, "state of provider %q used at %q", st.Provider, p.ID)
	}
	if !s.now().Before(st.ExpiresAt) {
		return nil, fail(CodeInvalidState, "state expired")
	}
	if cb.Error != "" {
		return nil, fail(CodeProviderError, "provider answered error %q", truncate(cb.Error, 64))
	}
	if cb.Code == "" || len(cb.Code) > 4096 {
		return nil, fail(CodeInvalidToken, "no code")
	}
	rp, ver, err := s.discover(ctx, p)
	if err != nil {
		return nil, &Error{Code: CodeUnavailable, Err: err}
	}
	hctx := oidc.ClientContext(ctx, s.cfg.HTTPClient)
	tok, err := s.oauth2Config(rp, p, base+CallbackPath(p.ID)).Exchange(hctx, cb.Code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return nil, fail(CodeInvalidToken, "code exchange: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fail(CodeInvalidToken, "token response without id_token")
	}
	idt, err := ver.Verify(hctx, raw)
	if err != nil {
		return nil, fail(CodeInvalidToken, "id token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return nil, fail(CodeInvalidToken, "id token nonce does not match the flow's")
	}
	if idt.Subject == "" || len(idt.Subject) > 255 {
		return nil, fail(CodeInvalidToken, "id token subject empty or longer than 255 bytes")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, fail(CodeInvalidToken, "id token claims: %w", err)
	}
	switch st.Purpose {
	case PurposeLink:
		return s.link(ctx, p, st.UserID, idt.Subject, meta)
	default:
		return s.login(ctx, p, idt.Subject, claims, meta)
	}
}

func (s *Service) login(ctx context.Context, p *provider, subject string, claims map[string]any, meta auth.ClientMeta) (*Result, error) {
	created := false
	u, err := s.cfg.Store.UserByIdentity(ctx, p.ID, subject)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		if !p.AllowSignup {
			return nil, fail(CodeSignupDisabled, "no account linked to this identity, and signup through %q is off", p.ID)
		}
		u, err = s.provision(ctx, p, subject, claims, meta)
		if err != nil {
			return nil, err
		}
		created = true
	} else if err != nil {
		return nil, &Error{Code: CodeInternal, Err: err}
	}
	if u.Disabled {
		return nil, fail(CodeAccountDenied, "account disabled")
	}
	if role, ok := RoleFromGroups(Groups(claims, p.GroupsClaim), p.GroupRoles); ok && role != u.Role {
		if u, err = s.setRole(ctx, u, role); err != nil {
			return nil, &Error{Code: CodeInternal, Err: err}
		}
	}
	pair, err := s.cfg.Auth.StartVerifiedSession(ctx, u.ID, audit.ActionSSOLogin, nil, meta)
	if err != nil {
		if unhidra.ErrorCode(err) == unhidra.EUnauthenticated {
			return nil, &Error{Code: CodeAccountDenied, Err: err}
		}
		return nil, &Error{Code: CodeInternal, Err: err}
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "sso sign-in", slog.String("provider", p.ID), slog.String("user_id", u.ID), slog.Bool("created", created))
	return &Result{Purpose: PurposeLogin, User: pair.User, Pair: pair, Created: created}, nil
}

// maxSuffix bounds the numbered tries of a taken username before a random
// suffix is used.
const maxSuffix = 20

// provision creates the account of a first sign-in. A taken username gets
// a numeric suffix: the existing account is never linked (see the package
// doc).
func (s *Service) provision(ctx context.Context, p *provider, subject string, claims map[string]any, meta auth.ClientMeta) (*unhidra.User, error) {
	base := UsernameFromClaims(claims, p.UsernameClaim, subject)
	hash, err := s.cfg.Auth.UnusablePasswordHash(ctx)
	if err != nil {
		return nil, &Error{Code: CodeInternal, Err: err}
	}
	for i := 1; ; i++ {
		name := base
		switch {
		case i > maxSuffix+1:
			return nil, &Error{Code: CodeInternal, Err: fmt.Errorf("no free username for %q", base)}
		case i == maxSuffix+1:
			name = base + "-" + randomString()[:6]
		case i > 1:
			name = base + "-" + strconv.Itoa(i)
		}
		now := s.now().UTC()
		u := &unhidra.User{ID: newID(), Username: name, DisplayName: displayName(claims, name),
			Role: unhidra.RoleMember, CreatedAt: now, UpdatedAt: now}
		ev := identityEvent(audit.ActionRegister, audit.ActorAnonymous, "", u.ID, meta.IP, p.ID, subject)
		ev.Metadata["via"], ev.Metadata["role"], ev.Time = "sso", u.Role, now
		err := s.cfg.Store.CreateUserWithIdentity(audit.With(ctx, ev), u, hash, &Identity{Provider: p.ID, Subject: subject})
		switch {
		case err == nil:
			return u, nil
		case errors.Is(err, ErrUsernameTaken):
			continue
		case unhidra.ErrorCode(err) == unhidra.EConflict:
			// The same identity signed in twice at once: the other
			// request created the account.
			if u, err := s.cfg.Store.UserByIdentity(ctx, p.ID, subject); err == nil {
				return u, nil
			}
			return nil, &Error{Code: CodeInternal, Err: err}
		default:
			return nil, &Error{Code: CodeInternal, Err: err}
		}
	}
}

// setRole applies the group mapping's role, except that it never demotes
// the last admin (a misconfigured mapping must not lock the server).
func (s *Service) setRole(ctx context.Context, u *unhidra.User, role string) (*unhidra.User, error) {
	if u.Role == unhidra.RoleAdmin {
		n, err := s.cfg.Store.CountAdmins(ctx)
		if err != nil {
			return nil, err
		}
		if n <= 1 {
			s.log.LogAttrs(ctx, slog.LevelWarn, "sso group mapping would demote the last admin; role kept", slog.String("user_id", u.ID))
			return u, nil
		}
	}
	ev := &audit.Event{Action: audit.ActionUserUpdate, ActorType: audit.ActorSystem, TargetType: "user", TargetID: u.ID,
		Metadata: map[string]string{"old_role": u.Role, "role": role, "via": "sso_groups"}, Time: s.now()}
	nu, err := s.cfg.Store.SetRole(audit.With(ctx, ev), u.ID, role, s.now().UTC())
	if err != nil {
		return nil, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "sso group mapping changed role", slog.String("user_id", u.ID), slog.String("role", role))
	return nu, nil
}

func (s *Service) link(ctx context.Context, p *provider, userID, subject string, meta auth.ClientMeta) (*Result, error) {
	owner, err := s.cfg.Store.UserByIdentity(ctx, p.ID, subject)
	switch {
	case err == nil && owner.ID == userID:
		return &Result{Purpose: PurposeLink, User: owner}, nil // linked already
	case err == nil:
		return nil, fail(CodeIdentityInUse, "identity linked to another account")
	case unhidra.ErrorCode(err) != unhidra.ENotFound:
		return nil, &Error{Code: CodeInternal, Err: err}
	}
	id := &Identity{Provider: p.ID, Subject: subject, UserID: userID, CreatedAt: s.now().UTC()}
	ev := identityEvent(audit.ActionSSOLink, audit.ActorUser, userID, userID, meta.IP, p.ID, subject)
	ev.Time = s.now()
	if err := s.cfg.Store.LinkIdentity(audit.With(ctx, ev), id); err != nil {
		if unhidra.ErrorCode(err) == unhidra.EConflict {
			return nil, &Error{Code: CodeIdentityInUse, Err: err}
		}
		return nil, &Error{Code: CodeInternal, Err: err}
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "sso identity linked", slog.String("provider", p.ID), slog.String("user_id", userID))
	return &Result{Purpose: PurposeLink}, nil
}

// IdentityInfo is one of the caller's linked identities.
type IdentityInfo struct {
	Provider     string    `json:"provider"`
	ProviderName string    `json:"provider_name" doc:"the provider's button label; empty when the provider is no longer configured"`
	Subject      string    `json:"subject" doc:"the provider's id of the account"`
	Provisioned  bool      `json:"provisioned" doc:"signing in with this identity created the account"`
	CreatedAt    time.Time `json:"created_at"`
}

// Identities lists the caller's linked identities.
func (s *Service) Identities(ctx context.Context) ([]IdentityInfo, error) {
	pr := unhidra.PrincipalFromContext(ctx)
	if pr == nil {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "sign in first")
	}
	ids, err := s.cfg.Store.Identities(ctx, pr.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]IdentityInfo, 0, len(ids))
	for _, id := range ids {
		info := IdentityInfo{Provider: id.Provider, Subject: id.Subject, Provisioned: id.Provisioned, CreatedAt: id.CreatedAt}
		if p := s.providers[id.Provider]; p != nil {
			info.ProviderName = p.Name
		}
		out = append(out, info)
	}
	return out, nil
}

// Unlink removes the caller's identity of the provider. The identity that
// created an account without a password (Provisioned) cannot be unlinked
// while it is the account's only one: the account could no longer sign in.
func (s *Service) Unlink(ctx context.Context, providerID string) error {
	pr := unhidra.PrincipalFromContext(ctx)
	if pr == nil {
		return unhidra.Errorf(unhidra.EUnauthenticated, "sign in first")
	}
	ids, err := s.cfg.Store.Identities(ctx, pr.UserID)
	if err != nil {
		return err
	}
	subject := ""
	for _, id := range ids {
		if id.Provider == providerID && id.Provisioned && len(ids) == 1 {
			return unhidra.Errorf(unhidra.EConflict, "this identity is the only way this account signs in; link another one first")
		}
		if id.Provider == providerID {
			subject = id.Subject
		}
	}
	ev := identityEvent(audit.ActionSSOUnlink, audit.ActorUser, pr.UserID, pr.UserID, audit.ClientIP(ctx), providerID, subject)
	ev.Time = s.now()
	return s.cfg.Store.UnlinkIdentity(audit.With(ctx, ev), pr.UserID, providerID)
}

// identityEvent is an audit event about the identity (provider, subject)
// of user targetID. The subject, the provider's id of the account, is
// kept when it fits the log's bounds (it almost always does), and
// otherwise named by the first 8 bytes of its SHA-256.
func identityEvent(action, actorType, actorID, targetID, ip, provider, subject string) *audit.Event {
	meta := map[string]string{"provider": provider}
	if len(subject) <= audit.MaxMetaValLen && printable(subject) {
		meta["subject"] = subject
	} else if subject != "" {
		meta["subject_sha256"] = fmt.Sprintf("%x", hash(subject)[:8])
	}
	return &audit.Event{Action: action, ActorType: actorType, ActorID: actorID, TargetType: "user", TargetID: targetID,
		IP: audit.CleanIP(ip), Metadata: meta}
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return false
		}
	}
	return true
}

func randomString() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }
