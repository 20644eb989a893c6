package httpapi_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/testserver"
)

// TestOpenAPICoversEveryRoute checks that every route the server registers is
// in the served OpenAPI document, and that the document names nothing the
// server does not serve.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	newCall(t, n, "GET", "/api/v1/openapi.json").expect(200, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	registered := map[string]bool{}
	for _, rt := range n.API.Routes() {
		registered[rt] = true
		method, path, _ := strings.Cut(rt, " ")
		op, ok := doc.Paths[path][strings.ToLower(method)]
		if !ok {
			t.Errorf("route %s is not in the OpenAPI document", rt)
			continue
		}
		// A missing summary is nil, not "": type-assert so both fail.
		if summary, _ := op["summary"].(string); summary == "" || op["responses"] == nil {
			t.Errorf("route %s: incomplete operation %v", rt, op)
		}
		// And the route really answers (not the not-found fallback).
		p := regexp.MustCompile(`\{[a-z_]+\}`).ReplaceAllString(path, "x")
		r := newCall(t, n, method, p).do()
		if r.Status == 404 && strings.Contains(string(r.Body), "no such endpoint") || r.Status == 405 {
			t.Errorf("route %s answered %d %s", rt, r.Status, r.Body)
		}
	}
	for path, ops := range doc.Paths {
		for m := range ops {
			if !registered[strings.ToUpper(m)+" "+path] {
				t.Errorf("document lists %s %s, which the server does not serve", m, path)
			}
		}
	}
	if len(registered) < 20 {
		t.Fatalf("only %d routes registered", len(registered))
	}
}

func TestOperationsEndpoints(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	r := newCall(t, n, "GET", "/healthz").expect(200, nil)
	for h, want := range map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if id := r.Header.Get("X-Request-ID"); len(id) < 16 {
		t.Errorf("X-Request-ID = %q", id)
	}
	r = newCall(t, n, "GET", "/healthz").with("X-Request-ID", "trace-123").expect(200, nil)
	if r.Header.Get("X-Request-ID") != "trace-123" {
		t.Errorf("request id not propagated: %q", r.Header.Get("X-Request-ID"))
	}
	r = newCall(t, n, "GET", "/healthz").with("X-Request-ID", "evil\"value with spaces").expect(200, nil)
	if strings.Contains(r.Header.Get("X-Request-ID"), "evil") {
		t.Errorf("unsafe request id accepted")
	}
	newCall(t, n, "GET", "/readyz").expect(200, nil)

	newCall(t, n, "POST", "/api/v1/auth/login").json(map[string]string{"username": "x", "password": "y"}).expectError(401, "unauthenticated")
	r = newCall(t, n, "GET", "/metrics").expect(200, nil)
	for _, want := range []string{
		`http_requests_total{code="401",method="POST",route="/api/v1/auth/login"} 1`,
		`http_request_duration_seconds_bucket{method="GET",route="/healthz"`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	var jwks struct {
		Keys []struct{ Kty, Alg, Kid, Use, N, E string }
	}
	newCall(t, n, "GET", "/.well-known/jwks.json").expect(200, &jwks)
	if len(jwks.Keys) == 0 || jwks.Keys[0].Kty != "RSA" || jwks.Keys[0].Alg != "RS256" || jwks.Keys[0].Kid == "" {
		t.Fatalf("jwks = %+v", jwks)
	}
}

// TestForgedTokens sends hostile access tokens through the HTTP layer; the
// token package tests each attack in depth.
func TestForgedTokens(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	register(t, n, "bob", bobPW)
	tk := login(t, n, "bob", bobPW)
	parts := strings.Split(tk.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("access token is not a JWS: %q", tk.AccessToken)
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	json.Unmarshal(header, &h)
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }

	none := enc(map[string]any{"alg": "none", "typ": "JWT", "kid": h["kid"]}) + "." + parts[1] + "."
	hs := enc(map[string]any{"alg": "HS256", "typ": "JWT", "kid": h["kid"]}) + "." + parts[1] + "." + parts[2]
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"member"`, `"admin"`, 1))) + "." + parts[2]
	sum := sha256.Sum256([]byte("x"))
	for name, tok := range map[string]string{
		"alg_none":  none,
		"hs256":     hs,
		"tampered":  tampered,
		"truncated": tk.AccessToken[:len(tk.AccessToken)-5],
		"random":    fmt.Sprintf("%x", sum),
	} {
		t.Run(name, func(t *testing.T) {
			newCall(t, n, "GET", "/api/v1/users/me").bearer(tok).expectError(401, "unauthenticated")
		})
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	// A login is slow (Argon2id); start one, then stop the node while it runs.
	register(t, n, "bob", bobPW)
	done := make(chan int, 1)
	go func() {
		resp, err := http.Post(n.URL+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"bob","password":"`+bobPW+`"}`))
		if err != nil {
			done <- -1
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	// Wait until the login is inside the server.
	deadline := time.Now().Add(5 * time.Second)
	for n.API.InFlight() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the login never reached the server")
		}
		time.Sleep(time.Millisecond)
	}
	n.Stop()
	if code := <-done; code != 200 {
		t.Fatalf("in-flight login ended with %d, want 200", code)
	}
	if _, err := http.Get(n.URL + "/healthz"); err == nil {
		t.Fatal("server still answers after shutdown")
	}
}

// TestOpenAPIEventFrameIsAnObject: an event's frame is embedded JSON, and
// the document says so (reflection alone would call it an array of bytes).
func TestOpenAPIEventFrameIsAnObject(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	newCall(t, n, "GET", "/api/v1/openapi.json").expect(200, &doc)
	if frame := doc.Components.Schemas["Event"].Properties["frame"]; frame["type"] != "object" {
		t.Fatalf("Event.frame schema %v", frame)
	}
}
