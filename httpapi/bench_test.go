package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/unhidra/unhidra/internal/testserver"
)

// BenchmarkLoginHTTP measures a whole login over HTTP on SQLite: request
// decoding, the Argon2id check at the default parameters, session creation
// (a durable commit) and token signing.
func BenchmarkLoginHTTP(b *testing.B) {
	n := testserver.Start(b, testserver.Config(b, "sqlite"))
	register(b, n, "bob", bobPW)
	body := `{"username":"bob","password":"` + bobPW + `"}`
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Post(n.URL+"/api/v1/auth/login", "application/json", strings.NewReader(body))
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("login: %v %v", err, resp)
		}
		resp.Body.Close()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}

// BenchmarkAuthenticatedRequestHTTP measures GET /users/me: token
// verification plus the session and user look-ups every authenticated
// request makes.
func BenchmarkAuthenticatedRequestHTTP(b *testing.B) {
	n := testserver.Start(b, testserver.Config(b, "sqlite"))
	register(b, n, "bob", bobPW)
	tk := login(b, n, "bob", bobPW)
	req, _ := http.NewRequest("GET", n.URL+"/api/v1/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+tk.AccessToken)
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("me: %v %v", err, resp)
		}
		resp.Body.Close()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
