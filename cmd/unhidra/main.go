// Command unhidra is the Unhidra server and its command-line tools in one
// binary. Run `unhidra help` for the list of commands.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/config"
	"github.com/unhidra/unhidra/server"
	"github.com/unhidra/unhidra/store"
)

const usage = `unhidra — self-hosted secure team chat with IoT devices as participants

Usage:
  unhidra serve [flags]              run the server (unhidra serve -h lists every flag)
  unhidra admin migrate [flags]      apply pending database migrations and exit
  unhidra admin create-admin --username NAME [--display-name NAME] [flags]
                                     create an admin account; the password is read
                                     from UNHIDRA_ADMIN_PASSWORD or standard input
  unhidra admin break-glass USER on|off [flags]
                                     let USER sign in with a password under
                                     --password-login sso-only (or stop it)
  unhidra admin settings list|set KEY VALUE|reset KEY [flags]
                                     the settings admins change at runtime (a
                                     flag is only the default; reset drops an override)
  unhidra admin backup --to FILE [flags]      copy the SQLite database while the server runs
  unhidra admin restore --from FILE [flags]   put a backup in place (the server stopped)
  unhidra admin migrate-data --to postgres://… [flags]
                                     copy the SQLite database into an empty PostgreSQL
                                     database (stop the server first)
  unhidra admin audit verify [--checkpoints FILE] [--public-key KEY] [flags]
                                     check the audit log's hash chain and signatures
  unhidra admin audit export [--after SEQ] [flags]
                                     the audit log as JSON lines on standard output
  unhidra bench SCENARIO [flags]     load generator: sends, fanout, idle, all
  unhidra version                    print the version
` + clientUsage + `
Every flag also reads UNHIDRA_<FLAG> (dashes as underscores) and a TOML file
given with --config or UNHIDRA_CONFIG.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// env is how the program reads its environment (os.LookupEnv in main).
type env = func(string) (string, bool)

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, lookupEnv env) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stderr, lookupEnv)
	case "admin":
		err = admin(ctx, args[1:], stdin, stdout, stderr, lookupEnv)
	case "bench":
		err = benchCommand(ctx, args[1:], stdin, stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "unhidra %s (%s, %s/%s)\n", unhidra.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		if isClientVerb(args[0]) {
			err = clientCommand(ctx, args[0], args[1:], stdin, stdout, stderr, lookupEnv)
			break
		}
		fmt.Fprintf(stderr, "unhidra: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if ue := (usageError{}); errors.As(err, &ue) {
			fmt.Fprintf(stderr, "unhidra %s: %v\n", args[0], err)
			return 2
		}
		fmt.Fprintf(stderr, "unhidra %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// loadConfig parses a subcommand's flags and environment into a Config.
func loadConfig(name string, args []string, stderr io.Writer, lookupEnv env, extra func(*flag.FlagSet)) (config.Config, error) {
	fs := flag.NewFlagSet("unhidra "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if extra != nil {
		extra(fs)
	}
	cfg, err := config.Load(fs, args, lookupEnv)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		err = fmt.Errorf("configuration:\n%w", indent(err))
	}
	return cfg, err
}

func indent(err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return errors.New(strings.Join(lines, "\n"))
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(ctx context.Context, args []string, stderr io.Writer, lookupEnv env) error {
	cfg, err := loadConfig("serve", args, stderr, lookupEnv, nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	node, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return node.Run(ctx)
}

func admin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, lookupEnv env) error {
	if len(args) == 0 {
		return errors.New("want a subcommand: migrate, create-admin, break-glass, settings, backup, restore, migrate-data or audit")
	}
	switch args[0] {
	case "audit":
		return adminAudit(ctx, args[1:], stdout, stderr, lookupEnv)
	case "settings":
		return adminSettings(ctx, args[1:], stdout, stderr, lookupEnv)
	case "migrate":
		cfg, err := loadConfig("admin migrate", args[1:], stderr, lookupEnv, nil)
		if err != nil {
			return err
		}
		db, err := server.OpenStore(ctx, cfg, newLogger(cfg, stderr), false)
		if err != nil {
			return err
		}
		defer db.Close()
		applied, err := db.Migrate(ctx)
		if err != nil {
			return err
		}
		v, err := db.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: applied %d migration(s) %v; schema version %d, in the %s\n", db.Engine(), len(applied), applied, v, describeDB(cfg))
		return nil
	case "create-admin":
		var username, displayName string
		cfg, err := loadConfig("admin create-admin", args[1:], stderr, lookupEnv, func(fs *flag.FlagSet) {
			fs.StringVar(&username, "username", "", "username of the new admin")
			fs.StringVar(&displayName, "display-name", "", "display name of the new admin")
		})
		if err != nil {
			return err
		}
		if username == "" {
			return errors.New("--username is required")
		}
		// Refuse a data dir without a database before asking for the
		// password: run from the wrong directory, create-admin would
		// otherwise make a new database (and signing keys) that no server
		// reads, and report success.
		if path, ok := sqliteFile(cfg); ok {
			if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("no database at %s: point --data (or --db) at the server's data directory, "+
					"or run `unhidra admin migrate` with the same flags first to create a new one", path)
			}
		}
		pw, ok := lookupEnv("UNHIDRA_ADMIN_PASSWORD")
		if !ok {
			fmt.Fprint(stderr, "password: ")
			line, err := bufio.NewReader(stdin).ReadString('\n')
			if err != nil && line == "" {
				return fmt.Errorf("read password from standard input: %w", err)
			}
			pw = strings.TrimRight(line, "\r\n")
		}
		log := newLogger(cfg, stderr)
		db, err := openUsedStore(ctx, cfg, log, ", or run `unhidra admin migrate` first to set up a new one")
		if err != nil {
			return err
		}
		defer db.Close()
		keys, err := server.LoadKeys(ctx, cfg, db, log)
		if err != nil {
			return err
		}
		// The password rules in force, an admin's override included.
		live := server.NewSettings(cfg, db, nil, nil, log)
		if err := live.Reload(ctx); err != nil {
			return err
		}
		svc, err := server.NewAuth(cfg, db, keys, nil, nil, live, log)
		if err != nil {
			return err
		}
		u, err := svc.CreateAdmin(ctx, username, pw, displayName)
		if err != nil {
			if unhidra.ErrorCode(err) != unhidra.EInternal {
				return errors.New(unhidra.ErrorMessage(err))
			}
			return err
		}
		fmt.Fprintf(stdout, "created admin %s (id %s) in the %s\n", u.Username, u.ID, describeDB(cfg))
		return nil
	case "break-glass":
		if len(args) < 3 || strings.HasPrefix(args[1], "-") || (args[2] != "on" && args[2] != "off") {
			return errors.New("usage: unhidra admin break-glass USER on|off [flags]")
		}
		username, on := args[1], args[2] == "on"
		cfg, err := loadConfig("admin break-glass", args[3:], stderr, lookupEnv, nil)
		if err != nil {
			return err
		}
		log := newLogger(cfg, stderr)
		db, err := openUsedStore(ctx, cfg, log, "")
		if err != nil {
			return err
		}
		defer db.Close()
		keys, err := server.LoadKeys(ctx, cfg, db, log)
		if err != nil {
			return err
		}
		svc, err := server.NewAuth(cfg, db, keys, nil, nil, nil, log)
		if err != nil {
			return err
		}
		u, err := svc.SetBreakGlassUnchecked(ctx, username, on)
		if err != nil {
			if unhidra.ErrorCode(err) != unhidra.EInternal {
				return errors.New(unhidra.ErrorMessage(err))
			}
			return err
		}
		fmt.Fprintf(stdout, "break-glass %s for %s (id %s) in the %s\n", args[2], u.Username, u.ID, describeDB(cfg))
		return nil
	case "backup":
		var to string
		cfg, err := loadConfig("admin backup", args[1:], stderr, lookupEnv, func(fs *flag.FlagSet) {
			fs.StringVar(&to, "to", "", "`FILE` to write the copy to (must not exist)")
		})
		if err != nil {
			return err
		}
		if to == "" {
			return errors.New("--to FILE is required")
		}
		if _, ok := sqliteFile(cfg); !ok {
			return errors.New("backup copies SQLite databases; for PostgreSQL use pg_dump (docs/operations.md)")
		}
		db, err := server.OpenStore(ctx, cfg, newLogger(cfg, stderr), false)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := db.Backup(ctx, to); err != nil {
			if unhidra.ErrorCode(err) != unhidra.EInternal {
				return errors.New(unhidra.ErrorMessage(err))
			}
			return err
		}
		fmt.Fprintf(stdout, "backed up the %s to %s (also keep the key-encryption key, keys/kek in the data directory unless you set it yourself: the database's keys are sealed with it)\n", describeDB(cfg), to)
		return nil
	case "restore":
		var from string
		cfg, err := loadConfig("admin restore", args[1:], stderr, lookupEnv, func(fs *flag.FlagSet) {
			fs.StringVar(&from, "from", "", "backup `FILE` written by `unhidra admin backup`")
		})
		if err != nil {
			return err
		}
		if from == "" {
			return errors.New("--from FILE is required")
		}
		target, ok := sqliteFile(cfg)
		if !ok {
			return errors.New("restore replaces SQLite databases; for PostgreSQL use pg_restore (docs/operations.md)")
		}
		if err := store.RestoreSQLite(ctx, from, target); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "restored %s into %s; start the server\n", from, target)
		return nil
	case "migrate-data":
		return migrateData(ctx, args[1:], stdout, stderr, lookupEnv)
	}
	return fmt.Errorf("unknown admin command %q: want migrate, create-admin, break-glass, settings, backup, restore, migrate-data or audit", args[0])
}

// sqliteFile is the absolute path of cfg's database when it is SQLite (the
// data dir's unhidra.db, or a --db of sqlite://PATH, sqlite:PATH or
// PATH.db, as the store reads them).
func sqliteFile(cfg config.Config) (string, bool) {
	u := cfg.DatabaseURL()
	var p string
	switch lower := strings.ToLower(u); {
	case strings.HasPrefix(lower, "sqlite://"):
		p = u[len("sqlite://"):]
	case strings.HasPrefix(lower, "sqlite:"):
		p = u[len("sqlite:"):]
	case !strings.Contains(u, "://") && strings.HasSuffix(u, ".db"):
		p = u
	default:
		return "", false
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p, true
}

// describeDB names the database cfg points at, for an operator to check:
// the SQLite file's absolute path, or the PostgreSQL host and database
// (never the user or password).
func describeDB(cfg config.Config) string {
	if path, ok := sqliteFile(cfg); ok {
		return "SQLite database " + path
	}
	u, err := url.Parse(cfg.DB)
	if err != nil || u.Host == "" {
		return "database given by --db"
	}
	return "PostgreSQL database " + strings.TrimPrefix(u.Path, "/") + " on " + u.Host
}

// openUsedStore opens the database of cfg for an admin command that acts
// on a server's data, and brings its schema up to date. An empty database
// (PostgreSQL, or a SQLite file no server has set up) is refused for the
// same reason as a missing one; hint ends that error.
func openUsedStore(ctx context.Context, cfg config.Config, log *slog.Logger, hint string) (*store.DB, error) {
	db, err := server.OpenStore(ctx, cfg, log, false)
	if err != nil {
		return nil, err
	}
	v, err := db.SchemaVersion(ctx)
	if err == nil && v == 0 {
		err = fmt.Errorf("the %s is empty: no server has used it; check --db and --data%s", describeDB(cfg), hint)
	}
	if err == nil {
		_, err = db.Migrate(ctx)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
