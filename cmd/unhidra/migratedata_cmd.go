package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/server"
	"github.com/unhidra/unhidra/store"
)

// migrateData is `unhidra admin migrate-data`: it copies the SQLite
// database that --data/--db point at into an empty PostgreSQL database.
func migrateData(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv env) error {
	var to string
	cfg, err := loadConfig("admin migrate-data", args, stderr, lookupEnv, func(fs *flag.FlagSet) {
		fs.StringVar(&to, "to", "", "`URL` of the empty PostgreSQL database to copy into (postgres://…)")
	})
	if err != nil {
		return err
	}
	if to == "" {
		return usagef("--to postgres://… is required")
	}
	if lower := strings.ToLower(to); !strings.HasPrefix(lower, "postgres://") && !strings.HasPrefix(lower, "postgresql://") {
		// The URL is not echoed back: it may hold a password.
		return usagef("--to must be a postgres:// (or postgresql://) URL")
	}
	path, ok := sqliteFile(cfg)
	if !ok {
		return errors.New("migrate-data copies a SQLite database: point --data (or --db) at the SQLite install to move")
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no database at %s: point --data (or --db) at the server's data directory", path)
	}
	target := cfg
	target.DB = to

	log := newLogger(cfg, stderr)
	src, err := server.OpenStore(ctx, cfg, log, false)
	if err != nil {
		return err
	}
	defer src.Close()
	// No logger: an empty target's schema is behind this binary, as it
	// should be, and CopyTo creates it.
	dst, err := store.Open(ctx, to, store.Options{})
	if err != nil {
		return fmt.Errorf("open target: %w", err)
	}
	defer dst.Close()

	fmt.Fprintf(stderr, "copying the %s into the %s\n", describeDB(cfg), describeDB(target))
	fmt.Fprintln(stderr, "(one consistent snapshot: anything written after it is not copied, so stop the server first)")
	counts, err := src.CopyTo(ctx, dst, func(table string, rows int64) {
		if rows == 0 {
			fmt.Fprintf(stderr, "copying %s…\n", table)
		} else {
			fmt.Fprintf(stderr, "copying %s: %d rows so far\n", table, rows)
		}
	})
	if err != nil {
		if unhidra.ErrorCode(err) != unhidra.EInternal {
			return errors.New(unhidra.ErrorMessage(err))
		}
		return fmt.Errorf("%w (nothing was written to the target)", err)
	}
	var total int64
	fmt.Fprintf(stdout, "rows copied from the %s:\n", describeDB(cfg))
	for _, c := range counts {
		fmt.Fprintf(stdout, "  %-16s %d\n", c.Table, c.Rows)
		total += c.Rows
	}
	fmt.Fprintf(stdout, "copied %d rows into the %s; start the server with --db pointing at it "+
		"and the same data directory (its keys/kek unseals the signing keys)\n", total, describeDB(target))
	return nil
}
