package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unhidra/unhidra/auth/sso"
	"github.com/unhidra/unhidra/config"
	"github.com/unhidra/unhidra/internal/oidctest"
	"github.com/unhidra/unhidra/internal/testserver"
)

// ssoEnv is a node configured with in-test OpenID Connect providers.
type ssoEnv struct {
	t         *testing.T
	node      *testserver.Node
	providers map[string]*oidctest.Provider
	watcher   string // access token of a user who counts the others
	log       *refusalLog
}

// refusalLog records the err attribute of the node's "sso callback
// refused" lines, so a test can tell which check refused a flow.
type refusalLog struct {
	mu   sync.Mutex
	errs []string
}

func (l *refusalLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *refusalLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *refusalLog) WithGroup(string) slog.Handler            { return l }
func (l *refusalLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "sso callback refused" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			l.mu.Lock()
			l.errs = append(l.errs, a.Value.String())
			l.mu.Unlock()
		}
		return true
	})
	return nil
}

func (l *refusalLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return ""
	}
	return l.errs[len(l.errs)-1]
}

// ssoProvider configures one provider for newSSOEnv.
type ssoProvider struct {
	id     string
	mutate func(*config.OIDCProvider)
}

func newSSOEnv(t *testing.T, engine string, providers ...ssoProvider) *ssoEnv {
	t.Helper()
	if len(providers) == 0 {
		providers = []ssoProvider{{id: "test"}}
	}
	e := &ssoEnv{t: t, providers: map[string]*oidctest.Provider{}, log: &refusalLog{}}
	cfg := testserver.Config(t, engine)
	for _, pc := range providers {
		p := oidctest.Start(t)
		p.AddClient("unhidra-"+pc.id, "secret-"+pc.id)
		e.providers[pc.id] = p
		oc := config.OIDCProvider{ID: pc.id, Name: "Sign in with " + pc.id, Issuer: p.Issuer,
			ClientID: "unhidra-" + pc.id, ClientSecret: config.Secret("secret-" + pc.id), AllowSignup: true}
		if pc.mutate != nil {
			pc.mutate(&oc)
		}
		cfg.OIDC = append(cfg.OIDC, oc)
	}
	e.node = testserver.StartWithLog(t, cfg, e.log)
	for id, p := range e.providers {
		p.AddRedirectURI("unhidra-"+id, e.node.URL+sso.CallbackPath(id))
	}
	register(t, e.node, "watcher", "correct horse 1")
	e.watcher = login(t, e.node, "watcher", "correct horse 1").AccessToken
	return e
}

// in returns e for a subtest: its failures are the subtest's.
func (e *ssoEnv) in(t *testing.T) *ssoEnv {
	c := *e
	c.t = t
	return &c
}

// browser is an http.Client with a cookie jar that follows redirects
// until the next hop would be stopAt (a path on the node).
func (e *ssoEnv) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

// until makes c stop before a request whose URL path on the node satisfies
// stop, returning that redirect's response.
func (e *ssoEnv) until(c *http.Client, stop func(u *url.URL) bool) {
	node, _ := url.Parse(e.node.URL)
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		if req.URL.Host == node.Host && stop(req.URL) {
			return http.ErrUseLastResponse
		}
		return nil
	}
}

func isCallback(u *url.URL) bool  { return strings.HasSuffix(u.Path, "/callback") }
func isWebClient(u *url.URL) bool { return u.Path == "/" }

// get fetches u with c and returns the Location of the redirect it
// stopped at.
func (e *ssoEnv) get(c *http.Client, u string) *url.URL {
	e.t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		e.t.Fatalf("GET %s: %v", u, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		e.t.Fatalf("GET %s: ended at %s with %d %s, want a redirect", u, resp.Request.URL, resp.StatusCode, body)
	}
	loc, err := resp.Location()
	if err != nil {
		e.t.Fatalf("GET %s: %v", u, err)
	}
	return loc
}

// startFlow runs the browser from /start through the provider, stopping
// before the callback; it returns the callback URL.
func (e *ssoEnv) startFlow(c *http.Client, provider string) *url.URL {
	e.t.Helper()
	e.until(c, isCallback)
	return e.get(c, e.node.URL+"/api/v1/auth/oidc/"+provider+"/start")
}

// finish visits the callback URL and returns where the node sent the
// browser (the web client, with ?sso=… or ?sso_error=…).
func (e *ssoEnv) finish(c *http.Client, callback *url.URL) url.Values {
	e.t.Helper()
	e.until(c, isWebClient)
	loc := e.get(c, callback.String())
	if loc.Path != "/" {
		e.t.Fatalf("callback redirected to %s, want the web client at /", loc)
	}
	return loc.Query()
}

// signIn runs a whole sign-in and returns the session the web client gets
// from its cookie refresh.
func (e *ssoEnv) signIn(c *http.Client, provider string) tokens {
	e.t.Helper()
	q := e.finish(c, e.startFlow(c, provider))
	if q.Get("sso") != "signed_in" {
		e.t.Fatalf("sign-in with %s ended with %v", provider, q)
	}
	return e.cookieRefresh(c)
}

func (e *ssoEnv) cookieRefresh(c *http.Client) tokens {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.node.URL+"/api/v1/auth/refresh", strings.NewReader(`{"cookie":true}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Unhidra-CSRF", "1")
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("refresh: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("cookie refresh: %d %s", resp.StatusCode, body)
	}
	var out tokens
	if err := json.Unmarshal(body, &out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// expectRefused runs a flow's callback and wants the web client told
// code, and the node's log to give a reason containing why.
func (e *ssoEnv) expectRefused(c *http.Client, callback *url.URL, code string, why ...string) {
	e.t.Helper()
	q := e.finish(c, callback)
	if got := q.Get("sso_error"); got != code {
		e.t.Fatalf("callback ended with %v, want sso_error=%s", q, code)
	}
	for _, w := range why {
		if got := e.log.last(); !strings.Contains(got, w) {
			e.t.Fatalf("refused for %q, want a reason containing %q", got, w)
		}
	}
}

// users counts the accounts whose name contains q.
func (e *ssoEnv) users(q string) int {
	e.t.Helper()
	var out struct{ Users []user }
	newCall(e.t, e.node, "GET", "/api/v1/users?q="+url.QueryEscape(q)).bearer(e.watcher).expect(200, &out)
	return len(out.Users)
}

type identity struct {
	Provider, ProviderName, Subject string
	Provisioned                     bool
}

func (e *ssoEnv) identities(tok string) []identity {
	e.t.Helper()
	var out struct {
		Identities []struct {
			Provider     string `json:"provider"`
			ProviderName string `json:"provider_name"`
			Subject      string `json:"subject"`
			Provisioned  bool   `json:"provisioned"`
		}
	}
	newCall(e.t, e.node, "GET", "/api/v1/users/me/identities").bearer(tok).expect(200, &out)
	var ids []identity
	for _, i := range out.Identities {
		ids = append(ids, identity{i.Provider, i.ProviderName, i.Subject, i.Provisioned})
	}
	return ids
}

func TestSSOSignInProvisionsOnceOnBothEngines(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			e := newSSOEnv(t, engine)
			e.providers["test"].SignInAs(oidctest.User{Subject: "sub-alice", PreferredUsername: "alice", Email: "alice@example.com", Name: "Alice A."})

			var list struct {
				Providers []struct{ ID, Name string }
			}
			newCall(t, e.node, "GET", "/api/v1/auth/oidc/providers").expect(200, &list)
			if len(list.Providers) != 1 || list.Providers[0].ID != "test" || list.Providers[0].Name != "Sign in with test" {
				t.Fatalf("providers = %+v", list.Providers)
			}

			first := e.signIn(e.browser(), "test")
			if first.User.Username != "alice" || first.User.DisplayName != "Alice A." || first.User.Role != "member" {
				t.Fatalf("provisioned user = %+v", first.User)
			}
			newCall(t, e.node, "GET", "/api/v1/users/me").bearer(first.AccessToken).expect(200, nil)
			if ids := e.identities(first.AccessToken); len(ids) != 1 || ids[0] != (identity{"test", "Sign in with test", "sub-alice", true}) {
				t.Fatalf("identities = %+v", ids)
			}

			second := e.signIn(e.browser(), "test")
			if second.User.ID != first.User.ID || second.SessionID == first.SessionID {
				t.Fatalf("second sign-in: user %s session %s, want user %s in a new session", second.User.ID, second.SessionID, first.User.ID)
			}
			if n := e.users("alice"); n != 1 {
				t.Fatalf("%d users named alice, want 1", n)
			}
			// Each sign-in is audited with its session, in the same
			// transaction (outbox or already chained).
			var audited int
			if err := e.node.Store.Read().QueryRow(t.Context(), `SELECT
				(SELECT COUNT(*) FROM audit_outbox WHERE action = 'auth.sso_login') +
				(SELECT COUNT(*) FROM audit_log WHERE action = 'auth.sso_login')`).Scan(&audited); err != nil || audited != 2 {
				t.Fatalf("%d auth.sso_login entries (%v), want 2", audited, err)
			}
		})
	}
}

func TestSSOUsernameTakenIsNotLinked(t *testing.T) {
	e := newSSOEnv(t, "sqlite")
	local := register(t, e.node, "bob", "battery staple 2")
	e.providers["test"].SignInAs(oidctest.User{Subject: "sub-bob", PreferredUsername: "bob"})
	got := e.signIn(e.browser(), "test")
	if got.User.ID == local.ID || got.User.Username != "bob-2" {
		t.Fatalf("SSO user = %+v; want a new account bob-2, not the local bob", got.User)
	}
	login(t, e.node, "bob", "battery staple 2") // the local account is untouched
	if ids := e.identities(login(t, e.node, "bob", "battery staple 2").AccessToken); len(ids) != 0 {
		t.Fatalf("local bob has identities %+v", ids)
	}
	// No preferred_username: the email's local part.
	e.providers["test"].SignInAs(oidctest.User{Subject: "sub-carl", Email: "carl.c@example.com"})
	if got := e.signIn(e.browser(), "test"); got.User.Username != "carl.c" {
		t.Fatalf("username from email = %q", got.User.Username)
	}
}

func TestSSORefusals(t *testing.T) {
	e := newSSOEnv(t, "sqlite")
	p := e.providers["test"]
	p.SignInAs(oidctest.User{Subject: "sub-dave", PreferredUsername: "dave"})

	t.Run("wrong state", func(t *testing.T) {
		e := e.in(t)
		c := e.browser()
		cb := e.startFlow(c, "test")
		q := cb.Query()
		q.Set("state", "not-the-state")
		cb.RawQuery = q.Encode()
		e.expectRefused(c, cb, sso.CodeInvalidState)
	})
	t.Run("missing state", func(t *testing.T) {
		e := e.in(t)
		c := e.browser()
		cb := e.startFlow(c, "test")
		q := cb.Query()
		q.Del("state")
		cb.RawQuery = q.Encode()
		e.expectRefused(c, cb, sso.CodeInvalidState)
	})
	t.Run("another browser", func(t *testing.T) {
		e := e.in(t)
		cb := e.startFlow(e.browser(), "test")
		e.expectRefused(e.browser(), cb, sso.CodeInvalidState, "binding cookie missing")
	})
	t.Run("state of another provider path", func(t *testing.T) {
		e := e.in(t)
		c := e.browser()
		cb := e.startFlow(c, "test")
		cb.Path = strings.Replace(cb.Path, "/test/", "/nope/", 1)
		e.expectRefused(c, cb, sso.CodeInvalidState)
	})
	t.Run("provider error", func(t *testing.T) {
		e := e.in(t)
		p.SetTamper(oidctest.Tamper{Error: "access_denied"})
		defer p.SetTamper(oidctest.Tamper{})
		c := e.browser()
		e.expectRefused(c, e.startFlow(c, "test"), sso.CodeProviderError)
	})
	t.Run("wrong audience", func(t *testing.T) {
		e := e.in(t)
		p.SetTamper(oidctest.Tamper{Audience: []string{"some-other-client"}})
		defer p.SetTamper(oidctest.Tamper{})
		c := e.browser()
		e.expectRefused(c, e.startFlow(c, "test"), sso.CodeInvalidToken, "audience")
	})
	t.Run("expired id token", func(t *testing.T) {
		e := e.in(t)
		p.SetTamper(oidctest.Tamper{IDTokenLifetime: -time.Hour})
		defer p.SetTamper(oidctest.Tamper{})
		c := e.browser()
		e.expectRefused(c, e.startFlow(c, "test"), sso.CodeInvalidToken, "expired")
	})
	t.Run("nonce mismatch", func(t *testing.T) {
		e := e.in(t)
		p.SetTamper(oidctest.Tamper{Nonce: "a-nonce-of-another-flow"})
		defer p.SetTamper(oidctest.Tamper{})
		c := e.browser()
		e.expectRefused(c, e.startFlow(c, "test"), sso.CodeInvalidToken, "nonce")
	})
	if n := e.users("dave"); n != 0 {
		t.Fatalf("refused flows created %d users", n)
	}

	t.Run("replayed callback", func(t *testing.T) {
		e := e.in(t)
		c := e.browser()
		cb := e.startFlow(c, "test")
		node, _ := url.Parse(e.node.URL + "/api/v1/auth/oidc/")
		binding := c.Jar.Cookies(node)
		if q := e.finish(c, cb); q.Get("sso") != "signed_in" {
			t.Fatalf("first use: %v", q)
		}
		// Even with the binding cookie kept (the callback cleared it),
		// the state is spent.
		c.Jar.SetCookies(node, binding)
		e.expectRefused(c, cb, sso.CodeInvalidState, "already used")
	})
	t.Run("replayed code in a new flow", func(t *testing.T) {
		e := e.in(t)
		c := e.browser()
		used := e.startFlow(c, "test")
		e.finish(c, used)
		fresh := e.startFlow(c, "test")
		q := fresh.Query()
		q.Set("code", used.Query().Get("code"))
		fresh.RawQuery = q.Encode()
		e.expectRefused(c, fresh, sso.CodeInvalidToken, "code exchange")
	})
	t.Run("unknown provider", func(t *testing.T) {
		e := e.in(t)
		newCall(t, e.node, "GET", "/api/v1/auth/oidc/nope/start").expectError(404, "not_found")
	})
}

func TestSSOSignupDisabled(t *testing.T) {
	e := newSSOEnv(t, "sqlite", ssoProvider{id: "closed", mutate: func(p *config.OIDCProvider) { p.AllowSignup = false }})
	e.providers["closed"].SignInAs(oidctest.User{Subject: "sub-erin", PreferredUsername: "erin"})
	c := e.browser()
	e.expectRefused(c, e.startFlow(c, "closed"), sso.CodeSignupDisabled)
	if n := e.users("erin"); n != 0 {
		t.Fatalf("%d users created", n)
	}
}

func TestSSOTwoProviders(t *testing.T) {
	e := newSSOEnv(t, "sqlite", ssoProvider{id: "okta"}, ssoProvider{id: "keycloak"})
	var list struct{ Providers []struct{ ID string } }
	newCall(t, e.node, "GET", "/api/v1/auth/oidc/providers").expect(200, &list)
	if len(list.Providers) != 2 || list.Providers[0].ID != "okta" || list.Providers[1].ID != "keycloak" {
		t.Fatalf("providers = %+v", list.Providers)
	}
	// The same subject at two providers is two people.
	e.providers["okta"].SignInAs(oidctest.User{Subject: "42", PreferredUsername: "frank"})
	e.providers["keycloak"].SignInAs(oidctest.User{Subject: "42", PreferredUsername: "frank"})
	a := e.signIn(e.browser(), "okta")
	b := e.signIn(e.browser(), "keycloak")
	if a.User.ID == b.User.ID || a.User.Username != "frank" || b.User.Username != "frank-2" {
		t.Fatalf("okta user %+v, keycloak user %+v", a.User, b.User)
	}
	// A flow started at one provider cannot finish at the other.
	c := e.browser()
	cb := e.startFlow(c, "okta")
	cb.Path = strings.Replace(cb.Path, "/okta/", "/keycloak/", 1)
	e.expectRefused(c, cb, sso.CodeInvalidState)
}

func TestSSOLinkNeedsSignedInUser(t *testing.T) {
	e := newSSOEnv(t, "sqlite", ssoProvider{id: "test", mutate: func(p *config.OIDCProvider) { p.AllowSignup = false }})
	p := e.providers["test"]
	p.SignInAs(oidctest.User{Subject: "sub-gina", PreferredUsername: "gina"})
	newCall(t, e.node, "POST", "/api/v1/auth/oidc/test/link").expectError(401, "unauthenticated")

	local := register(t, e.node, "gina", "battery staple 3")
	tok := login(t, e.node, "gina", "battery staple 3").AccessToken

	// The link call sets the binding cookie; the browser then follows url.
	c := e.browser()
	req, _ := http.NewRequest("POST", e.node.URL+"/api/v1/auth/oidc/test/link", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var link struct{ URL string }
	json.NewDecoder(resp.Body).Decode(&link)
	resp.Body.Close()
	if resp.StatusCode != 200 || link.URL == "" {
		t.Fatalf("link: %d %+v", resp.StatusCode, link)
	}
	e.until(c, isCallback)
	if q := e.finish(c, e.get(c, link.URL)); q.Get("sso") != "linked" {
		t.Fatalf("link ended with %v", q)
	}
	if ids := e.identities(tok); len(ids) != 1 || ids[0].Subject != "sub-gina" || ids[0].Provisioned {
		t.Fatalf("identities after link = %+v", ids)
	}
	// Now the identity signs in as the local account.
	if got := e.signIn(e.browser(), "test"); got.User.ID != local.ID {
		t.Fatalf("signed in as %+v, want the linked %s", got.User, local.ID)
	}
	// Another account cannot link the same identity.
	register(t, e.node, "hank", "battery staple 4")
	htok := login(t, e.node, "hank", "battery staple 4").AccessToken
	c2 := e.browser()
	req, _ = http.NewRequest("POST", e.node.URL+"/api/v1/auth/oidc/test/link", nil)
	req.Header.Set("Authorization", "Bearer "+htok)
	resp, err = c2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&link)
	resp.Body.Close()
	e.until(c2, isCallback)
	e.expectRefused(c2, e.get(c2, link.URL), sso.CodeIdentityInUse)

	newCall(t, e.node, "DELETE", "/api/v1/users/me/identities/test").bearer(tok).expect(204, nil)
	if ids := e.identities(tok); len(ids) != 0 {
		t.Fatalf("identities after unlink = %+v", ids)
	}
	newCall(t, e.node, "DELETE", "/api/v1/users/me/identities/test").bearer(tok).expectError(404, "not_found")
	c3 := e.browser()
	e.expectRefused(c3, e.startFlow(c3, "test"), sso.CodeSignupDisabled)
}

func TestSSOProvisionedIdentityCannotBeUnlinkedAlone(t *testing.T) {
	e := newSSOEnv(t, "sqlite")
	e.providers["test"].SignInAs(oidctest.User{Subject: "sub-ivy", PreferredUsername: "ivy"})
	tok := e.signIn(e.browser(), "test").AccessToken
	newCall(t, e.node, "DELETE", "/api/v1/users/me/identities/test").bearer(tok).expectError(409, "conflict")
}

func TestSSOGroupRoles(t *testing.T) {
	e := newSSOEnv(t, "sqlite", ssoProvider{id: "test", mutate: func(p *config.OIDCProvider) {
		p.GroupsClaim = "groups"
		p.GroupRoles = map[string]string{"chat-admins": "admin", "staff": "member"}
	}})
	p := e.providers["test"]
	role := func(sub, name string, groups ...string) string {
		t.Helper()
		p.SignInAs(oidctest.User{Subject: sub, PreferredUsername: name, Groups: groups})
		return e.signIn(e.browser(), "test").User.Role
	}
	if r := role("sub-a", "jane", "staff"); r != "member" {
		t.Fatalf("staff: role %s", r)
	}
	if r := role("sub-a", "jane", "staff", "chat-admins"); r != "admin" {
		t.Fatalf("chat-admins: role %s", r)
	}
	if r := role("sub-b", "kate", "chat-admins"); r != "admin" {
		t.Fatalf("second admin: role %s", r)
	}
	if r := role("sub-b", "kate"); r != "member" {
		t.Fatalf("admin group removed: role %s", r)
	}
	// jane is now the last admin: the mapping does not demote her.
	if r := role("sub-a", "jane"); r != "admin" {
		t.Fatalf("last admin demoted: role %s", r)
	}
}

func TestSSOProviderDownAtStart(t *testing.T) {
	e := newSSOEnv(t, "sqlite")
	e.providers["test"].Close() // discovery has not run yet: it happens at the first start
	c := e.browser()
	e.until(c, isWebClient)
	loc := e.get(c, e.node.URL+"/api/v1/auth/oidc/test/start")
	if loc.Path != "/" || loc.Query().Get("sso_error") != sso.CodeUnavailable {
		t.Fatalf("start with the provider down redirected to %s", loc)
	}
}

// TestSSOFlowFinishesOnAnotherNode: behind a load balancer the callback
// may reach a node other than the one that started the flow; the state is
// in the shared database, so that node finishes it.
func TestSSOFlowFinishesOnAnotherNode(t *testing.T) {
	const public = "http://chat.example.test" // both nodes' --public-url: never dialled
	p := oidctest.Start(t)
	p.AddClient("unhidra", "secret", public+sso.CallbackPath("corp"))
	p.SignInAs(oidctest.User{Subject: "sub-lb", PreferredUsername: "lena"})
	key := make([]byte, 32)
	rand.Read(key)
	a := testserver.Config(t, "postgres")
	a.PublicURL = public
	a.KeyEncryptionKey = config.Secret(base64.StdEncoding.EncodeToString(key))
	a.OIDC = []config.OIDCProvider{{ID: "corp", Name: "Corp", Issuer: p.Issuer, ClientID: "unhidra", ClientSecret: "secret", AllowSignup: true}}
	b := a
	b.DataDir = t.TempDir()
	nodeA := testserver.Start(t, a)
	nodeB := testserver.Start(t, b)

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == "chat.example.test" || req.URL.Path == "/" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(nodeA.URL + "/api/v1/auth/oidc/corp/start")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, err := resp.Location()
	if err != nil || cb.Path != sso.CallbackPath("corp") {
		t.Fatalf("flow ended at %v (%v), want the callback", cb, err)
	}
	// The load balancer sends the callback to node B (cookies are per
	// host, not per port: the binding cookie node A set comes along).
	nb, _ := url.Parse(nodeB.URL)
	cb.Scheme, cb.Host = nb.Scheme, nb.Host
	resp, err = c.Get(cb.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc, _ := resp.Location(); resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("sso") != "signed_in" {
		t.Fatalf("node B answered the callback with %d to %v", resp.StatusCode, loc)
	}
	e := &ssoEnv{t: t, node: nodeA}
	if got := e.cookieRefresh(c); got.User.Username != "lena" {
		t.Fatalf("signed in as %+v", got.User)
	}
}

// TestSSOTwoFlowsInOneBrowser: flows started in two tabs of one browser
// (one cookie jar) both finish, in either order: each flow has its own
// binding cookie, and finishing one leaves the other's alone.
func TestSSOTwoFlowsInOneBrowser(t *testing.T) {
	e := newSSOEnv(t, "sqlite", ssoProvider{id: "okta"}, ssoProvider{id: "keycloak"})
	e.providers["okta"].SignInAs(oidctest.User{Subject: "7", PreferredUsername: "gina"})
	e.providers["keycloak"].SignInAs(oidctest.User{Subject: "8", PreferredUsername: "hal"})
	c := e.browser()
	first := e.startFlow(c, "okta")
	second := e.startFlow(c, "keycloak")
	if q := e.finish(c, second); q.Get("sso") != "signed_in" {
		t.Fatalf("the second flow ended with %v", q)
	}
	if q := e.finish(c, first); q.Get("sso") != "signed_in" {
		t.Fatalf("the first flow, finished after the second, ended with %v", q)
	}
	if got := e.cookieRefresh(c); got.User.Username != "gina" {
		t.Fatalf("signed in as %+v, want gina (the last flow finished)", got.User)
	}
	// Each binding was spent with its flow.
	e.expectRefused(c, first, sso.CodeInvalidState)
}

// linkIdentity links the provider's signed-in identity to the holder of
// tok through the browser flow.
func (e *ssoEnv) linkIdentity(provider, tok string) {
	e.t.Helper()
	c := e.browser()
	req, _ := http.NewRequest("POST", e.node.URL+"/api/v1/auth/oidc/"+provider+"/link", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	var link struct{ URL string }
	json.NewDecoder(resp.Body).Decode(&link)
	resp.Body.Close()
	if resp.StatusCode != 200 || link.URL == "" {
		e.t.Fatalf("link: %d %+v", resp.StatusCode, link)
	}
	e.until(c, isCallback)
	if q := e.finish(c, e.get(c, link.URL)); q.Get("sso") != "linked" {
		e.t.Fatalf("link ended with %v", q)
	}
}

// TestSSOIdentityChangesAudited: linking and unlinking an identity, an
// account provisioned by a first sign-in and a role the group mapping
// changed are each in the audit log as soon as the action answers (the
// same transaction as the change); a refused unlink records nothing.
func TestSSOIdentityChangesAudited(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			e := newSSOEnv(t, engine, ssoProvider{id: "test", mutate: func(p *config.OIDCProvider) {
				p.GroupsClaim = "groups"
				p.GroupRoles = map[string]string{"chat-admins": "admin"}
			}})
			n := e.node
			gina := register(t, n, "gina", "battery staple 3")
			tok := login(t, n, "gina", "battery staple 3").AccessToken
			e.providers["test"].SignInAs(oidctest.User{Subject: "sub-gina", PreferredUsername: "gina"})
			e.linkIdentity("test", tok)
			if r := auditedOne(t, n, "auth.sso_link", nil); r.ActorID != gina.ID || r.TargetID != gina.ID || r.IP == "" ||
				r.Metadata["provider"] != "test" || r.Metadata["subject"] != "sub-gina" {
				t.Fatalf("sso_link: %+v", r)
			}
			newCall(t, n, "DELETE", "/api/v1/users/me/identities/test").bearer(tok).expect(204, nil)
			if r := auditedOne(t, n, "auth.sso_unlink", nil); r.ActorID != gina.ID || r.Metadata["provider"] != "test" || r.Metadata["subject"] != "sub-gina" {
				t.Fatalf("sso_unlink: %+v", r)
			}
			newCall(t, n, "DELETE", "/api/v1/users/me/identities/test").bearer(tok).expectError(404, "not_found")
			if got := audited(t, n, "auth.sso_unlink"); len(got) != 1 {
				t.Fatalf("a refused unlink was audited: %+v", got)
			}

			// A first sign-in provisions an account; the group mapping
			// makes it an admin.
			e.providers["test"].SignInAs(oidctest.User{Subject: "sub-nora", PreferredUsername: "nora", Groups: []string{"chat-admins"}})
			nora := e.signIn(e.browser(), "test")
			r := auditedOne(t, n, "auth.register", map[string]string{"via": "sso"})
			if r.TargetID != nora.User.ID || r.Metadata["provider"] != "test" || r.Metadata["subject"] != "sub-nora" || r.Metadata["role"] != "member" {
				t.Fatalf("register via sso: %+v", r)
			}
			r = auditedOne(t, n, "admin.user_update", map[string]string{"via": "sso_groups"})
			if r.ActorType != "system" || r.TargetID != nora.User.ID || r.Metadata["old_role"] != "member" || r.Metadata["role"] != "admin" {
				t.Fatalf("role by sso groups: %+v", r)
			}
		})
	}
}
