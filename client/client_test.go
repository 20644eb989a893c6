package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
)

// fakeJWT builds an unsigned token with iat and exp: the client only reads
// them to schedule refreshes.
func fakeJWT(iat, exp time.Time, nonce string) string {
	payload, _ := json.Marshal(map[string]any{"iat": iat.Unix(), "exp": exp.Unix(), "jti": nonce})
	return "e30." + base64.RawURLEncoding.EncodeToString(payload) + ".sig"
}

// tokenServer is a fake of the account endpoints that tracks which tokens
// are valid and counts refreshes.
type tokenServer struct {
	mu        sync.Mutex
	access    map[string]bool
	refresh   map[string]bool
	refreshes atomic.Int32
	n         int
	ttl       time.Duration
	now       func() time.Time
}

func newTokenServer(t *testing.T) (*tokenServer, *httptest.Server) {
	ts, mux := newTokenMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return ts, srv
}

func newTokenMux() (*tokenServer, *http.ServeMux) {
	ts := &tokenServer{access: map[string]bool{}, refresh: map[string]bool{}, ttl: 15 * time.Minute, now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/auth/login", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		json.NewDecoder(r.Body).Decode(&in)
		if in["password"] != "right password" {
			writeErr(w, 401, "unauthenticated", "wrong username or password")
			return
		}
		ts.issue(w)
	})
	mux.HandleFunc("POST /api/v1/auth/refresh", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		json.NewDecoder(r.Body).Decode(&in)
		ts.mu.Lock()
		ok := ts.refresh[in["refresh_token"]]
		delete(ts.refresh, in["refresh_token"])
		ts.mu.Unlock()
		if !ok {
			writeErr(w, 401, "unauthenticated", "refresh token reused")
			return
		}
		ts.refreshes.Add(1)
		ts.issue(w)
	})
	mux.HandleFunc("GET /api/v1/users/me", func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		ts.mu.Lock()
		ok := ts.access[tok]
		ts.mu.Unlock()
		if !ok {
			writeErr(w, 401, "unauthenticated", "token expired")
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"user": unhidra.User{ID: "u1", Username: "bob"}})
	})
	mux.HandleFunc("POST /api/v1/auth/logout", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		json.NewDecoder(r.Body).Decode(&in)
		ts.mu.Lock()
		delete(ts.refresh, in["refresh_token"])
		ts.mu.Unlock()
		w.WriteHeader(204)
	})
	return ts, mux
}

func (ts *tokenServer) issue(w http.ResponseWriter) {
	ts.mu.Lock()
	ts.n++
	now := ts.now()
	at := fakeJWT(now, now.Add(ts.ttl), fmt.Sprint(ts.n))
	rt := fmt.Sprintf("rt-%d", ts.n)
	ts.access[at], ts.refresh[rt] = true, true
	ts.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": at, "refresh_token": rt, "expires_in": int(ts.ttl / time.Second),
		"session_id": "s1", "user": unhidra.User{ID: "u1", Username: "bob"},
	})
}

// expireAll makes every access token issued so far invalid.
func (ts *tokenServer) expireAll() {
	ts.mu.Lock()
	clear(ts.access)
	ts.mu.Unlock()
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "localhost:8080", "ftp://x", "http://", "http://h/?q=1", "http://user:pw@h"} {
		if _, err := New(u); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	c, err := New("https://chat.example.com/prefix/")
	if err != nil || c.BaseURL() != "https://chat.example.com/prefix" || c.wsURL("/api/v1/ws") != "wss://chat.example.com/prefix/api/v1/ws" {
		t.Fatalf("New: %v %q", err, c.BaseURL())
	}
}

func TestErrorDecoding(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case "limited":
			w.Header().Set("Retry-After", "7")
			writeErr(w, 429, "rate_limited", "slow down")
		case "proxy":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			fmt.Fprint(w, "<html>bad gateway</html>")
		default:
			writeErr(w, 404, "not_found", "user not found")
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, _ := New(srv.URL, WithTokens(Tokens{AccessToken: "opaque"}))
	ctx := t.Context()

	tests := []struct {
		id, code string
		status   int
		retry    time.Duration
	}{
		{"nobody", CodeNotFound, 404, 0},
		{"limited", CodeRateLimited, 429, 7 * time.Second},
		{"proxy", CodeUnavailable, 502, 0},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			_, err := c.User(ctx, tt.id)
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.code || e.Status != tt.status || e.RetryAfter != tt.retry || e.Message == "" {
				t.Fatalf("err = %#v", err)
			}
			if !IsCode(fmt.Errorf("wrapped: %w", err), tt.code) || ErrorCode(err) != tt.code {
				t.Fatal("IsCode/ErrorCode do not see through wrapping")
			}
		})
	}
	if _, err := c.User(ctx, ""); err == nil || ErrorCode(err) != "" {
		t.Fatalf("empty id: %v", err)
	}
}

func TestLoginRefreshOn401AndStore(t *testing.T) {
	ts, srv := newTokenServer(t)
	var saved []Tokens
	var mu sync.Mutex
	store := TokenStoreFunc(func(_ context.Context, tk Tokens) error {
		mu.Lock()
		saved = append(saved, tk)
		mu.Unlock()
		return nil
	})
	c, _ := New(srv.URL, WithTokenStore(store))
	ctx := t.Context()
	if _, err := c.Login(ctx, "bob", "wrong"); !IsCode(err, CodeUnauthenticated) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := c.Login(ctx, "bob", "right password"); err != nil {
		t.Fatal(err)
	}
	first := c.Tokens()
	if len(saved) != 1 || saved[0] != first || first.ExpiresAt.IsZero() {
		t.Fatalf("login saved %v, tokens %v", saved, first)
	}

	// The server forgets the access token (a restart with new keys, a
	// clock jump): the call is refreshed and retried once.
	ts.expireAll()
	if u, err := c.Me(ctx); err != nil || u.ID != "u1" {
		t.Fatalf("me after expiry: %v %v", u, err)
	}
	if ts.refreshes.Load() != 1 || len(saved) != 2 || saved[1] == first || saved[1] != c.Tokens() {
		t.Fatalf("refreshes %d, saved %d", ts.refreshes.Load(), len(saved))
	}

	// Parallel calls that all meet a 401 refresh once, not once each: a
	// second use of a refresh token would count as theft.
	ts.expireAll()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := c.Me(ctx)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := ts.refreshes.Load(); n != 2 {
		t.Fatalf("parallel 401s caused %d refreshes in all, want 2", n)
	}

	// Logout forgets the tokens and saves the empty set.
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if c.SignedIn() || saved[len(saved)-1] != (Tokens{}) {
		t.Fatalf("after logout: signed in %v, last saved %v", c.SignedIn(), saved[len(saved)-1])
	}
	if _, err := c.Me(ctx); !IsCode(err, CodeUnauthenticated) {
		t.Fatalf("me after logout: %v", err)
	}
}

func TestRefreshBeforeExpiry(t *testing.T) {
	ts, srv := newTokenServer(t)
	var now atomic.Int64
	now.Store(time.Now().Unix())
	clock := func() time.Time { return time.Unix(now.Load(), 0) }
	ts.now = clock
	c, _ := New(srv.URL, WithClock(clock))
	ctx := t.Context()
	if _, err := c.Login(ctx, "bob", "right password"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Me(ctx); err != nil || ts.refreshes.Load() != 0 {
		t.Fatalf("fresh token refreshed: %v %d", err, ts.refreshes.Load())
	}
	// 30 s before expiry the token is inside the 60 s margin: the client
	// refreshes before the call instead of waiting for a 401.
	now.Add(int64((15*time.Minute - 30*time.Second) / time.Second))
	old := c.Tokens().AccessToken
	if _, err := c.Me(ctx); err != nil || ts.refreshes.Load() != 1 || c.Tokens().AccessToken == old {
		t.Fatalf("stale token not refreshed: %v %d", err, ts.refreshes.Load())
	}
}

func TestSessionOverReportsUnauthenticated(t *testing.T) {
	ts, srv := newTokenServer(t)
	c, _ := New(srv.URL)
	ctx := t.Context()
	if _, err := c.Login(ctx, "bob", "right password"); err != nil {
		t.Fatal(err)
	}
	ts.mu.Lock()
	clear(ts.access)
	clear(ts.refresh) // the session was revoked elsewhere
	ts.mu.Unlock()
	_, err := c.Me(ctx)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeUnauthenticated || e.Status != 401 {
		t.Fatalf("me with a revoked session: %v", err)
	}
}

func TestStoreFailureFailsTheCall(t *testing.T) {
	_, srv := newTokenServer(t)
	boom := errors.New("disk full")
	c, _ := New(srv.URL, WithTokenStore(TokenStoreFunc(func(context.Context, Tokens) error { return boom })))
	if _, err := c.Login(t.Context(), "bob", "right password"); !errors.Is(err, boom) {
		t.Fatalf("login with a failing store: %v", err)
	}
}

func TestTokensNeverPrinted(t *testing.T) {
	tk := Tokens{AccessToken: "secret-access", RefreshToken: "secret-refresh", SessionID: "s1"}
	for _, s := range []string{fmt.Sprint(tk), fmt.Sprintf("%v %+v %s", tk, tk, tk)} {
		if strings.Contains(s, "secret") {
			t.Fatalf("tokens printed: %s", s)
		}
	}
}

func TestMessagesQuery(t *testing.T) {
	tests := []struct {
		opts MessagesOptions
		want string
	}{
		{MessagesOptions{}, ""},
		{MessagesOptions{After: 5, Limit: 10}, "?after=5&limit=10"},
		{MessagesOptions{FromStart: true}, "?after=0"},
		{MessagesOptions{Before: 9}, "?before=9"},
	}
	for _, tt := range tests {
		if got := tt.opts.query(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.opts, got, tt.want)
		}
	}
}

func TestSendFillsClientMsgIDAndDMCreated(t *testing.T) {
	var ids []string
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/channels/{id}/messages", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			t.Error(err)
		}
		id, _ := in["client_msg_id"].(string)
		ids = append(ids, id)
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(map[string]any{"message": unhidra.Message{ID: "m1", ChannelID: r.PathValue("id"), ClientMsgID: id, Body: in["body"].(string)}})
	})
	mux.HandleFunc("POST /api/v1/channels", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Kind      string
			Members   []string
			Encrypted *bool
		}
		json.NewDecoder(r.Body).Decode(&in)
		if in.Kind != "direct" || in.Encrypted == nil || *in.Encrypted {
			writeErr(w, 400, "invalid_argument", "want an unencrypted DM")
			return
		}
		w.WriteHeader(200) // existing DM
		json.NewEncoder(w).Encode(map[string]any{"channel": unhidra.Channel{ID: "dm1", Kind: "direct"}})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, _ := New(srv.URL, WithTokens(Tokens{AccessToken: "opaque"}))
	in := &unhidra.SendInput{ChannelID: "c1", Body: "hi"}
	m, err := c.Send(t.Context(), in)
	if err != nil || m.ClientMsgID == "" || in.ClientMsgID != m.ClientMsgID || len(in.ClientMsgID) > 64 {
		t.Fatalf("send: %v %+v", err, m)
	}
	// A retry of the same input reuses the id, so the server stores it once.
	c.Send(t.Context(), in)
	if ids[0] != ids[1] {
		t.Fatalf("retry used a new client_msg_id: %v", ids)
	}
	ch, created, err := c.CreateDM(t.Context(), []string{"u2"}, false)
	if err != nil || ch.ID != "dm1" || created {
		t.Fatalf("dm: %v %v %v", ch, created, err)
	}
}

func TestParseFrame(t *testing.T) {
	tests := []struct {
		in      string
		typ, ch string
		seq     int64
		event   bool
	}{
		{`{"type":"message","channel_id":"c1","seq":4,"message":{"id":"m","channel_id":"c1","seq":4}}`, "message", "c1", 4, true},
		{`{"type":"read","channel_id":"c1","user_id":"u","seq":3}`, "read", "c1", 3, false},
		{`{"type":"pong"}`, "pong", "", 0, false},
	}
	for _, tt := range tests {
		f, err := ParseFrame([]byte(tt.in))
		if err != nil || f.Type != tt.typ || f.ChannelID != tt.ch || f.Seq != tt.seq || f.IsChannelEvent() != tt.event {
			t.Errorf("%s: %+v %v", tt.in, f, err)
		}
	}
	for _, bad := range []string{``, `[]`, `{"seq":1}`, `{"type":1}`} {
		if _, err := ParseFrame([]byte(bad)); err == nil {
			t.Errorf("ParseFrame(%q) accepted", bad)
		}
	}
	f, _ := ParseFrame([]byte(`{"type":"error","code":"not_found","message":"no such channel","ref":"abc"}`))
	if e := f.Err(); e == nil || e.Code != CodeNotFound || e.Ref != "abc" {
		t.Fatalf("error frame: %v", e)
	}
}

func FuzzParseFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","session_id":"s","user":{"id":"u"}}`,
		`{"type":"message","channel_id":"c1","seq":4,"message":{"id":"m","channel_id":"c1","seq":4}}`,
		`{"type":"resumed","channel_id":"c","from":1,"to":9}`,
		`{"type":"error","code":"invalid_argument","message":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseFrame(b)
		if err != nil {
			return
		}
		if fr.Type == "" {
			t.Fatal("frame without type accepted")
		}
		fr.Message()
		fr.Err()
	})
}

// sharedStore is a TokenStore that two clients share, like two CLI
// processes sharing one credentials file.
type sharedStore struct {
	mu sync.Mutex
	t  Tokens
}

func (s *sharedStore) SaveTokens(_ context.Context, t Tokens) error {
	s.mu.Lock()
	s.t = t
	s.mu.Unlock()
	return nil
}

func (s *sharedStore) LoadTokens(context.Context) (Tokens, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t, nil
}

// TestSharedStoreAdoptsRotation: when another process rotated the tokens,
// the client takes its successor instead of presenting a spent refresh
// token (which the server would treat as theft).
func TestSharedStoreAdoptsRotation(t *testing.T) {
	ts, srv := newTokenServer(t)
	store := &sharedStore{}
	a, _ := New(srv.URL, WithTokenStore(store))
	ctx := t.Context()
	if _, err := a.Login(ctx, "bob", "right password"); err != nil {
		t.Fatal(err)
	}
	b, _ := New(srv.URL, WithTokenStore(store), WithTokens(store.t))
	if err := a.Refresh(ctx); err != nil { // a rotates; b's refresh token is now spent
		t.Fatal(err)
	}
	ts.mu.Lock()
	delete(ts.access, b.Tokens().AccessToken) // b's access token expires
	ts.mu.Unlock()
	if _, err := b.Me(ctx); err != nil {
		t.Fatalf("b after a rotated: %v", err)
	}
	if ts.refreshes.Load() != 1 || b.Tokens() != a.Tokens() {
		t.Fatalf("refreshes %d; b adopted a's tokens: %v", ts.refreshes.Load(), b.Tokens() == a.Tokens())
	}
}
