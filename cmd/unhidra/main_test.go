package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for the server's log goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func envOf(m map[string]string) env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestVersionAndUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"version"}, nil, &out, &errb, envOf(nil)); code != 0 || !strings.HasPrefix(out.String(), "unhidra ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	if code := run(t.Context(), []string{"frobnicate"}, nil, &out, &errb, envOf(nil)); code != 2 || !strings.Contains(errb.String(), "unknown command") {
		t.Fatalf("unknown command: %d %q", code, errb.String())
	}
}

func TestServeReportsEveryConfigError(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"serve", "--addr", "nope", "--registration", "maybe"}, nil, &out, &errb, envOf(map[string]string{"UNHIDRA_LOG_FORMAT": "xml"}))
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"--addr", "--registration", "--log-format"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %s: %s", want, errb.String())
		}
	}
}

func TestAdminMigrateAndCreateAdmin(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	// Before any server or migrate has used the data dir, create-admin
	// refuses, names the path it looked at, and leaves nothing behind.
	code := run(t.Context(), []string{"admin", "create-admin", "--data", dir, "--username", "root_admin"}, strings.NewReader("a good admin passphrase\n"), &out, &errb, envOf(nil))
	if want := filepath.Join(dir, "unhidra.db"); code != 1 || !strings.Contains(errb.String(), "no database at "+want) {
		t.Fatalf("create-admin without a database: %d %q", code, errb.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("create-admin without a database left %v", entries)
	}
	errb.Reset()
	if code := run(t.Context(), []string{"admin", "migrate", "--data", dir}, nil, &out, &errb, envOf(nil)); code != 0 {
		t.Fatalf("migrate: %d %s", code, errb.String())
	}
	if !regexp.MustCompile(`sqlite: applied [1-9]\d* migration`).MatchString(out.String()) {
		t.Fatalf("migrate output %q", out.String())
	}
	out.Reset()
	run(t.Context(), []string{"admin", "migrate", "--data", dir}, nil, &out, &errb, envOf(nil))
	if !strings.Contains(out.String(), "applied 0 migration") {
		t.Fatalf("second migrate output %q", out.String())
	}

	out.Reset()
	code = run(t.Context(), []string{"admin", "create-admin", "--data", dir, "--username", "root_admin"}, strings.NewReader("a good admin passphrase\n"), &out, &errb, envOf(nil))
	if code != 0 || !strings.Contains(out.String(), "created admin root_admin") || !strings.Contains(out.String(), "in the SQLite database "+filepath.Join(dir, "unhidra.db")) {
		t.Fatalf("create-admin: %d %q %q", code, out.String(), errb.String())
	}
	errb.Reset()
	code = run(t.Context(), []string{"admin", "create-admin", "--data", dir, "--username", "weak"}, nil, &out, &errb, envOf(map[string]string{"UNHIDRA_ADMIN_PASSWORD": "weak"}))
	if code != 1 || !strings.Contains(errb.String(), "password") {
		t.Fatalf("weak password accepted: %d %q", code, errb.String())
	}
}

// TestCreateAdminPostgres: on PostgreSQL an empty database is refused like
// a missing SQLite file, and the output names the database but not the
// credentials in the URL.
func TestCreateAdminPostgres(t *testing.T) {
	db := testenv.PostgresURL(t)
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	// The default server trusts local connections, so a password in the
	// URL is ignored by it and must still not be printed; a server given by
	// UNHIDRA_TEST_POSTGRES brings its own.
	secret, hasSecret := u.User.Password()
	if !hasSecret && os.Getenv(testenv.PostgresEnv) == "" {
		secret = "not-a-real-secret"
		u.User = url.UserPassword(u.User.Username(), secret)
	}
	db = u.String()
	name := strings.TrimPrefix(u.Path, "/")
	env := envOf(map[string]string{"UNHIDRA_ADMIN_PASSWORD": "a good admin passphrase"})
	args := []string{"admin", "create-admin", "--db", db, "--data", t.TempDir(), "--username", "root_admin"}
	var out, errb bytes.Buffer
	if code := run(t.Context(), args, nil, &out, &errb, env); code != 1 || !strings.Contains(errb.String(), "PostgreSQL database "+name+" on "+u.Host+" is empty") {
		t.Fatalf("create-admin on an empty database: %d %q", code, errb.String())
	}
	if code := run(t.Context(), []string{"admin", "migrate", "--db", db}, nil, &out, &errb, envOf(nil)); code != 0 {
		t.Fatalf("migrate: %d %s", code, errb.String())
	}
	out.Reset()
	if code := run(t.Context(), args, nil, &out, &errb, env); code != 0 || !strings.Contains(out.String(), "in the PostgreSQL database "+name+" on "+u.Host) {
		t.Fatalf("create-admin: %d %q %q", code, out.String(), errb.String())
	}
	if secret != "" && strings.Contains(out.String()+errb.String(), secret) {
		t.Fatal("the database password was printed")
	}
}

// TestServe runs the real program: no admin, so the setup token is logged;
// the server answers, and a cancelled context (SIGTERM/SIGINT in main) shuts
// it down cleanly.
func TestServe(t *testing.T) {
	addr, debugAddr := freeAddr(t), freeAddr(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--data", dir, "--mqtt-addr", "", "--log-format", "json", "--debug-addr", debugAddr}, nil, &bytes.Buffer{}, logs, envOf(nil))
	}()
	url := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server never became ready: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var token string
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			if v, ok := rec["setup_token"].(string); ok {
				token = v
			}
		}
	}
	if !strings.HasPrefix(token, "uhs_") {
		t.Fatalf("no setup token in the log:\n%s", logs.String())
	}
	body := `{"username":"alice","password":"admin passphrase 1","setup_token":"` + token + `"}`
	resp, err := http.Post(url+"/api/v1/auth/register", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("register with setup token: %v %v", err, resp)
	}
	resp.Body.Close()
	if strings.Contains(logs.String(), "admin passphrase") {
		t.Fatal("a password reached the log")
	}
	for f, want := range map[string]os.FileMode{"unhidra.db": 0o600, "unhidra.db-wal": 0o600, "keys": os.ModeDir | 0o700} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
		} else if st.Mode() != want {
			t.Errorf("%s: mode %v, want %v", f, st.Mode(), want)
		}
	}
	if resp, err := http.Get("http://" + debugAddr + "/debug/pprof/"); err != nil || resp.StatusCode != 200 {
		t.Errorf("debug listener: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d:\n%s", code, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after cancellation")
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop in the log:\n%s", logs.String())
	}
	// As internal/testserver does for the other tests: a server that logs
	// an error has found something wrong, whatever the client saw.
	if strings.Contains(logs.String(), `"level":"ERROR`) {
		t.Fatalf("the server logged an error:\n%s", logs.String())
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
