// What every client verb shares: the usage text, dispatch, flags, which
// server to talk to, the API client, and errors worded for a person. The
// verbs live beside it by concern: accounts_cmds.go, channels_cmds.go,
// messages_cmds.go, search_cmd.go, tail.go; output.go shows their results.

package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/client/e2eeclient"
)

// clientUsage lists the client verbs; main's usage text includes it.
const clientUsage = `
Client commands (each takes --server URL or UNHIDRA_SERVER, and --json):
  unhidra register [--username NAME] [--display-name NAME] [--setup-token T] [--invite CODE]
  unhidra login [--username NAME]    sign in; the password is read from UNHIDRA_PASSWORD
                                     or standard input (never echoed)
  unhidra logout | whoami
  unhidra channels                   your channels with unread counts
  unhidra channels create NAME [--private] [--topic T]
  unhidra channels join|leave|members CHANNEL
  unhidra channels invite CHANNEL USERNAME...
  unhidra dm USERNAME...             open a direct message
  unhidra send CHANNEL TEXT... [--thread ID]   (TEXT "-" reads standard input)
  unhidra history CHANNEL [--limit N]
  unhidra tail [CHANNEL...]          print messages as they arrive (Ctrl-C stops)
  unhidra search QUERY...
  unhidra tokens create NAME [--scopes read,write,admin] [--expires 720h]
                                     a personal access token for scripts, printed once
  unhidra tokens ls | tokens rm ID
  unhidra passkeys ls | passkeys rename ID NAME | passkeys rm ID
                                     your passkeys (add them in the web client)
  unhidra keys [rotate]              this install's end-to-end client id and fingerprint;
                                     rotate replaces its signed and post-quantum prekeys
  unhidra 2fa status|enable|disable|recovery-codes
                                     two-factor (TOTP); codes come from UNHIDRA_TOTP_CODE
                                     or standard input
CHANNEL is a name (#general), an ID, or @user[,user…] for a direct message.
Credentials live in the user config directory (unhidra/credentials.json, 0600).
`

// isClientVerb reports whether v is a command dispatched to clientCommand.
func isClientVerb(v string) bool {
	switch v {
	case "register", "login", "logout", "whoami", "channels", "dm", "send", "history", "tail", "search", "tokens", "passkeys", "keys", "2fa":
		return true
	}
	return false
}

// usageError is a command line the program cannot understand: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// cli is one client command's context.
type cli struct {
	ctx       context.Context
	stdin     io.Reader
	in        *bufio.Reader // stdin, buffered once so prompts share it
	stdout    io.Writer
	stderr    io.Writer
	lookupEnv env

	server string
	json   bool
	file   *credFile
	c      *client.Client
	me     *signin // the stored sign-in for server, if any

	users  map[string]*unhidra.User // by ID, for display; nil when the lookup failed
	secure *e2eeclient.Client       // the end-to-end install, opened when first needed
}

// clientCommand runs a client verb.
func clientCommand(ctx context.Context, verb string, args []string, stdin io.Reader, stdout, stderr io.Writer, lookupEnv env) error {
	path, err := credentialsPath(lookupEnv)
	if err != nil {
		return err
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	x := &cli{ctx: ctx, stdin: stdin, in: bufio.NewReader(stdin), stdout: stdout, stderr: stderr, lookupEnv: lookupEnv,
		file: &credFile{path: path}, users: map[string]*unhidra.User{}}
	switch verb {
	case "register":
		return x.register(args)
	case "login":
		return x.login(args)
	case "logout":
		return x.logout(args)
	case "whoami":
		return x.whoami(args)
	case "channels":
		return x.channels(args)
	case "dm":
		return x.dm(args)
	case "keys":
		return x.keysCmd(args)
	case "send":
		return x.send(args)
	case "history":
		return x.history(args)
	case "tail":
		return x.tail(args)
	case "search":
		return x.search(args)
	case "tokens":
		return x.tokens(args)
	case "passkeys":
		return x.passkeys(args)
	case "2fa":
		return x.twoFactor(args)
	}
	return usagef("unknown command %q", verb)
}

// flags returns a flag set with the options every client verb takes.
func (x *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("unhidra "+name, flag.ContinueOnError)
	fs.SetOutput(x.stderr)
	fs.StringVar(&x.server, "server", "", "server URL (default $UNHIDRA_SERVER, else the one you logged in to)")
	fs.BoolVar(&x.json, "json", false, "print JSON for scripts")
	return fs
}

// parse parses flags that may come before, between or after the
// positional arguments ("send general hi --thread X"); "--" ends the flags.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// resolveServer settles which server a command talks to: --server, then
// UNHIDRA_SERVER, then the default in the credentials file.
func (x *cli) resolveServer(fallback string) error {
	if x.server == "" {
		x.server, _ = x.lookupEnv("UNHIDRA_SERVER")
	}
	creds, err := x.file.load()
	if err != nil {
		return err
	}
	if x.server == "" {
		x.server = creds.Default
	}
	if x.server == "" {
		x.server = fallback
	}
	if x.server == "" {
		return usagef("no server: pass --server URL or set UNHIDRA_SERVER (or log in first)")
	}
	x.server = normalizeServer(x.server)
	x.me = creds.Servers[x.server]
	return nil
}

// normalizeServer makes one spelling per server, so the credentials of
// "localhost:8080/" and "http://localhost:8080" are the same entry.
func normalizeServer(s string) string {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	return strings.TrimRight(s, "/")
}

// connect builds the API client; signedIn requires stored credentials.
func (x *cli) connect(signedIn bool) error {
	if err := x.resolveServer(""); err != nil {
		return err
	}
	opts := []client.Option{
		client.WithUserAgent("unhidra-cli/" + unhidra.Version),
		client.WithTokenStore(tokenStore{file: x.file, server: x.server}),
	}
	if x.me != nil {
		opts = append(opts, client.WithTokens(x.me.Tokens))
	}
	c, err := client.New(x.server, opts...)
	if err != nil {
		return usageError{err.Error()}
	}
	x.c = c
	if signedIn && (x.me == nil || !c.SignedIn()) {
		return fmt.Errorf("not logged in to %s: run unhidra login --server %s", x.server, x.server)
	}
	return nil
}

// friendly rewrites API errors into what a user can act on.
func (x *cli) friendly(err error) error {
	var e *client.Error
	if !errors.As(err, &e) {
		return err
	}
	switch {
	case e.Code == client.CodeUnauthenticated && x.me != nil:
		return fmt.Errorf("your session on %s has ended (%s): run unhidra login", x.server, e.Message)
	case e.Code == client.CodeRateLimited && e.RetryAfter > 0:
		return fmt.Errorf("%s: try again in %s", e.Message, e.RetryAfter.Round(time.Second))
	case e.Message != "":
		return errors.New(e.Message)
	}
	return err
}
