package httpapi_test

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/internal/testserver"
)

// cutDatabase makes n's PostgreSQL database refuse every connection, open
// ones included, until the test ends: the database is down.
func cutDatabase(t *testing.T, n *testserver.Node) {
	t.Helper()
	u, err := url.Parse(n.Config.DB)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	admin := os.Getenv(testenv.PostgresEnv)
	if admin == "" {
		admin = testenv.DefaultPostgresURL
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// name comes from testenv: [a-z0-9_] only.
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS false"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(ctx, admin); err == nil {
			c.Exec(ctx, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS true")
			c.Close(ctx)
		}
	})
}

// TestLimitsFailClosed: when the database that holds the shared limits is
// down, login and registration are refused with 503 unavailable, never let
// through unlimited: by the per-IP limits, and with those off by the
// failed-login backoff.
func TestLimitsFailClosed(t *testing.T) {
	t.Run("rate_limits", func(t *testing.T) {
		cfg := testserver.Config(t, "postgres")
		cfg.RateLogin, cfg.RateRegister = spec(t, "5/min"), spec(t, "5/min")
		n := testserver.Start(t, cfg)
		cutDatabase(t, n)
		newCall(t, n, "POST", "/api/v1/auth/login").json(map[string]string{"username": "bob", "password": "whatever pass"}).expectError(503, "unavailable")
		newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "bob", "password": "a long passphrase here"}).expectError(503, "unavailable")
	})
	t.Run("login_backoff", func(t *testing.T) {
		n := testserver.Start(t, testserver.Config(t, "postgres")) // per-IP limits off
		cutDatabase(t, n)
		r := newCall(t, n, "POST", "/api/v1/auth/login").json(map[string]string{"username": "bob", "password": "whatever pass"}).expectError(503, "unavailable")
		if !strings.Contains(string(r.Body), "failed-login limits") {
			t.Fatalf("503 body: %s", r.Body)
		}
	})
}
