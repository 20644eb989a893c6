package httpapi_test

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/unhidra/unhidra/internal/testserver"
	"github.com/unhidra/unhidra/ratelimit"
)

func spec(t *testing.T, s string) ratelimit.Spec {
	t.Helper()
	sp, err := ratelimit.ParseSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func loginFrom(t *testing.T, n *testserver.Node, xff, username, password string) *result {
	t.Helper()
	c := newCall(t, n, "POST", "/api/v1/auth/login").json(map[string]string{"username": username, "password": password})
	if xff != "" {
		c.with("X-Forwarded-For", xff)
	}
	return c.do()
}

func TestLoginRateLimitPerIP(t *testing.T) {
	cfg := testserver.Config(t, "sqlite")
	cfg.RateLogin = spec(t, "3/min")
	n := testserver.Start(t, cfg)
	for i := 0; i < 3; i++ {
		if r := loginFrom(t, n, "", "nobody", "whatever pass"); r.Status != 401 {
			t.Fatalf("attempt %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := newCall(t, n, "POST", "/api/v1/auth/login").json(map[string]string{"username": "nobody", "password": "x"}).expectError(429, "rate_limited")
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 60 {
		t.Fatalf("Retry-After = %q", r.Header.Get("Retry-After"))
	}
	// Without trusted proxies, X-Forwarded-For is the attacker's to write and
	// must not buy a fresh bucket.
	if r := loginFrom(t, n, "203.0.113.9", "nobody", "x"); r.Status != 429 {
		t.Fatalf("spoofed X-Forwarded-For escaped the limit: %d", r.Status)
	}
	m := metricsText(t, n)
	if !strings.Contains(m, `rate_limit_hits_total{limit="login"} 2`) {
		t.Fatalf("rate limit hits not counted:\n%s", grep(m, "rate_limit"))
	}
}

func TestRateLimitBehindTrustedProxy(t *testing.T) {
	cfg := testserver.Config(t, "sqlite")
	cfg.RateLogin = spec(t, "2/min")
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	n := testserver.Start(t, cfg)

	for i := 0; i < 2; i++ {
		loginFrom(t, n, "198.51.100.7", "nobody", "x")
	}
	if r := loginFrom(t, n, "198.51.100.7", "nobody", "x"); r.Status != 429 {
		t.Fatalf("third login from the same client: %d", r.Status)
	}
	// Another client behind the same proxy has its own bucket.
	if r := loginFrom(t, n, "198.51.100.8", "nobody", "x"); r.Status != 401 {
		t.Fatalf("other client: %d %s", r.Status, r.Body)
	}
	// A client prepending a fake hop cannot escape: the rightmost untrusted
	// address is the one that counts.
	if r := loginFrom(t, n, "10.9.9.9, 198.51.100.7", "nobody", "x"); r.Status != 429 {
		t.Fatalf("prepended hop escaped the limit: %d", r.Status)
	}
	// IPv6 clients are limited per /64.
	loginFrom(t, n, "2001:db8:1:2::1", "nobody", "x")
	loginFrom(t, n, "2001:db8:1:2::2", "nobody", "x")
	if r := loginFrom(t, n, "2001:db8:1:2:ffff::3", "nobody", "x"); r.Status != 429 {
		t.Fatalf("third login from the same /64: %d", r.Status)
	}
	if r := loginFrom(t, n, "2001:db8:1:3::1", "nobody", "x"); r.Status != 401 {
		t.Fatalf("another /64: %d", r.Status)
	}
}

func TestRegisterRateLimit(t *testing.T) {
	cfg := testserver.Config(t, "sqlite")
	cfg.RateRegister = spec(t, "2/h")
	n := testserver.Start(t, cfg)
	register(t, n, "user1", "long passphrase 1")
	register(t, n, "user2", "long passphrase 2")
	r := newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "user3", "password": "long passphrase 3"}).expectError(429, "rate_limited")
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra < 60 {
		t.Fatalf("Retry-After = %q, want about half an hour", r.Header.Get("Retry-After"))
	}
}

// TestAccountBackoff: failures against one account from one network slow
// that network down, while the real user on another network still logs in.
func TestAccountBackoff(t *testing.T) {
	cfg := testserver.Config(t, "sqlite")
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	n := testserver.Start(t, cfg)
	register(t, n, "bob", bobPW)

	const attacker = "192.0.2.50"
	var limited *result
	for i := 0; i < 10; i++ {
		r := loginFrom(t, n, attacker, "bob", "guess number "+strconv.Itoa(i))
		if r.Status == 429 {
			limited = r
			break
		}
		if r.Status != 401 {
			t.Fatalf("guess %d: %d %s", i, r.Status, r.Body)
		}
	}
	if limited == nil {
		t.Fatal("ten wrong passwords in a row were never slowed down")
	}
	if limited.Header.Get("Retry-After") == "" || !strings.Contains(string(limited.Body), "rate_limited") {
		t.Fatalf("backoff answer: %v %s", limited.Header, limited.Body)
	}
	// Even the right password waits on the attacker's network…
	if r := loginFrom(t, n, attacker, "bob", bobPW); r.Status != 429 {
		t.Fatalf("right password during backoff from the attacker's network: %d", r.Status)
	}
	// …but the real user elsewhere is not locked out.
	if r := loginFrom(t, n, "203.0.113.10", "bob", bobPW); r.Status != 200 {
		t.Fatalf("real user locked out: %d %s", r.Status, r.Body)
	}
}

func metricsText(t testing.TB, n *testserver.Node) string {
	t.Helper()
	return string(newCall(t, n, "GET", "/metrics").expect(200, nil).Body)
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
