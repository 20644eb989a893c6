package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unhidra/unhidra/internal/testserver"
)

// user is one CLI user in a test: its own config directory (so its own
// credentials file) against a shared server.
type cliUser struct {
	t      *testing.T
	server string
	config string
}

func newCLIUser(t *testing.T, server string) *cliUser {
	return &cliUser{t: t, server: server, config: t.TempDir()}
}

// env is the environment of the user's commands; extra pairs add to it.
func (u *cliUser) env(extra ...string) env {
	m := map[string]string{"XDG_CONFIG_HOME": u.config, "UNHIDRA_SERVER": u.server}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return envOf(m)
}

// run runs one command and returns its exit code, stdout and stderr.
func (u *cliUser) run(stdin string, args ...string) (int, string, string) {
	u.t.Helper()
	var out, errb bytes.Buffer
	var in io.Reader = strings.NewReader(stdin)
	code := run(u.t.Context(), args, in, &out, &errb, u.env())
	return code, out.String(), errb.String()
}

// ok runs a command that must succeed and returns its stdout.
func (u *cliUser) ok(stdin string, args ...string) string {
	u.t.Helper()
	code, out, errs := u.run(stdin, args...)
	if code != 0 {
		u.t.Fatalf("unhidra %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func (u *cliUser) credentialsFile() string {
	return filepath.Join(u.config, "unhidra", "credentials.json")
}

const (
	alicePW = "correct horse battery 1"
	bobPW   = "purple monkey dishwasher"
)

func TestCLIAccounts(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	alice := newCLIUser(t, n.URL)

	// register asks for the username and reads the password from stdin,
	// then signs in.
	out := alice.ok("alice\n"+alicePW+"\n", "register")
	if !strings.Contains(out, "registered and logged in as alice") {
		t.Fatalf("register: %q", out)
	}
	out = alice.ok("", "whoami")
	if !strings.Contains(out, "alice on "+n.URL) || !strings.Contains(out, "role member") {
		t.Fatalf("whoami: %q", out)
	}

	// The credentials file: owner-only, in an owner-only directory, with
	// a refresh token and no password.
	st, err := os.Stat(alice.credentialsFile())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", st, err)
	}
	if dst, err := os.Stat(filepath.Dir(alice.credentialsFile())); err != nil || dst.Mode().Perm() != 0o700 {
		t.Fatalf("credentials dir: %v %v", dst, err)
	}
	b, _ := os.ReadFile(alice.credentialsFile())
	if strings.Contains(string(b), alicePW) || !strings.Contains(string(b), "refresh_token") {
		t.Fatalf("credentials file content: %s", b)
	}
	var creds credentials
	if err := json.Unmarshal(b, &creds); err != nil || creds.Default != n.URL || creds.Servers[n.URL] == nil {
		t.Fatalf("credentials: %v %+v", err, creds)
	}

	// A refresh rotates the tokens: the file follows, and a later command
	// still works with what it holds (the old refresh token is spent).
	before := creds.Servers[n.URL].Tokens
	os.Chmod(alice.credentialsFile(), 0o644) // someone loosened it: it is tightened again
	expired := before
	expired.AccessToken = "expired.not.valid"
	creds.Servers[n.URL].Tokens = expired
	nb, _ := json.Marshal(creds)
	os.WriteFile(alice.credentialsFile(), nb, 0o644)
	alice.ok("", "whoami", "--json")
	b, _ = os.ReadFile(alice.credentialsFile())
	json.Unmarshal(b, &creds)
	after := creds.Servers[n.URL].Tokens
	if after.RefreshToken == before.RefreshToken || after.AccessToken == expired.AccessToken {
		t.Fatal("the refreshed tokens were not saved")
	}
	if st, _ := os.Stat(alice.credentialsFile()); st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode after update: %v", st.Mode())
	}
	alice.ok("", "whoami")

	// Nothing secret reaches the terminal.
	for _, args := range [][]string{{"whoami"}, {"whoami", "--json"}} {
		_, out, errs := alice.run("", args...)
		if strings.Contains(out+errs, after.RefreshToken) || strings.Contains(out+errs, after.AccessToken) {
			t.Fatalf("%v printed a token", args)
		}
	}

	// A wrong password fails with status 1 and a message.
	bob := newCLIUser(t, n.URL)
	bob.okEnv("", []string{"UNHIDRA_PASSWORD", bobPW}, "register", "bob", "--display-name", "Bob B")
	if code, _, errs := bob.run("wrong password here\n", "login", "bob"); code != 1 || errs == "" {
		t.Fatalf("wrong password: %d %q", code, errs)
	}
	var js struct{ Username string }
	if err := json.Unmarshal([]byte(bob.okEnv("", []string{"UNHIDRA_PASSWORD", bobPW}, "login", "--username", "bob", "--json")), &js); err != nil || js.Username != "bob" {
		t.Fatalf("login --json: %v %+v", err, js)
	}

	// logout ends the session: the stored refresh token no longer works
	// and the server entry is gone from the file.
	alice.ok("", "logout")
	if code, _, errs := alice.run("", "whoami"); code != 1 || !strings.Contains(errs, "not logged in") {
		t.Fatalf("whoami after logout: %d %q", code, errs)
	}
	b, _ = os.ReadFile(alice.credentialsFile())
	if strings.Contains(string(b), after.RefreshToken) {
		t.Fatal("logout left the refresh token in the file")
	}
}

// okEnv is ok with extra environment variables.
func (u *cliUser) okEnv(stdin string, extra []string, args ...string) string {
	u.t.Helper()
	var out, errb bytes.Buffer
	if code := run(u.t.Context(), args, strings.NewReader(stdin), &out, &errb, u.env(extra...)); code != 0 {
		u.t.Fatalf("unhidra %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

func TestCLIUsageErrors(t *testing.T) {
	u := newCLIUser(t, "http://127.0.0.1:1")
	for _, args := range [][]string{
		{"send"},
		{"send", "general"},
		{"history"},
		{"history", "general", "--limit", "0"},
		{"channels", "frobnicate"},
		{"channels", "create"},
		{"login", "--no-such-flag"},
		{"search"},
		{"dm"},
	} {
		if code, _, errs := u.run("", args...); code != 2 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 with a message", args, code, errs)
		}
	}
	// Not logged in is an error (1), not a usage error.
	if code, _, errs := u.run("", "channels"); code != 1 || !strings.Contains(errs, "not logged in") {
		t.Errorf("channels without login: %d %q", code, errs)
	}
}

func TestParseInterspersed(t *testing.T) {
	x := &cli{stderr: io.Discard}
	fs := x.flags("send")
	thread := fs.String("thread", "", "")
	pos, err := parse(fs, []string{"general", "hello", "--thread", "m1", "world", "--", "--not-a-flag"})
	if err != nil || *thread != "m1" || strings.Join(pos, "|") != "general|hello|world|--not-a-flag" {
		t.Fatalf("parse: %v %q %q", err, *thread, pos)
	}
}
