package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
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
	if !strings.Contains(out, "registered and logged in as @alice") {
		t.Fatalf("register: %q", out)
	}
	out = alice.ok("", "whoami")
	if !strings.Contains(out, "@alice on "+n.URL) || !strings.Contains(out, "role member") {
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
	out = bob.okEnv("", []string{"UNHIDRA_PASSWORD", bobPW}, "register", "bob", "--display-name", "Bob B")
	if !strings.Contains(out, "registered and logged in as Bob B (@bob)") {
		t.Fatalf("register with a display name: %q", out)
	}
	if code, _, errs := bob.run("wrong password here\n", "login", "bob"); code != 1 || errs == "" {
		t.Fatalf("wrong password: %d %q", code, errs)
	}
	var js struct{ Username string }
	if err := json.Unmarshal([]byte(bob.okEnv("", []string{"UNHIDRA_PASSWORD", bobPW}, "login", "--username", "bob", "--json")), &js); err != nil || js.Username != "bob" {
		t.Fatalf("login --json: %v %+v", err, js)
	}
	if out := bob.okEnv("", []string{"UNHIDRA_PASSWORD", bobPW}, "login", "bob"); !strings.Contains(out, "logged in as Bob B (@bob)") {
		t.Fatalf("login: %q", out)
	}
	if out := bob.ok("", "whoami"); !strings.Contains(out, "Bob B (@bob) on "+n.URL) {
		t.Fatalf("whoami with a display name: %q", out)
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

// signedUp registers and logs in a CLI user.
func signedUp(t *testing.T, server, name, pw string) *cliUser {
	t.Helper()
	u := newCLIUser(t, server)
	u.okEnv("", []string{"UNHIDRA_PASSWORD", pw}, "register", name)
	return u
}

func TestCLIChat(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	alice := signedUp(t, n.URL, "alice", alicePW)
	bob := signedUp(t, n.URL, "bob", bobPW)
	carol := signedUp(t, n.URL, "carol", "a third long passphrase")

	if out := alice.ok("", "channels"); !strings.Contains(out, "no channels yet") {
		t.Fatalf("empty channels: %q", out)
	}
	out := alice.ok("", "channels", "create", "general", "--topic", "all things")
	if !strings.Contains(out, "created public channel #general") {
		t.Fatalf("create: %q", out)
	}
	alice.ok("", "channels", "create", "secret", "--private")
	if code, _, errs := bob.run("", "send", "secret", "hi"); code != 1 || !strings.Contains(errs, "no channel") {
		t.Fatalf("private channel visible to a non-member: %d %q", code, errs)
	}

	bob.ok("", "channels", "join", "#general")
	alice.ok("", "channels", "invite", "secret", "bob", "carol")
	if out := alice.ok("", "channels", "members", "secret"); !strings.Contains(out, "@bob") || !strings.Contains(out, "@carol") || !strings.Contains(out, "owner") {
		t.Fatalf("members: %q", out)
	}

	out = alice.ok("", "send", "general", "the", "deploy", "is", "green")
	if !strings.Contains(out, "sent to #general") {
		t.Fatalf("send: %q", out)
	}
	var sent struct{ Message struct{ ID string } }
	if err := json.Unmarshal([]byte(bob.ok("", "send", "general", "--json", "--thread", "", "ack, rolling back the canary")), &sent); err != nil || sent.Message.ID == "" {
		t.Fatalf("send --json: %v", err)
	}
	bob.ok("", "send", "general", "--thread", sent.Message.ID, "done")
	bob.ok("multi\nline from stdin\n", "send", "general", "-")

	out = bob.ok("", "history", "general")
	for _, want := range []string{"@alice: the deploy is green", "@bob: ack, rolling back the canary", "@bob: ack, rolling back the canary [1 reply]", "multi\n    line from stdin"} {
		if !strings.Contains(out, want) {
			t.Fatalf("history lacks %q:\n%s", want, out)
		}
	}
	var page struct {
		Messages []struct{ Body string }
		HasMore  bool `json:"has_more"`
	}
	if err := json.Unmarshal([]byte(bob.ok("", "history", "general", "--limit", "2", "--json")), &page); err != nil || len(page.Messages) != 2 || !page.HasMore {
		t.Fatalf("history --json: %v %+v", err, page)
	}

	// carol sees only the private channel she was invited to, with an
	// unread mention once alice names her.
	out = carol.ok("", "channels")
	if !strings.Contains(out, "#secret") || strings.Contains(out, "#general") {
		t.Fatalf("carol's channels: %q", out)
	}
	alice.ok("", "send", "secret", "hi @carol")
	out = carol.ok("", "channels")
	if !regexpMatch(`#secret\s+private\s+1\s+1`, out) {
		t.Fatalf("carol's unread and mention counts: %q", out)
	}

	out = bob.ok("", "search", "deploy")
	if !strings.Contains(out, "#general") || !strings.Contains(out, "the deploy is green") {
		t.Fatalf("search: %q", out)
	}
	var hits struct {
		Hits []struct{ Highlights []struct{ Start, End int } }
	}
	if err := json.Unmarshal([]byte(bob.ok("", "search", "canary", "--json")), &hits); err != nil || len(hits.Hits) != 1 || len(hits.Hits[0].Highlights) == 0 {
		t.Fatalf("search --json: %v %+v", err, hits)
	}
	if out := bob.ok("", "search", "nothing-matches-this"); !strings.Contains(out, "no messages found") {
		t.Fatalf("search without hits: %q", out)
	}

	// DMs: by username, then by @name in send.
	out = bob.ok("", "dm", "alice")
	if !strings.Contains(out, "opened direct message @alice") {
		t.Fatalf("dm: %q", out)
	}
	if out := bob.ok("", "dm", "alice"); !strings.Contains(out, "already open") {
		t.Fatalf("dm again: %q", out)
	}
	bob.ok("", "send", "@alice", "psst")
	if out := alice.ok("", "history", "@bob"); !strings.Contains(out, "@bob: psst") {
		t.Fatalf("dm history: %q", out)
	}
	if code, _, errs := bob.run("", "dm", "nobody_here"); code != 1 || !strings.Contains(errs, "no user named") {
		t.Fatalf("dm unknown user: %d %q", code, errs)
	}

	bob.ok("", "channels", "leave", "general")
	if out := bob.ok("", "channels"); strings.Contains(out, "#general") {
		t.Fatalf("left channel still listed: %q", out)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// TestCLITail: tail prints a message another user sends, and stops
// cleanly when its context ends (Ctrl-C).
func TestCLITail(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	alice := signedUp(t, n.URL, "alice", alicePW)
	bob := signedUp(t, n.URL, "bob", bobPW)
	alice.ok("", "channels", "create", "ops")
	bob.ok("", "channels", "join", "ops")
	alice.ok("", "send", "ops", "before the tail")

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, errs := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"tail", "ops"}, strings.NewReader(""), out, errs, bob.env()) }()
	waitFor(t, func() bool { return strings.Contains(errs.String(), "tailing #ops") }, errs)

	alice.ok("", "send", "ops", "rollout at 50%")
	alice.ok("", "send", "ops", "rollout at 100%")
	waitFor(t, func() bool { return strings.Contains(out.String(), "rollout at 100%") }, out)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("tail exited %d: %s", code, errs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tail did not stop on cancel")
	}
	got := out.String()
	if strings.Contains(got, "before the tail") || strings.Count(got, "@alice: rollout at 50%") != 1 ||
		strings.Index(got, "50%") > strings.Index(got, "100%") {
		t.Fatalf("tail output:\n%s", got)
	}
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, cond func() bool, show *syncBuffer) {
	t.Helper()
	for range 400 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("condition not met; output so far:\n%s", show.String())
}

// TestCLILookAlikeNames: a user who takes another's name as display name
// is still told apart, since the @username shows beside it wherever a user
// is shown.
func TestCLILookAlikeNames(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	alice := signedUp(t, n.URL, "alice", alicePW)
	mallory := newCLIUser(t, n.URL)
	mallory.okEnv("", []string{"UNHIDRA_PASSWORD", bobPW}, "register", "mallory", "--display-name", "alice")
	alice.ok("", "channels", "create", "general")
	mallory.ok("", "channels", "join", "general")
	alice.ok("", "send", "general", "the real one")
	mallory.ok("", "send", "general", "send me the keys")

	out := alice.ok("", "history", "general")
	if !strings.Contains(out, " @alice: the real one") || !strings.Contains(out, " alice (@mallory): send me the keys") {
		t.Fatalf("history:\n%s", out)
	}
	if out := alice.ok("", "channels", "members", "general"); !strings.Contains(out, "alice (@mallory)") {
		t.Fatalf("members:\n%s", out)
	}
	if out := alice.ok("", "search", "keys"); !strings.Contains(out, "alice (@mallory): send me the keys") {
		t.Fatalf("search:\n%s", out)
	}
	// --json is the API's shape, unchanged.
	var page struct {
		Messages []struct {
			Sender struct{ ID string } `json:"sender"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(alice.ok("", "history", "general", "--json")), &page); err != nil || len(page.Messages) != 2 || page.Messages[1].Sender.ID == "" {
		t.Fatalf("history --json: %v %+v", err, page)
	}
}

func TestUserLabel(t *testing.T) {
	for _, c := range []struct {
		name, username, display, want string
	}{
		{"no display name", "bob", "", "@bob"},
		{"display name is the username", "bob", "bob", "@bob"},
		{"display name", "bob", "Bob Builder", "Bob Builder (@bob)"},
		{"another user's name", "mallory", "alice", "alice (@mallory)"},
		{"bidi override", "mallory", "\u202eecila", "ecila (@mallory)"},
		{"zero-width only", "mallory", "\u200b\u200d\ufeff", "@mallory"},
		{"zero-width to pass as the username", "mallory", "mal\u200blory", "@mallory"},
		{"control characters", "mallory", "ali\x1b[2Jce\n", "ali[2Jce (@mallory)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := userLabel(&unhidra.User{Username: c.username, DisplayName: c.display}); got != c.want {
				t.Fatalf("userLabel = %q, want %q", got, c.want)
			}
		})
	}
}
