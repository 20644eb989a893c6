package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/internal/testserver"
	"github.com/unhidra/unhidra/web"
)

// TestWebClientMounted: paths outside the API get the web client with its
// own headers; the API keeps its JSON answers, its headers and its method
// checks.
func TestWebClientMounted(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))

	for _, p := range []string{"/", "/c/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "/c/x/m/y"} {
		r := newCall(t, n, "GET", p).expect(200, nil)
		if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q (the API's no-store must not stay)", p, cc)
		}
		csp := r.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-") {
			t.Errorf("GET %s: policy %q", p, csp)
		}
		if r.Header.Get("X-Request-ID") == "" || r.Header.Get("X-Frame-Options") != "DENY" || r.Header.Get("Permissions-Policy") == "" {
			t.Errorf("GET %s: headers %v", p, r.Header)
		}
		if !strings.Contains(string(r.Body), "<html") {
			t.Errorf("GET %s: body %.200s", p, r.Body)
		}
	}
	r := newCall(t, n, "GET", "/").do()
	newCall(t, n, "GET", "/").with("If-None-Match", r.Header.Get("ETag")).expect(304, nil)
	if h := newCall(t, n, "HEAD", "/c/x").expect(200, nil); len(h.Body) != 0 {
		t.Errorf("HEAD has a body")
	}
	if r := newCall(t, n, "GET", "/assets/index-missing.js").expect(404, nil); strings.Contains(string(r.Body), "<html") {
		t.Errorf("a missing asset got HTML")
	}
	if r := newCall(t, n, "POST", "/c/x").expect(405, nil); r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST to the client: Allow %q", r.Header.Get("Allow"))
	}

	// The API's own answers are unchanged.
	for _, p := range []string{"/api", "/api/", "/api/v1/nothing", "/api/v2/users", "/.well-known/nothing", "/healthz/x"} {
		r := newCall(t, n, "GET", p).expectError(404, "not_found")
		if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Content-Security-Policy") != "default-src 'none'; frame-ancestors 'none'" {
			t.Errorf("GET %s: %v", p, r.Header)
		}
	}
	if r := newCall(t, n, "POST", "/api/v1/users/me").expect(405, nil); r.Header.Get("Allow") != "GET, PATCH" {
		t.Errorf("POST /api/v1/users/me: Allow %q", r.Header.Get("Allow"))
	}
	for _, p := range []string{"/", "/c/x", "/api/v1/users/me"} {
		if r := newCall(t, n, "BREW", p).do(); r.Status != 501 {
			t.Errorf("BREW %s: %d, want 501", p, r.Status)
		}
	}
	if got := newCall(t, n, "GET", "/healthz").expect(200, nil).Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("healthz Cache-Control %q", got)
	}

	// Requests the client answered have a route label of their own.
	if m := metricsText(t, n); !strings.Contains(m, `http_requests_total{code="200",method="GET",route="web"}`) {
		t.Errorf("no route=\"web\" series in the metrics")
	}
}

func TestServerInfo(t *testing.T) {
	type info struct {
		Server struct {
			Version      string `json:"version"`
			Registration string `json:"registration"`
			NeedsSetup   *bool  `json:"needs_setup"`
			Web          *bool  `json:"web"`
		} `json:"server"`
	}
	get := func(t *testing.T, n *testserver.Node) info {
		t.Helper()
		var out info
		r := newCall(t, n, "GET", "/api/v1/server").expect(200, &out)
		if strings.Contains(string(r.Body), "uhs_") {
			t.Fatalf("the answer carries a setup token: %s", r.Body)
		}
		var raw map[string]map[string]json.RawMessage
		json.Unmarshal(r.Body, &raw)
		if len(raw["server"]) != 5 {
			t.Fatalf("fields %s", r.Body)
		}
		if out.Server.NeedsSetup == nil || out.Server.Web == nil {
			t.Fatalf("missing fields: %s", r.Body)
		}
		return out
	}

	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	got := get(t, n)
	if got.Server.Version != unhidra.Version || got.Server.Registration != "open" || !*got.Server.NeedsSetup || *got.Server.Web != web.Built() {
		t.Fatalf("fresh server: %+v", got.Server)
	}
	bootstrapAdmin(t, n, "alice", "first user passphrase 1")
	if got := get(t, n); *got.Server.NeedsSetup {
		t.Fatalf("needs_setup after the admin registered")
	}

	for _, mode := range []string{"invite", "closed"} {
		t.Run(mode, func(t *testing.T) {
			cfg := testserver.Config(t, "sqlite")
			cfg.Registration = mode
			n := testserver.Start(t, cfg)
			if got := get(t, n); got.Server.Registration != mode || !*got.Server.NeedsSetup {
				t.Fatalf("%+v", got.Server)
			}
			// An admin made from the shell ends the setup too.
			if _, err := n.Auth.CreateAdmin(t.Context(), "root", "first user passphrase 1", ""); err != nil {
				t.Fatal(err)
			}
			if got := get(t, n); *got.Server.NeedsSetup {
				t.Fatalf("needs_setup after create-admin")
			}
		})
	}
}
