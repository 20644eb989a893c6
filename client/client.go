// Package client is the Go SDK of the Unhidra API (API.md): typed REST
// calls, token handling and the WebSocket protocol. The CLI, the device
// agent, the load generator and the end-to-end tests all use it.
//
// A Client holds one signed-in session (an access token and its refresh
// token). It is safe for concurrent use. Authenticated calls refresh the
// access token shortly before it expires, and once more when the server
// answers 401; refreshes are single-flight, so parallel calls never present
// the same refresh token twice (a repeat outside the server's grace window
// counts as token theft and revokes the session). Every rotation is handed to
// the TokenStore, if any, so a CLI can persist it before the old refresh
// token is forgotten.
//
// Errors from the API are *Error values carrying the API error code; test
// them with IsCode.
package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Tokens is a signed-in session's credentials. It is secret: never log it.
type Tokens struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	ExpiresAt    time.Time `json:"expires_at"` // when AccessToken expires
	SessionID    string    `json:"session_id,omitempty"`
}

// String keeps tokens out of logs and error messages printed with %v.
func (t Tokens) String() string {
	return fmt.Sprintf("client.Tokens{session %s, expires %s}", t.SessionID, t.ExpiresAt.Format(time.RFC3339))
}

// TokenStore persists tokens when they change: at login, at every rotation
// and (with zero Tokens) at logout. SaveTokens is called with the client's
// refresh lock held, so calls are serialized and in order; an error fails the
// call that caused the rotation, because a lost refresh token logs the user
// out at the next start.
type TokenStore interface {
	SaveTokens(ctx context.Context, t Tokens) error
}

// TokenLoader is implemented by a TokenStore that other processes share
// (a credentials file used by several CLI commands at once). Before each
// refresh the client loads the stored tokens: when another process has
// rotated them meanwhile, the client adopts its successor instead of
// presenting a spent refresh token, which the server would take for theft
// and answer by revoking the session.
type TokenLoader interface {
	LoadTokens(ctx context.Context) (Tokens, error)
}

// TokenStoreFunc adapts a function to TokenStore.
type TokenStoreFunc func(ctx context.Context, t Tokens) error

// SaveTokens calls f.
func (f TokenStoreFunc) SaveTokens(ctx context.Context, t Tokens) error { return f(ctx, t) }

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client used for REST calls and WebSocket
// handshakes (default http.DefaultClient).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithTokens starts the client signed in (e.g. with tokens loaded from disk).
func WithTokens(t Tokens) Option { return func(c *Client) { c.tokens = t } }

// WithTokenStore sets where rotated tokens are saved.
func WithTokenStore(s TokenStore) Option { return func(c *Client) { c.store = s } }

// WithUserAgent sets the User-Agent header (the server shows it in the
// session list).
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithClock injects the clock used for token expiry decisions.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithRefreshBefore sets how long before its expiry an access token is
// refreshed (default 60 s, capped at half its lifetime).
func WithRefreshBefore(d time.Duration) Option { return func(c *Client) { c.refreshBefore = d } }

// Client is a client of one Unhidra server.
type Client struct {
	base          string // scheme://host[/prefix] without a trailing slash
	hc            *http.Client
	store         TokenStore
	userAgent     string
	now           func() time.Time
	refreshBefore time.Duration

	// refreshMu serializes refreshes (and the TokenStore calls); it is
	// always taken before mu, never while holding it.
	refreshMu sync.Mutex
	mu        sync.Mutex
	tokens    Tokens
}

// New returns a client of the server at baseURL (e.g.
// "https://chat.example.com").
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("server URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host[:port]", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("server URL %q: no query, fragment or credentials allowed", baseURL)
	}
	c := &Client{base: u.String(), userAgent: "unhidra-go-client", refreshBefore: 60 * time.Second}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.tokens.ExpiresAt.IsZero() {
		c.tokens.ExpiresAt = tokenExpiry(c.tokens.AccessToken)
	}
	return c, nil
}

// BaseURL returns the server URL the client talks to.
func (c *Client) BaseURL() string { return c.base }

// Tokens returns the current tokens.
func (c *Client) Tokens() Tokens {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tokens
}

// SetTokens replaces the tokens (without calling the TokenStore).
func (c *Client) SetTokens(t Tokens) {
	if t.ExpiresAt.IsZero() {
		t.ExpiresAt = tokenExpiry(t.AccessToken)
	}
	c.mu.Lock()
	c.tokens = t
	c.mu.Unlock()
}

// SignedIn reports whether the client holds an access or refresh token.
func (c *Client) SignedIn() bool {
	t := c.Tokens()
	return t.AccessToken != "" || t.RefreshToken != ""
}

// AccessToken returns an access token valid for at least the refresh
// margin, refreshing first when the current one is about to expire.
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	t := c.Tokens()
	if t.AccessToken != "" && !c.stale(t) {
		return t.AccessToken, nil
	}
	if t.RefreshToken == "" {
		if t.AccessToken != "" {
			return t.AccessToken, nil // let the server decide
		}
		return "", &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: "not signed in"}
	}
	if err := c.refresh(ctx, t.AccessToken); err != nil {
		return "", err
	}
	return c.Tokens().AccessToken, nil
}

// stale reports whether t should be refreshed before use.
func (c *Client) stale(t Tokens) bool {
	if t.ExpiresAt.IsZero() {
		return false
	}
	return c.now().Add(c.margin(t)).After(t.ExpiresAt)
}

// margin is how long before expiry t is refreshed: refreshBefore, but never
// more than half the token's remaining life at issue (so a server with very
// short tokens does not cause a refresh before every call).
func (c *Client) margin(t Tokens) time.Duration {
	m := c.refreshBefore
	if iat, exp := tokenTimes(t.AccessToken); !iat.IsZero() && exp.After(iat) {
		m = min(m, exp.Sub(iat)/2)
	}
	return m
}

// Refresh rotates the tokens now.
func (c *Client) Refresh(ctx context.Context) error {
	return c.refresh(ctx, c.Tokens().AccessToken)
}

// refresh rotates the refresh token unless another goroutine already did
// since the caller saw the access token used.
func (c *Client) refresh(ctx context.Context, used string) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	t := c.Tokens()
	if t.AccessToken != used && t.AccessToken != "" {
		return nil // rotated meanwhile by someone else
	}
	if l, ok := c.store.(TokenLoader); ok && t.RefreshToken != "" {
		if st, err := l.LoadTokens(ctx); err == nil && st.RefreshToken != "" && st.RefreshToken != t.RefreshToken {
			if st.ExpiresAt.IsZero() {
				st.ExpiresAt = tokenExpiry(st.AccessToken)
			}
			c.mu.Lock()
			c.tokens = st
			c.mu.Unlock()
			if st.AccessToken != used && !c.stale(st) {
				return nil // another process already rotated: use its tokens
			}
			t = st
		}
	}
	if t.RefreshToken == "" {
		return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: "not signed in (no refresh token)"}
	}
	var out tokenResponse
	err := c.send(ctx, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": t.RefreshToken}, &out)
	if err != nil {
		return fmt.Errorf("refresh session: %w", err)
	}
	return c.adoptLocked(ctx, out)
}

// adoptLocked installs tokens from a login or refresh answer and saves
// them; refreshMu must be held.
func (c *Client) adoptLocked(ctx context.Context, out tokenResponse) error {
	t := Tokens{AccessToken: out.AccessToken, RefreshToken: out.RefreshToken, SessionID: out.SessionID}
	if out.ExpiresIn > 0 {
		t.ExpiresAt = c.now().Add(time.Duration(out.ExpiresIn) * time.Second)
	} else {
		t.ExpiresAt = tokenExpiry(out.AccessToken)
	}
	c.mu.Lock()
	c.tokens = t
	c.mu.Unlock()
	if c.store != nil {
		if err := c.store.SaveTokens(ctx, t); err != nil {
			return fmt.Errorf("save tokens: %w", err)
		}
	}
	return nil
}

// tokenExpiry returns when a JWT expires, or the zero time.
func tokenExpiry(jwt string) time.Time {
	_, exp := tokenTimes(jwt)
	return exp
}

// tokenTimes reads the iat and exp claims of a JWT without verifying it:
// the values only schedule refreshes, the server still decides validity.
func tokenTimes(jwt string) (iat, exp time.Time) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 || len(parts[1]) > 4096 {
		return
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return
	}
	var claims struct {
		Iat int64 `json:"iat"`
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(b, &claims) != nil {
		return
	}
	if claims.Iat > 0 {
		iat = time.Unix(claims.Iat, 0)
	}
	if claims.Exp > 0 {
		exp = time.Unix(claims.Exp, 0)
	}
	return
}

// do performs an authenticated call: in is sent as JSON (nil for no body),
// the answer decoded into out (nil to discard). A 401 triggers one refresh
// and one retry.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	_, err := c.doStatus(ctx, method, path, in, out)
	return err
}

// doStatus is do that also returns the HTTP status of a success (201 vs
// 200 tells a created resource from an existing one).
func (c *Client) doStatus(ctx context.Context, method, path string, in, out any) (int, error) {
	tok, err := c.AccessToken(ctx)
	if err != nil {
		return 0, err
	}
	status, err := c.sendStatus(ctx, method, path, tok, in, out)
	if !IsCode(err, CodeUnauthenticated) || c.Tokens().RefreshToken == "" {
		return status, err
	}
	if rerr := c.refresh(ctx, tok); rerr != nil {
		if IsCode(rerr, CodeUnauthenticated) {
			return status, err // the session is over: report the original refusal
		}
		return status, rerr
	}
	return c.sendStatus(ctx, method, path, c.Tokens().AccessToken, in, out)
}

// maxResponse bounds what the client reads from one answer.
const maxResponse = 64 << 20

// send performs one HTTP exchange with bearer token tok (empty for none).
func (c *Client) send(ctx context.Context, method, path, tok string, in, out any) error {
	_, err := c.sendStatus(ctx, method, path, tok, in, out)
	return err
}

func (c *Client) sendStatus(ctx context.Context, method, path, tok string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// url.Error includes the URL, which never carries a secret here.
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return resp.StatusCode, decodeError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
		return resp.StatusCode, nil
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxResponse))
	if err := dec.Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return resp.StatusCode, nil
}

// query builds "?k=v&…" from the non-empty values.
func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// esc escapes one path segment.
func esc(s string) string { return url.PathEscape(s) }

var errEmptyID = errors.New("empty id")

// need returns an error naming what is missing when an ID is empty: an
// empty segment would silently address another endpoint.
func need(what, id string) error {
	if id == "" {
		return fmt.Errorf("%s: %w", what, errEmptyID)
	}
	return nil
}
