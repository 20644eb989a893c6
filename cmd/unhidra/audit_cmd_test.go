package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
)

// TestAdminAuditVerifyAndExport runs a server that records events, stops
// it, then verifies and exports its audit log from the shell; the export
// re-verifies with the Python script of docs/audit.md, and an edit made
// behind the triggers' back is named.
func TestAdminAuditVerifyAndExport(t *testing.T) {
	addr, dir := freeAddr(t), t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--data", dir, "--mqtt-addr", "", "--log-format", "json", "--audit-checkpoint-every", "2"}, nil, &bytes.Buffer{}, logs, envOf(nil))
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
	for i, u := range []string{"alice", "bob", "carol"} {
		body := `{"username":"` + u + `","password":"a long enough passphrase"}`
		resp, err := http.Post(url+"/api/v1/auth/register", "application/json", strings.NewReader(body))
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("register %d: %v %v", i, err, resp)
		}
		resp.Body.Close()
		resp, err = http.Post(url+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"`+u+`","password":"wrong wrong wrong"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	cancel() // a clean stop chains what is left before giving the lease up
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, logs.String())
	}

	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"admin", "audit", "verify", "--data", dir}, nil, &out, &errb, envOf(nil)); code != 0 {
		t.Fatalf("verify: %d %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "audit log ok: 6 entries") || strings.Contains(out.String(), " 0 exported") {
		t.Fatalf("verify said %q", out.String())
	}
	out.Reset()
	if code := run(t.Context(), []string{"admin", "audit", "export", "--data", dir}, nil, &out, &errb, envOf(nil)); code != 0 {
		t.Fatalf("export: %d %s", code, errb.String())
	}
	if n := strings.Count(out.String(), "\n"); n != 6 || strings.Contains(out.String(), "passphrase") || strings.Contains(out.String(), "wrong") {
		t.Fatalf("export: %d lines: %s", n, out.String())
	}
	if py, err := exec.LookPath("python3"); err == nil {
		script := docScript(t)
		cmd := exec.Command(py, script)
		cmd.Stdin = bytes.NewReader(out.Bytes())
		res, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(res), "ok 6 entries") {
			t.Fatalf("the docs' script: %v %s", err, res)
		}
	}

	// An edit behind the triggers' back.
	tamperSQLite(t, filepath.Join(dir, "unhidra.db"))
	out.Reset()
	errb.Reset()
	if code := run(t.Context(), []string{"admin", "audit", "verify", "--data", dir}, nil, &out, &errb, envOf(nil)); code != 1 ||
		!strings.Contains(errb.String(), "entry 3") || !strings.Contains(errb.String(), "edited") {
		t.Fatalf("verify after tampering: %d %q %q", code, out.String(), errb.String())
	}
}

// docScript writes the Python verifier of docs/audit.md to a file.
func docScript(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/audit.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```python\n")
	script, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/audit.md has no python block")
	}
	p := filepath.Join(t.TempDir(), "verify.py")
	if err := os.WriteFile(p, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tamperSQLite edits entry 3 with the triggers dropped, as anyone holding
// the database file could.
func tamperSQLite(t *testing.T, path string) {
	t.Helper()
	db, err := store.Open(t.Context(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.InTx(t.Context(), func(c store.Conn) error {
		for _, q := range []string{`DROP TRIGGER audit_log_no_update`, `UPDATE audit_log SET reason = 'x' WHERE seq = 3`} {
			if _, err := c.Exec(t.Context(), q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAdminAuditVerifyAfterRetention: a server with --audit-retention-days
// prunes the entries older than that (here recorded two days ago), the
// shell's verify starts from the signed anchor and says where, and the
// docs' script verifies the export from there.
func TestAdminAuditVerifyAfterRetention(t *testing.T) {
	addr, dir := freeAddr(t), t.TempDir()
	path := filepath.Join(dir, "unhidra.db")
	db, err := store.Open(t.Context(), path, store.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	for i := range 10 {
		e := &audit.Event{Action: audit.ActionLogin, ActorType: audit.ActorUser, ActorID: fmt.Sprintf("u%d", i), Time: old}
		if err := auditstore.New(db).Record(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--data", dir, "--mqtt-addr", "", "--log-format", "json",
			"--audit-checkpoint-every", "5", "--audit-retention-days", "1", "--retention-every", "1s"}, nil, &bytes.Buffer{}, logs, envOf(nil))
	}()
	ro, err := store.Open(t.Context(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := ro.Read().QueryRow(t.Context(), `SELECT COUNT(*) FROM audit_prunes`).Scan(&n); err == nil && n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing pruned:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, logs.String())
	}
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"admin", "audit", "verify", "--data", dir}, nil, &out, &errb, envOf(nil)); code != 0 {
		t.Fatalf("verify: %d %s", code, errb.String())
	}
	// The ten old entries are gone; the prune's own entry (11) is kept.
	_, rest, ok := strings.Cut(out.String(), "starting after entry 10 ")
	if !ok || !strings.Contains(out.String(), "audit log ok: 1 entries") {
		t.Fatalf("verify said %q", out.String())
	}
	hash, _, _ := strings.Cut(rest, " ")
	out.Reset()
	if code := run(t.Context(), []string{"admin", "audit", "export", "--data", dir}, nil, &out, &errb, envOf(nil)); code != 0 {
		t.Fatalf("export: %d %s", code, errb.String())
	}
	if !strings.Contains(out.String(), `"action":"audit.prune"`) || !strings.Contains(out.String(), `"through_seq":"10"`) {
		t.Fatalf("export: %s", out.String())
	}
	if py, err := exec.LookPath("python3"); err == nil {
		cmd := exec.Command(py, docScript(t), "10", hash)
		cmd.Stdin = bytes.NewReader(out.Bytes())
		res, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(res), "ok 1 entries") {
			t.Fatalf("the docs' script from the anchor: %v %s", err, res)
		}
	}
}
