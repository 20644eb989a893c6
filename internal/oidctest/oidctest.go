// Package oidctest runs a real OpenID Connect provider for tests: the op
// package of github.com/zitadel/oidc (discovery, JWKS, authorize, token,
// userinfo) on a loopback httptest server, over a minimal in-memory
// storage. Its "login page" signs in whichever User the test chose, at
// once, so a test drives the whole browser flow with an http.Client.
//
// Knobs let a test make the provider misbehave the ways a relying party
// must notice: an ID token for another audience, an expired one, a wrong
// nonce, an error answer instead of a code.
package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// User is who the provider's login page signs in.
type User struct {
	Subject           string
	PreferredUsername string
	Email             string
	Name              string
	Groups            []string // the "groups" claim
}

// Tamper makes the provider misbehave on the next sign-ins.
type Tamper struct {
	Audience        []string      // ID tokens for this audience (only) instead of the client
	Nonce           string        // this nonce instead of the request's
	IDTokenLifetime time.Duration // instead of an hour (negative: expired at issue)
	Error           string        // the login page answers ?error= instead of a code
}

// Provider is a running OpenID Connect provider.
type Provider struct {
	// Issuer is the provider's URL (http://127.0.0.1:port), also its
	// discovery base.
	Issuer string
	srv    *httptest.Server
	mux    *http.ServeMux
	op     *op.Provider
	key    *rsa.PrivateKey
	keyID  string

	mu       sync.Mutex
	clients  map[string]*client
	requests map[string]*authRequest
	codes    map[string]string // code → request id
	tokens   map[string]string // access token id → subject
	users    map[string]User   // by subject
	next     string            // subject signed in by the login page
	tamper   Tamper
}

// Start runs a provider until the test ends.
func Start(t interface {
	Helper()
	Fatalf(string, ...any)
	Cleanup(func())
}) *Provider {
	t.Helper()
	p, err := New()
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// New runs a provider; Close stops it.
func New() (*Provider, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	p := &Provider{key: key, keyID: randomHex(8),
		clients: map[string]*client{}, requests: map[string]*authRequest{}, codes: map[string]string{},
		tokens: map[string]string{}, users: map[string]User{}}
	mux := http.NewServeMux()
	p.mux = mux
	p.srv = httptest.NewUnstartedServer(mux)
	p.srv.Start()
	p.Issuer = p.srv.URL
	var cryptoKey [32]byte
	rand.Read(cryptoKey[:])
	p.op, err = op.NewProvider(&op.Config{CryptoKey: cryptoKey, CodeMethodS256: true, AuthMethodPost: true},
		storage{p}, op.StaticIssuer(p.Issuer), op.WithAllowInsecure())
	if err != nil {
		p.srv.Close()
		return nil, err
	}
	mux.HandleFunc("/login", p.handleLogin)
	mux.Handle(p.op.TokenEndpoint().Relative(), p.retarget(p.op))
	mux.Handle("/", p.op)
	return p, nil
}

// retarget wraps the token endpoint: with Tamper.Audience set, the ID
// token of the answer is re-signed, with the provider's own key, for that
// audience instead (op always adds the requesting client to the audience,
// so this is the one way to make it issue a token for another client).
func (p *Provider) retarget(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		aud := p.tamper.Audience
		p.mu.Unlock()
		if len(aud) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var body map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
			maps.Copy(w.Header(), rec.Header())
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
			return
		}
		if raw, ok := body["id_token"].(string); ok {
			tok, err := p.resign(raw, func(claims map[string]any) {
				claims["aud"] = aud
				claims["azp"] = aud[0]
			})
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			body["id_token"] = tok
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(body)
	})
}

// resign changes the claims of a JWT the provider signed and signs it again.
func (p *Provider) resign(raw string, change func(map[string]any)) (string, error) {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return "", err
	}
	payload, err := jws.Verify(&p.key.PublicKey)
	if err != nil {
		return "", err
	}
	claims := map[string]any{}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", err
	}
	change(claims)
	payload, err = json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", p.keyID))
	if err != nil {
		return "", err
	}
	out, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return out.CompactSerialize()
}

// Handle serves more paths on the provider's server (a test program's
// control endpoints); they must not collide with the provider's own.
func (p *Provider) Handle(pattern string, h http.Handler) { p.mux.Handle(pattern, h) }

// Close stops the provider.
func (p *Provider) Close() { p.srv.Close() }

// AddClient registers a confidential client; redirect URIs may be added
// later (AddRedirectURI), once the server under test knows its URL.
func (p *Provider) AddClient(id, secret string, redirectURIs ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clients[id] = &client{p: p, id: id, secret: secret, redirects: redirectURIs}
}

// AddRedirectURI allows one more redirect URI for the client.
func (p *Provider) AddRedirectURI(clientID, uri string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.clients[clientID]
	c.redirects = append(c.redirects, uri)
}

// SignInAs makes the login page sign in u from now on.
func (p *Provider) SignInAs(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users[u.Subject] = u
	p.next = u.Subject
}

// SetTamper replaces the misbehaviour (the zero Tamper: none).
func (p *Provider) SetTamper(t Tamper) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tamper = t
}

// handleLogin is the login UI: it signs in the chosen user without asking
// and sends the browser on to the provider's callback, which redirects to
// the client with a code.
func (p *Provider) handleLogin(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	p.mu.Lock()
	req, ok := p.requests[id]
	errParam := p.tamper.Error
	if ok {
		req.subject, req.done, req.authTime = p.next, p.next != "", time.Now()
	}
	p.mu.Unlock()
	if !ok {
		http.Error(w, "unknown auth request", http.StatusBadRequest)
		return
	}
	if errParam != "" {
		v := url.Values{"error": {errParam}, "state": {req.State}}
		http.Redirect(w, r, req.RedirectURI+"?"+v.Encode(), http.StatusFound)
		return
	}
	if !req.done {
		http.Error(w, "oidctest: no user to sign in (call SignInAs)", http.StatusConflict)
		return
	}
	http.Redirect(w, r, p.op.AuthorizationEndpoint().Absolute(p.Issuer)+"/callback?id="+url.QueryEscape(id), http.StatusFound)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// authRequest is one authorization request (op.AuthRequest).
type authRequest struct {
	*oidc.AuthRequest
	id       string
	subject  string
	done     bool
	authTime time.Time
	tamper   Tamper // frozen when the code is issued
}

func (a *authRequest) GetID() string                      { return a.id }
func (a *authRequest) GetACR() string                     { return "" }
func (a *authRequest) GetAMR() []string                   { return []string{"pwd"} }
func (a *authRequest) GetAuthTime() time.Time             { return a.authTime }
func (a *authRequest) GetClientID() string                { return a.ClientID }
func (a *authRequest) GetRedirectURI() string             { return a.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.ResponseMode }
func (a *authRequest) GetScopes() []string                { return a.Scopes }
func (a *authRequest) GetState() string                   { return a.State }
func (a *authRequest) GetSubject() string                 { return a.subject }
func (a *authRequest) Done() bool                         { return a.done }

func (a *authRequest) GetAudience() []string {
	if len(a.tamper.Audience) > 0 {
		return a.tamper.Audience
	}
	return []string{a.ClientID}
}

func (a *authRequest) GetNonce() string {
	if a.tamper.Nonce != "" {
		return a.tamper.Nonce
	}
	return a.Nonce
}

func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	m := oidc.CodeChallengeMethodPlain
	if a.CodeChallengeMethod == oidc.CodeChallengeMethodS256 {
		m = oidc.CodeChallengeMethodS256
	}
	return &oidc.CodeChallenge{Challenge: a.CodeChallenge, Method: m}
}

// client is a registered client (op.Client).
type client struct {
	p         *Provider
	id        string
	secret    string
	redirects []string
}

func (c *client) GetID() string { return c.id }
func (c *client) RedirectURIs() []string {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return slices.Clone(c.redirects)
}
func (c *client) PostLogoutRedirectURIs() []string    { return nil }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType        { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c *client) LoginURL(id string) string           { return c.p.Issuer + "/login?id=" + url.QueryEscape(id) }
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) DevMode() bool                       { return true }
func (c *client) IsScopeAllowed(string) bool          { return true }
func (c *client) IDTokenUserinfoClaimsAssertion() bool {
	return true
}
func (c *client) ClockSkew() time.Duration { return 0 }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) IDTokenLifetime() time.Duration {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if d := c.p.tamper.IDTokenLifetime; d != 0 {
		return d
	}
	return time.Hour
}

// signingKey is the provider's one RS256 key (op.SigningKey and op.Key).
type signingKey struct{ p *Provider }

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Algorithm() jose.SignatureAlgorithm          { return jose.RS256 }
func (k signingKey) ID() string                                  { return k.p.keyID }
func (k signingKey) Use() string                                 { return "sig" }

// Key is the private key when signing and the public key in the key set;
// op asks SigningKey and KeySet through the same method name.
func (k signingKey) Key() any { return k.p.key }

type publicKey struct{ signingKey }

func (k publicKey) Key() any { return &k.p.key.PublicKey }

// storage is the minimal op.Storage: what the code flow touches, in memory.
type storage struct{ p *Provider }

var _ op.Storage = storage{}

var errNotFound = errors.New("oidctest: not found")

func (s storage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	a := &authRequest{AuthRequest: r, id: randomHex(16)}
	s.p.requests[a.id] = a
	return a, nil
}

func (s storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if a, ok := s.p.requests[id]; ok {
		return a, nil
	}
	return nil, errNotFound
}

func (s storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if a, ok := s.p.requests[s.p.codes[code]]; ok {
		return a, nil
	}
	return nil, errNotFound
}

func (s storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	a, ok := s.p.requests[id]
	if !ok {
		return errNotFound
	}
	a.tamper = s.p.tamper
	s.p.codes[code] = id
	return nil
}

// DeleteAuthRequest runs when a code is exchanged: the code dies with it,
// so a replayed code is refused.
func (s storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	delete(s.p.requests, id)
	for c, rid := range s.p.codes {
		if rid == id {
			delete(s.p.codes, c)
		}
	}
	return nil
}

func (s storage) CreateAccessToken(_ context.Context, r op.TokenRequest) (string, time.Time, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	id := randomHex(16)
	s.p.tokens[id] = r.GetSubject()
	return id, time.Now().Add(5 * time.Minute), nil
}

func (s storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errors.New("oidctest: no refresh tokens")
}

func (s storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (s storage) TerminateSession(context.Context, string, string) error { return nil }

func (s storage) RevokeToken(context.Context, string, string, string) *oidc.Error { return nil }

func (s storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

func (s storage) SigningKey(context.Context) (op.SigningKey, error) { return signingKey(s), nil }

func (s storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{signingKey(s)}}, nil
}

func (s storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if c, ok := s.p.clients[id]; ok {
		return c, nil
	}
	return nil, errNotFound
}

func (s storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	c, ok := s.p.clients[id]
	if !ok || subtle.ConstantTimeCompare([]byte(c.secret), []byte(secret)) != 1 {
		return errors.New("oidctest: wrong client credentials")
	}
	return nil
}

func (s storage) userinfo(info *oidc.UserInfo, subject string, scopes []string) {
	s.p.mu.Lock()
	u := s.p.users[subject]
	s.p.mu.Unlock()
	info.Subject = subject
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			info.PreferredUsername, info.Name = u.PreferredUsername, u.Name
		case oidc.ScopeEmail:
			info.Email, info.EmailVerified = u.Email, oidc.Bool(u.Email != "")
		}
	}
	if u.Groups != nil {
		info.AppendClaims("groups", u.Groups)
	}
}

func (s storage) SetUserinfoFromScopes(_ context.Context, info *oidc.UserInfo, subject, _ string, scopes []string) error {
	s.userinfo(info, subject, scopes)
	return nil
}

func (s storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	s.userinfo(info, subject, []string{oidc.ScopeProfile, oidc.ScopeEmail})
	return nil
}

func (s storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return nil
}

func (s storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotFound
}

func (s storage) ValidateJWTProfileScopes(_ context.Context, _ string, scopes []string) ([]string, error) {
	return scopes, nil
}

func (s storage) Health(context.Context) error { return nil }
