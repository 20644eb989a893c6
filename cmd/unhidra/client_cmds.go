package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
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
CHANNEL is a name (#general), an ID, or @user[,user…] for a direct message.
Credentials live in the user config directory (unhidra/credentials.json, 0600).
`

// isClientVerb reports whether v is a command dispatched to clientCommand.
func isClientVerb(v string) bool {
	switch v {
	case "register", "login", "logout", "whoami", "channels", "dm", "send", "history", "tail", "search":
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

	users map[string]string // user ID → username, for display
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
		file: &credFile{path: path}, users: map[string]string{}}
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
	case "send":
		return x.send(args)
	case "history":
		return x.history(args)
	case "tail":
		return x.tail(args)
	case "search":
		return x.search(args)
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

// printJSON writes v as indented JSON.
func (x *cli) printJSON(v any) error {
	enc := json.NewEncoder(x.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

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
	if err := x.signIn(username, pw); err != nil {
		return err
	}
	if x.json {
		return x.printJSON(map[string]any{"user": u, "server": x.server})
	}
	fmt.Fprintf(x.stdout, "registered and logged in as %s on %s\n", u.Username, x.server)
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
	if err := x.signIn(username, pw); err != nil {
		return err
	}
	if x.json {
		return x.printJSON(map[string]any{"server": x.server, "username": x.me.Username, "user_id": x.me.UserID})
	}
	fmt.Fprintf(x.stdout, "logged in as %s on %s\n", x.me.Username, x.server)
	return nil
}

// signIn logs in and records the sign-in (the tokens are written by the
// client's token store first, then the username and default server here).
func (x *cli) signIn(username, pw string) error {
	// A previous session on this server is ended first, so logging in
	// again does not leave a live refresh token behind.
	if x.me != nil && x.c.SignedIn() {
		x.c.Logout(x.ctx)
	}
	u, err := x.c.Login(x.ctx, username, pw)
	if err != nil {
		return x.friendly(err)
	}
	x.me = &signin{Username: u.Username, UserID: u.ID, Tokens: x.c.Tokens()}
	return x.file.update(func(c *credentials) {
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
	name := u.Username
	if u.DisplayName != "" && u.DisplayName != u.Username {
		name += " (" + u.DisplayName + ")"
	}
	fmt.Fprintf(x.stdout, "%s on %s — user %s, role %s\n", name, x.server, u.ID, u.Role)
	return nil
}

// username returns a user's name for display, asking the server once per
// user.
func (x *cli) username(id string) string {
	if id == "" {
		return "?"
	}
	if n, ok := x.users[id]; ok {
		return n
	}
	n := id
	if u, err := x.c.User(x.ctx, id); err == nil {
		n = u.Username
	}
	x.users[id] = n
	return n
}

// sender names a message's sender.
func (x *cli) sender(m *unhidra.Message) string {
	if m.Sender.Type == unhidra.SenderDevice {
		return "device:" + m.Sender.ID
	}
	return x.username(m.Sender.ID)
}

// channelName names a channel for display: #name, or @a,@b for a DM
// (without the caller).
func (x *cli) channelName(ch *unhidra.Channel) string {
	if ch.Kind != unhidra.ChannelDirect {
		return "#" + ch.Name
	}
	var names []string
	for _, id := range ch.Members {
		if x.me != nil && id == x.me.UserID && len(ch.Members) > 1 {
			continue
		}
		names = append(names, "@"+x.username(id))
	}
	if len(names) == 0 {
		return "@" + ch.ID
	}
	return strings.Join(names, ",")
}

// resolveChannel turns a CHANNEL argument into a channel: a name or ID, or
// @user[,user…] for the direct message with those users (opened if new).
func (x *cli) resolveChannel(ref string) (*unhidra.Channel, error) {
	if strings.HasPrefix(ref, "@") {
		ch, _, err := x.openDM(strings.Split(ref, ","))
		return ch, err
	}
	ch, err := x.c.ResolveChannel(x.ctx, ref)
	if err != nil {
		if client.IsCode(err, client.CodeNotFound) {
			return nil, fmt.Errorf("no channel %q that you can see", ref)
		}
		return nil, x.friendly(err)
	}
	return ch, nil
}

// openDM opens the direct message with the named users.
func (x *cli) openDM(usernames []string) (*unhidra.Channel, bool, error) {
	var ids []string
	for _, n := range usernames {
		n = strings.TrimPrefix(strings.TrimSpace(n), "@")
		if n == "" {
			continue
		}
		u, err := x.c.UserByUsername(x.ctx, n)
		if err != nil {
			if client.IsCode(err, client.CodeNotFound) {
				return nil, false, fmt.Errorf("no user named %q", n)
			}
			return nil, false, x.friendly(err)
		}
		x.users[u.ID] = u.Username
		if u.ID != x.me.UserID {
			ids = append(ids, u.ID)
		}
	}
	if len(ids) == 0 {
		return nil, false, usagef("name at least one other user")
	}
	// The CLI posts plain text, so it asks for a standard DM explicitly.
	ch, created, err := x.c.CreateDM(x.ctx, ids, false)
	if err != nil {
		return nil, false, x.friendly(err)
	}
	return ch, created, nil
}

func (x *cli) channels(args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, rest := args[0], args[1:]
		switch sub {
		case "create":
			return x.channelsCreate(rest)
		case "join", "leave", "members":
			return x.channelsOne(sub, rest)
		case "invite":
			return x.channelsInvite(rest)
		}
		return usagef("unknown channels command %q: want create, join, leave, invite or members", sub)
	}
	fs := x.flags("channels")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("unknown channels command %q", pos[0])
	}
	if err := x.connect(true); err != nil {
		return err
	}
	list, err := x.c.Channels(x.ctx)
	if err != nil {
		return x.friendly(err)
	}
	if x.json {
		if list == nil {
			list = []*unhidra.Channel{}
		}
		return x.printJSON(map[string]any{"channels": list})
	}
	if len(list) == 0 {
		fmt.Fprintln(x.stdout, "no channels yet: unhidra channels create NAME, or join one")
		return nil
	}
	sort.SliceStable(list, func(i, j int) bool { return x.channelName(list[i]) < x.channelName(list[j]) })
	tw := tabwriter.NewWriter(x.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHANNEL\tKIND\tUNREAD\tMENTIONS\tTOPIC\tID")
	for _, ch := range list {
		kind := ch.Kind
		if ch.Muted {
			kind += ",muted"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", x.channelName(ch), kind, ch.UnreadCount, ch.MentionCount, oneLine(ch.Topic, 40), ch.ID)
	}
	return tw.Flush()
}

func (x *cli) channelsCreate(args []string) error {
	fs := x.flags("channels create")
	private := fs.Bool("private", false, "a private channel (invite only)")
	topic := fs.String("topic", "", "the channel topic")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: unhidra channels create NAME [--private] [--topic T]")
	}
	if err := x.connect(true); err != nil {
		return err
	}
	in := client.CreateChannelInput{Name: strings.TrimPrefix(pos[0], "#"), Kind: unhidra.ChannelPublic, Topic: *topic}
	if *private {
		in.Kind = unhidra.ChannelPrivate
	}
	ch, err := x.c.CreateChannel(x.ctx, in)
	if err != nil {
		return x.friendly(err)
	}
	if x.json {
		return x.printJSON(map[string]any{"channel": ch})
	}
	fmt.Fprintf(x.stdout, "created %s channel #%s (%s)\n", ch.Kind, ch.Name, ch.ID)
	return nil
}

// channelsOne runs join, leave and members, which take one CHANNEL.
func (x *cli) channelsOne(sub string, args []string) error {
	fs := x.flags("channels " + sub)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: unhidra channels %s CHANNEL", sub)
	}
	if err := x.connect(true); err != nil {
		return err
	}
	ch, err := x.resolveChannel(pos[0])
	if err != nil {
		return err
	}
	switch sub {
	case "join":
		joined, err := x.c.Join(x.ctx, ch.ID)
		if err != nil {
			return x.friendly(err)
		}
		if joined != nil {
			ch = joined
		}
		if x.json {
			return x.printJSON(map[string]any{"channel": ch})
		}
		fmt.Fprintf(x.stdout, "joined %s\n", x.channelName(ch))
	case "leave":
		if err := x.c.Leave(x.ctx, ch.ID); err != nil {
			return x.friendly(err)
		}
		if !x.json {
			fmt.Fprintf(x.stdout, "left %s\n", x.channelName(ch))
		}
	case "members":
		var members []*unhidra.Member
		opts := client.ListOptions{Limit: 200}
		for range 100 { // 20,000 members: beyond that, a listing is not for a terminal
			page, err := x.c.Members(x.ctx, ch.ID, opts)
			if err != nil {
				return x.friendly(err)
			}
			members = append(members, page.Members...)
			if page.NextCursor == "" || len(page.Members) == 0 {
				break
			}
			opts.Cursor = page.NextCursor
		}
		if x.json {
			if members == nil {
				members = []*unhidra.Member{}
			}
			return x.printJSON(map[string]any{"members": members})
		}
		tw := tabwriter.NewWriter(x.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tROLE\tJOINED")
		for _, m := range members {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", x.username(m.UserID), m.Role, m.JoinedAt.Local().Format("2006-01-02"))
		}
		return tw.Flush()
	}
	return nil
}

func (x *cli) channelsInvite(args []string) error {
	fs := x.flags("channels invite")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return usagef("usage: unhidra channels invite CHANNEL USERNAME...")
	}
	if err := x.connect(true); err != nil {
		return err
	}
	ch, err := x.resolveChannel(pos[0])
	if err != nil {
		return err
	}
	for _, name := range pos[1:] {
		u, err := x.c.UserByUsername(x.ctx, name)
		if err != nil {
			if client.IsCode(err, client.CodeNotFound) {
				return fmt.Errorf("no user named %q", name)
			}
			return x.friendly(err)
		}
		if _, _, err := x.c.AddMember(x.ctx, ch.ID, u.ID); err != nil {
			return fmt.Errorf("invite %s: %w", u.Username, x.friendly(err))
		}
		if !x.json {
			fmt.Fprintf(x.stdout, "added %s to %s\n", u.Username, x.channelName(ch))
		}
	}
	return nil
}

func (x *cli) dm(args []string) error {
	fs := x.flags("dm")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("usage: unhidra dm USERNAME...")
	}
	if err := x.connect(true); err != nil {
		return err
	}
	ch, created, err := x.openDM(pos)
	if err != nil {
		return err
	}
	if x.json {
		return x.printJSON(map[string]any{"channel": ch, "created": created})
	}
	verb := "opened"
	if !created {
		verb = "already open:"
	}
	fmt.Fprintf(x.stdout, "%s direct message %s (%s)\n", verb, x.channelName(ch), ch.ID)
	return nil
}

func (x *cli) send(args []string) error {
	fs := x.flags("send")
	thread := fs.String("thread", "", "reply in the thread of this message ID")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return usagef("usage: unhidra send CHANNEL TEXT... [--thread ID]")
	}
	text := strings.Join(pos[1:], " ")
	if text == "-" {
		b, err := io.ReadAll(io.LimitReader(x.in, 1<<20))
		if err != nil {
			return fmt.Errorf("read the message from standard input: %w", err)
		}
		text = strings.TrimRight(string(b), "\n")
	}
	if strings.TrimSpace(text) == "" {
		return usagef("the message is empty")
	}
	if err := x.connect(true); err != nil {
		return err
	}
	ch, err := x.resolveChannel(pos[0])
	if err != nil {
		return err
	}
	in := &unhidra.SendInput{ChannelID: ch.ID, Body: text, ThreadRootID: *thread}
	m, err := x.c.Send(x.ctx, in)
	if err != nil && client.ErrorCode(err) == "" && x.ctx.Err() == nil {
		// A network failure may have hit after the server stored the
		// message: one retry with the same client_msg_id is stored once.
		m, err = x.c.Send(x.ctx, in)
	}
	if err != nil {
		return x.friendly(err)
	}
	if x.json {
		return x.printJSON(map[string]any{"message": m})
	}
	fmt.Fprintf(x.stdout, "sent to %s (message %s, seq %d)\n", x.channelName(ch), m.ID, m.Seq)
	return nil
}

func (x *cli) history(args []string) error {
	fs := x.flags("history")
	limit := fs.Int("limit", 50, "how many of the latest messages (at most 200)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: unhidra history CHANNEL [--limit N]")
	}
	if *limit < 1 || *limit > 200 {
		return usagef("--limit must be between 1 and 200")
	}
	if err := x.connect(true); err != nil {
		return err
	}
	ch, err := x.resolveChannel(pos[0])
	if err != nil {
		return err
	}
	page, err := x.c.Messages(x.ctx, ch.ID, client.MessagesOptions{Limit: *limit})
	if err != nil {
		return x.friendly(err)
	}
	if x.json {
		if page.Messages == nil {
			page.Messages = []*unhidra.Message{}
		}
		return x.printJSON(page)
	}
	for _, m := range page.Messages {
		x.printMessage("", m)
	}
	return nil
}

// printMessage prints one message as a line (more for multi-line bodies).
func (x *cli) printMessage(prefix string, m *unhidra.Message) {
	body := m.Body
	switch {
	case m.Deleted:
		body = "(deleted)"
	case m.Ciphertext != "" && body == "":
		body = "(encrypted)"
	}
	var marks []string
	if m.ThreadRootID != "" {
		marks = append(marks, "↳ "+m.ThreadRootID)
	}
	if m.EditedAt != nil && !m.Deleted {
		marks = append(marks, "edited")
	}
	switch {
	case m.ReplyCount == 1:
		marks = append(marks, "1 reply")
	case m.ReplyCount > 1:
		marks = append(marks, fmt.Sprintf("%d replies", m.ReplyCount))
	}
	extra := ""
	if len(marks) > 0 {
		extra = " [" + strings.Join(marks, ", ") + "]"
	}
	body = strings.ReplaceAll(body, "\n", "\n    ")
	fmt.Fprintf(x.stdout, "%s%s %s: %s%s\n", prefix, m.CreatedAt.Local().Format("2006-01-02 15:04"), x.sender(m), sanitize(body), extra)
}

// sanitize drops terminal control characters from text others wrote, so a
// message cannot rewrite the reader's screen.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}

// oneLine shortens s to one line of at most n runes.
func oneLine(s string, n int) string {
	s = sanitize(strings.ReplaceAll(s, "\n", " "))
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func (x *cli) search(args []string) error {
	fs := x.flags("search")
	limit := fs.Int("limit", 20, "how many hits (at most 200)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("usage: unhidra search QUERY... (words, \"phrases\", in:CHANNEL, from:USER, before:/after:YYYY-MM-DD)")
	}
	if *limit < 1 || *limit > 200 {
		return usagef("--limit must be between 1 and 200")
	}
	if err := x.connect(true); err != nil {
		return err
	}
	res, err := x.c.Search(x.ctx, strings.Join(pos, " "), client.ListOptions{Limit: *limit})
	if err != nil {
		return x.friendly(err)
	}
	if x.json {
		if res.Hits == nil {
			res.Hits = []client.SearchHit{}
		}
		return x.printJSON(res)
	}
	if len(res.Hits) == 0 {
		fmt.Fprintln(x.stdout, "no messages found")
		return nil
	}
	names := map[string]string{}
	if list, err := x.c.Channels(x.ctx); err == nil {
		for _, ch := range list {
			names[ch.ID] = x.channelName(ch)
		}
	}
	for _, h := range res.Hits {
		if h.Message == nil {
			continue
		}
		where := names[h.Message.ChannelID]
		if where == "" {
			where = h.Message.ChannelID
		}
		x.printMessage(where+" ", h.Message)
	}
	if res.NextCursor != "" {
		fmt.Fprintln(x.stdout, "(more results: narrow the query or raise --limit)")
	}
	return nil
}
