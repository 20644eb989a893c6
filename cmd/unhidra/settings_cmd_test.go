package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/server"
)

// TestAdminSettings: the shell lists, sets and resets the runtime
// settings, refuses bad keys and values, keeps the break-glass rule, and
// its changes are audited as the system's.
func TestAdminSettings(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	cmd := func(want int, args ...string) string {
		t.Helper()
		out.Reset()
		errb.Reset()
		if c := run(t.Context(), append(append([]string{"admin", "settings"}, args...), "--data", dir), nil, &out, &errb, envOf(nil)); c != want {
			t.Fatalf("admin settings %v: exit %d, want %d: %q %q", args, c, want, out.String(), errb.String())
		}
		return out.String() + errb.String()
	}
	if c := run(t.Context(), []string{"admin", "migrate", "--data", dir}, nil, &out, &errb, envOf(nil)); c != 0 {
		t.Fatalf("migrate: %d %s", c, errb.String())
	}
	if got := cmd(0, "list"); !strings.Contains(got, "registration") || !strings.Contains(got, "default") || !strings.Contains(got, "--retention-days") {
		t.Fatalf("list: %q", got)
	}
	if got := cmd(0, "set", "registration", "closed"); !strings.Contains(got, "closed") || !strings.Contains(got, "override") {
		t.Fatalf("set: %q", got)
	}
	if got := cmd(0, "set", "retention_days", "30"); !strings.Contains(got, "30") {
		t.Fatalf("set a number: %q", got)
	}
	cmd(1, "set", "registration", "sometimes")
	cmd(1, "set", "no_such", "1")
	cmd(1, "set", "retention_days", "thirty")
	if got := cmd(1, "set", "password_login", "sso-only"); !strings.Contains(got, "break-glass") {
		t.Fatalf("sso-only without a break-glass admin: %q", got)
	}
	cmd(1, "reset")
	cmd(1, "frobnicate")
	if got := cmd(0, "reset", "registration"); strings.Contains(got, "closed") {
		t.Fatalf("reset: %q", got)
	}

	// Two changes, the system's, each in the outbox with its values.
	cfg, err := loadConfig("test", []string{"--data", dir}, &bytes.Buffer{}, envOf(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	db, err := server.OpenStore(t.Context(), cfg, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Read().Query(t.Context(), `SELECT actor_type, metadata FROM audit_outbox WHERE action = ? ORDER BY id`, audit.ActionSettingsChange)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var changes []string
	for rows.Next() {
		var actor, meta string
		if err := rows.Scan(&actor, &meta); err != nil {
			t.Fatal(err)
		}
		changes = append(changes, actor+" "+meta)
	}
	if len(changes) != 3 || !strings.HasPrefix(changes[0], "system ") || !strings.Contains(changes[0], `"via":"cli"`) ||
		!strings.Contains(changes[2], `"new":"open"`) || !strings.Contains(changes[2], `"source":"default"`) {
		t.Fatalf("audited: %q", changes)
	}
}
