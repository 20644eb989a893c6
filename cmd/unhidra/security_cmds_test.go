package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/internal/testserver"
	"github.com/unhidra/unhidra/internal/webauthntest"

	"github.com/unhidra/unhidra/store"
)

// TestCLITokens: tokens create prints the secret once on stdout, ls lists
// without it, the token works as a bearer token, rm revokes it.
func TestCLITokens(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	alice := newCLIUser(t, n.URL)
	alice.ok("alice\n"+alicePW+"\n", "register")
	secret := strings.TrimSpace(alice.ok("", "tokens", "create", "ci", "--scopes", "read", "--expires", "1h"))
	if !regexp.MustCompile(`^uhp_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$`).MatchString(secret) {
		t.Fatalf("tokens create printed %q", secret)
	}
	out := alice.ok("", "tokens", "ls")
	if !strings.Contains(out, "ci") || !strings.Contains(out, "read") || strings.Contains(out, secret[37:]) {
		t.Fatalf("tokens ls: %q", out)
	}
	var list struct {
		Tokens []struct{ ID string } `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(alice.ok("", "tokens", "ls", "--json")), &list); err != nil || len(list.Tokens) != 1 {
		t.Fatalf("tokens ls --json: %v %+v", err, list)
	}
	if code, _, errs := alice.run("", "tokens", "create", "x", "--scopes", "root"); code != 1 || !strings.Contains(errs, "root") {
		t.Fatalf("bad scope: %d %q", code, errs)
	}
	if code, _, _ := alice.run("", "tokens", "frob"); code != 2 {
		t.Fatalf("unknown tokens command: exit %d", code)
	}
	if out := alice.ok("", "tokens", "rm", list.Tokens[0].ID); !strings.Contains(out, "revoked") {
		t.Fatalf("tokens rm: %q", out)
	}
	if code, _, _ := alice.run("", "tokens", "rm", list.Tokens[0].ID); code != 1 {
		t.Fatalf("second rm: exit %d", code)
	}
}

// codeReader answers the CLI's code prompt with the current TOTP code of
// the secret the command printed to stderr before asking.
type codeReader struct {
	t      *testing.T
	stderr *bytes.Buffer
	done   bool
	secret string
}

func (r *codeReader) Read(p []byte) (int, error) {
	if r.done {
		return 0, io.EOF
	}
	r.done = true
	m := regexp.MustCompile(`secret: ([A-Z2-7]+)`).FindStringSubmatch(r.stderr.String())
	if m == nil {
		r.t.Errorf("no secret printed before the code prompt: %q", r.stderr.String())
		return 0, io.EOF
	}
	c, err := totp.GenerateCode(m[1], time.Now())
	if err != nil {
		r.t.Error(err)
	}
	r.secret = m[1]
	return copy(p, c+"\n"), nil
}

// TestCLITwoFactor: 2fa enable shows the secret and URI, takes the first
// code and prints the recovery codes; login then needs a code
// (UNHIDRA_TOTP_CODE here); 2fa disable turns it off.
func TestCLITwoFactor(t *testing.T) {
	if left := 30 - time.Now().Unix()%30; left < 10 {
		time.Sleep(time.Duration(left)*time.Second + 200*time.Millisecond)
	}
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	alice := newCLIUser(t, n.URL)
	alice.ok("alice\n"+alicePW+"\n", "register")
	if code, _, errs := alice.run("000000\n", "2fa", "enable"); code != 1 || !strings.Contains(errs, "otpauth://totp/Unhidra:alice") {
		t.Fatalf("2fa enable with a wrong code: %d %q", code, errs)
	}
	var out, errb bytes.Buffer
	cr := &codeReader{t: t, stderr: &errb}
	if c := run(t.Context(), []string{"2fa", "enable"}, cr, &out, &errb, alice.env()); c != 0 {
		t.Fatalf("2fa enable: %d %q", c, errb.String())
	}
	recovery := strings.Fields(out.String())
	if len(recovery) != 10 {
		t.Fatalf("recovery codes: %q", out.String())
	}
	if st := alice.ok("", "2fa", "status"); !strings.Contains(st, "on; 10 recovery codes") {
		t.Fatalf("2fa status: %q", st)
	}
	next, _ := totp.GenerateCode(cr.secret, time.Now().Add(30*time.Second))
	out.Reset()
	errb.Reset()
	if c := run(t.Context(), []string{"login", "--username", "alice"}, strings.NewReader(""), &out, &errb,
		alice.env("UNHIDRA_PASSWORD", alicePW, "UNHIDRA_TOTP_CODE", next)); c != 0 || !strings.Contains(out.String(), "logged in as @alice") {
		t.Fatalf("login with two-factor: %d %q %q", c, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if c := run(t.Context(), []string{"login", "--username", "alice"}, strings.NewReader(""), &out, &errb,
		alice.env("UNHIDRA_PASSWORD", alicePW, "UNHIDRA_TOTP_CODE", next)); c != 1 {
		t.Fatalf("login with a replayed code: %d %q %q", c, out.String(), errb.String())
	}
	// (A failed login has ended the earlier session, as any login does
	// first; sign in again with a recovery code.)
	out.Reset()
	if c := run(t.Context(), []string{"login", "--username", "alice"}, strings.NewReader(""), &out, &errb,
		alice.env("UNHIDRA_PASSWORD", alicePW, "UNHIDRA_TOTP_CODE", recovery[1])); c != 0 {
		t.Fatalf("login with a recovery code: %d %q", c, errb.String())
	}
	out.Reset()
	if c := run(t.Context(), []string{"2fa", "disable"}, strings.NewReader(""), &out, &errb,
		alice.env("UNHIDRA_PASSWORD", alicePW, "UNHIDRA_TOTP_CODE", recovery[0])); c != 0 || !strings.Contains(out.String(), "two-factor is off") {
		t.Fatalf("2fa disable: %d %q %q", c, out.String(), errb.String())
	}
}

// TestAdminBreakGlass: the shell verb marks and unmarks an account and
// refuses an unknown one.
func TestAdminBreakGlass(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if c := run(t.Context(), []string{"admin", "migrate", "--data", dir}, nil, &out, &errb, envOf(nil)); c != 0 {
		t.Fatalf("migrate: %d %s", c, errb.String())
	}
	if c := run(t.Context(), []string{"admin", "create-admin", "--data", dir, "--username", "root_admin"}, strings.NewReader("a good admin passphrase\n"), &out, &errb, envOf(nil)); c != 0 {
		t.Fatalf("create-admin: %d %s", c, errb.String())
	}
	out.Reset()
	if c := run(t.Context(), []string{"admin", "break-glass", "root_admin", "on", "--data", dir}, nil, &out, &errb, envOf(nil)); c != 0 || !strings.Contains(out.String(), "break-glass on for root_admin") {
		t.Fatalf("break-glass on: %d %q %q", c, out.String(), errb.String())
	}
	if c := run(t.Context(), []string{"admin", "break-glass", "root_admin", "off", "--data", dir}, nil, &out, &errb, envOf(nil)); c != 0 {
		t.Fatalf("break-glass off: %d %q", c, errb.String())
	}
	errb.Reset()
	if c := run(t.Context(), []string{"admin", "break-glass", "nobody", "on", "--data", dir}, nil, &out, &errb, envOf(nil)); c != 1 || !strings.Contains(errb.String(), "not found") {
		t.Fatalf("break-glass for nobody: %d %q", c, errb.String())
	}
	if c := run(t.Context(), []string{"admin", "break-glass", "root_admin", "maybe", "--data", dir}, nil, &out, &errb, envOf(nil)); c == 0 {
		t.Fatal("break-glass maybe accepted")
	}
	// Both changes are audited, by the shell, in their own transaction
	// (in the outbox until a server chains them); the refusals are not.
	db, err := store.Open(t.Context(), filepath.Join(dir, "unhidra.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Read().Query(t.Context(), `SELECT actor_type, metadata FROM audit_outbox WHERE action = 'admin.break_glass' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var actor, meta string
		if err := rows.Scan(&actor, &meta); err != nil {
			t.Fatal(err)
		}
		got = append(got, actor+" "+meta)
	}
	rows.Close()
	if want := []string{`system {"state":"set","via":"cli"}`, `system {"state":"cleared","via":"cli"}`}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("break-glass events = %q, want %q", got, want)
	}
}

// TestCLIPasskeys: a passkey made in a browser (here the software
// authenticator) is listed, renamed and removed from the command line.
func TestCLIPasskeys(t *testing.T) {
	cfg := testserver.Config(t, "sqlite")
	cfg.PublicURL = "http://localhost"
	n := testserver.Start(t, cfg)
	alice := newCLIUser(t, n.URL)
	alice.ok("alice\n"+alicePW+"\n", "register")
	if out := alice.ok("", "passkeys", "ls"); !strings.Contains(out, "no passkeys") {
		t.Fatalf("passkeys ls with none: %q", out)
	}
	c, err := client.New(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(t.Context(), "alice", alicePW); err != nil {
		t.Fatal(err)
	}
	tk := c.Tokens()
	call := func(path string, body, out any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(t.Context(), "POST", n.URL+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tk.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 300 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		if out != nil {
			json.NewDecoder(resp.Body).Decode(out)
		}
	}
	var begin struct {
		CeremonyID string          `json:"ceremony_id"`
		Options    json.RawMessage `json:"options"`
	}
	call("/api/v1/auth/webauthn/register/begin", nil, &begin)
	cred, err := webauthntest.New("http://localhost").Create(begin.Options)
	if err != nil {
		t.Fatal(err)
	}
	call("/api/v1/auth/webauthn/register/finish", map[string]any{"ceremony_id": begin.CeremonyID, "name": "Laptop", "credential": json.RawMessage(cred)}, nil)

	var list struct {
		Passkeys []struct{ ID, Name string } `json:"passkeys"`
	}
	if err := json.Unmarshal([]byte(alice.ok("", "passkeys", "ls", "--json")), &list); err != nil || len(list.Passkeys) != 1 || list.Passkeys[0].Name != "Laptop" {
		t.Fatalf("passkeys ls --json: %v %+v", err, list)
	}
	id := list.Passkeys[0].ID
	if out := alice.ok("", "passkeys", "ls"); !strings.Contains(out, "Laptop") || !strings.Contains(out, "never") {
		t.Fatalf("passkeys ls: %q", out)
	}
	if out := alice.ok("", "passkeys", "rename", id, "Old laptop"); !strings.Contains(out, "Old laptop") {
		t.Fatalf("passkeys rename: %q", out)
	}
	if code, _, _ := alice.run("", "passkeys", "rename", id); code != 2 {
		t.Fatalf("rename without a name: exit %d", code)
	}
	if out := alice.ok("", "passkeys", "rm", id); !strings.Contains(out, "removed") {
		t.Fatalf("passkeys rm: %q", out)
	}
	if code, _, errs := alice.run("", "passkeys", "rm", id); code != 1 || errs == "" {
		t.Fatalf("second rm: exit %d %q", code, errs)
	}
}

// TestCLIKeys: the first `unhidra keys` registers this install with the
// key directory and shows its client id and fingerprint; later calls show
// the same install; rotate replaces its prekeys.
func TestCLIKeys(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	alice := newCLIUser(t, n.URL)
	alice.ok("alice\n"+alicePW+"\n", "register")
	first := alice.ok("", "keys")
	if !strings.Contains(first, "client ") || !strings.Contains(first, "fingerprint ") {
		t.Fatalf("keys: %q", first)
	}
	if again := alice.ok("", "keys"); again != first {
		t.Fatalf("keys again: %q, want %q", again, first)
	}
	if out := alice.ok("", "keys", "rotate"); !strings.Contains(out, "replaced") {
		t.Fatalf("keys rotate: %q", out)
	}
	if code, _, _ := alice.run("", "keys", "frob"); code != 2 {
		t.Fatalf("keys frob: exit %d", code)
	}
}
