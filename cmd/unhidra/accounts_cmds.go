// The account verbs: register, login, logout and whoami, and the prompts
// that read their credentials.

package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
)

// prompt asks for one line on the terminal (stderr) and reads it from stdin.
func (x *cli) prompt(label string) (string, error) {
	fmt.Fprint(x.stderr, label)
	line, err := x.in.ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read %s from standard input: %w", strings.TrimSuffix(strings.TrimSpace(label), ":"), err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// interactive reports whether passwords are typed at a terminal.
func (x *cli) interactive() bool {
	if _, ok := x.lookupEnv("UNHIDRA_PASSWORD"); ok {
		return false
	}
	f, ok := x.stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// password reads a password from UNHIDRA_PASSWORD or standard input,
// without echo when standard input is a terminal.
func (x *cli) password(label string) (string, error) {
	if pw, ok := x.lookupEnv("UNHIDRA_PASSWORD"); ok {
		return pw, nil
	}
	if x.interactive() {
		f := x.stdin.(*os.File)
		fmt.Fprint(x.stderr, label)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(x.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	// A pipe or a file: read one line, print no prompt text that a script
	// would have to filter, and echo nothing.
	line, err := x.in.ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password: set UNHIDRA_PASSWORD or write it on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// warnPlainHTTP says when a password is about to cross the network in
// clear text.
func (x *cli) warnPlainHTTP() {
	u, err := url.Parse(x.server)
	if err != nil || u.Scheme != "http" {
		return
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return
	}
	fmt.Fprintf(x.stderr, "warning: %s is plain HTTP; the password crosses the network unencrypted\n", x.server)
}

func (x *cli) register(args []string) error {
	fs := x.flags("register")
	var username, display, setup, invite string
	fs.StringVar(&username, "username", "", "username (asked when missing)")
	fs.StringVar(&display, "display-name", "", "display name")
	fs.StringVar(&setup, "setup-token", "", "the one-time setup token from the server log (makes you the admin)")
	fs.StringVar(&invite, "invite", "", "invite code (servers with --registration invite)")
	username, pw, err := x.askCredentials(fs, args, "register", &username)
	if err != nil {
		return err
	}
	if x.interactive() {
		// Nobody sees what they typed: ask twice rather than register
		// an account with a typo for a password.
		again, err := x.password("password (again): ")
		if err != nil {
			return err
		}
		if again != pw {
			return errors.New("the passwords differ")
		}
	}
	u, err := x.c.Register(x.ctx, client.RegisterInput{Username: username, Password: pw, DisplayName: display, SetupToken: setup, Invite: invite})
	if err != nil {
		return x.friendly(err)
	}
	if _, err := x.signIn(username, pw); err != nil {
		return err
	}
	if x.json {
		return x.printJSON(map[string]any{"user": u, "server": x.server})
	}
	fmt.Fprintf(x.stdout, "registered and logged in as %s on %s\n", userLabel(u), x.server)
	return nil
}

// askCredentials reads a username (the one positional argument, the flag,
// or a prompt) and a password for register and login, after connecting to
// the server.
// flagUsername is the --username variable, set by the parse here.
func (x *cli) askCredentials(fs *flag.FlagSet, args []string, verb string, flagUsername *string) (string, string, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return "", "", err
	}
	username := *flagUsername
	if len(pos) > 1 {
		return "", "", usagef("%s takes at most a username", verb)
	}
	if len(pos) == 1 {
		username = pos[0]
	}
	if err := x.resolveServer("http://localhost:8080"); err != nil {
		return "", "", err
	}
	if err := x.connect(false); err != nil {
		return "", "", err
	}
	if username == "" {
		if username, err = x.prompt("username: "); err != nil {
			return "", "", err
		}
	}
	x.warnPlainHTTP()
	pw, err := x.password("password: ")
	return username, pw, err
}

func (x *cli) login(args []string) error {
	fs := x.flags("login")
	var username string
	fs.StringVar(&username, "username", "", "username (asked when missing)")
	username, pw, err := x.askCredentials(fs, args, "login", &username)
	if err != nil {
		return err
	}
	u, err := x.signIn(username, pw)
	if err != nil {
		return err
	}
	if x.json {
		return x.printJSON(map[string]any{"server": x.server, "username": x.me.Username, "user_id": x.me.UserID})
	}
	fmt.Fprintf(x.stdout, "logged in as %s on %s\n", userLabel(u), x.server)
	return nil
}

// signIn logs in and records the sign-in (the tokens are written by the
// client's token store first, then the username and default server here).
func (x *cli) signIn(username, pw string) (*unhidra.User, error) {
	// A previous session on this server is ended first, so logging in
	// again does not leave a live refresh token behind.
	if x.me != nil && x.c.SignedIn() {
		x.c.Logout(x.ctx)
	}
	u, err := x.c.Login(x.ctx, username, pw)
	if m, ok := client.IsMFARequired(err); ok {
		if err := x.finishMFA(m); err != nil {
			return nil, x.friendly(err)
		}
		u, err = x.c.Me(x.ctx)
	}
	if err != nil {
		return nil, x.friendly(err)
	}
	x.remember(u)
	x.me = &signin{Username: u.Username, UserID: u.ID, Tokens: x.c.Tokens()}
	return u, x.file.update(func(c *credentials) {
		c.Servers[x.server] = x.me
		c.Default = x.server
	})
}

func (x *cli) logout(args []string) error {
	fs := x.flags("logout")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("logout takes no arguments")
	}
	if err := x.connect(false); err != nil {
		return err
	}
	if x.me == nil {
		fmt.Fprintf(x.stderr, "not logged in to %s\n", x.server)
		return nil
	}
	err := x.c.Logout(x.ctx)
	if err != nil {
		// The local credentials are gone either way; say the session may
		// outlive them.
		return fmt.Errorf("logged out locally, but the server could not be told (the session may stay valid until it expires): %w", x.friendly(err))
	}
	if !x.json {
		fmt.Fprintf(x.stdout, "logged out of %s\n", x.server)
	}
	return nil
}

func (x *cli) whoami(args []string) error {
	fs := x.flags("whoami")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("whoami takes no arguments")
	}
	if err := x.connect(true); err != nil {
		return err
	}
	u, err := x.c.Me(x.ctx)
	if err != nil {
		return x.friendly(err)
	}
	if x.json {
		return x.printJSON(map[string]any{"server": x.server, "user": u})
	}
	fmt.Fprintf(x.stdout, "%s on %s — user %s, role %s\n", userLabel(u), x.server, u.ID, u.Role)
	return nil
}
