// Package testenv gives tests real, disposable backing services: a fresh
// PostgreSQL database or SQLite file per test, removed when the test ends.
// Tests run against the real engines, never a mock of them; a service that is
// not running fails the test with instructions rather than skipping it, so a
// green run always means the engine was exercised.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresEnv names the environment variable holding the admin URL of the
// PostgreSQL server that tests create their databases on.
const PostgresEnv = "UNHIDRA_TEST_POSTGRES"

// DefaultPostgresURL is used when PostgresEnv is unset: a local server with
// trust authentication.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

const startHint = "run ./scripts/services.sh (it installs, starts and sets up the local PostgreSQL on Debian)" +
	" or point " + PostgresEnv + " at a server whose user may CREATE DATABASE"

// PostgresAdminURL is the server the tests create their databases on:
// $UNHIDRA_TEST_POSTGRES, or DefaultPostgresURL.
func PostgresAdminURL() string {
	if admin := os.Getenv(PostgresEnv); admin != "" {
		return admin
	}
	return DefaultPostgresURL
}

// PostgresURL creates an empty database with a unique name on the server at
// $UNHIDRA_TEST_POSTGRES and returns its URL. The database is dropped, even
// with connections still open to it, when t ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := PostgresAdminURL()
	u, err := url.Parse(admin)
	if err != nil {
		// Not echoing the URL: it may carry a password.
		t.Fatalf("testenv: %s is not a valid URL", PostgresEnv)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testenv: PostgreSQL at %s is unreachable: %v\n%s", u.Host, err, startHint)
	}
	defer conn.Close(context.Background())

	name := "unhidra_test_" + randomHex(8)
	// The name is generated here and matches [a-z0-9_]: safe to splice in.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		// FORCE (PostgreSQL 13+) ends sessions a failed test left open.
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})

	u.Path = "/" + name
	return u.String()
}

// PostgresSchemaURL creates an empty schema with a unique name in the
// database at dbURL (typically from PostgresURL) and returns a URL whose
// connections use it as their search_path. It is the cheap way to isolate
// many tests on PostgreSQL: a schema takes milliseconds to create, a
// database about a second. The schema is dropped when t ends.
func PostgresSchemaURL(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("testenv: invalid PostgreSQL URL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("testenv: PostgreSQL at %s is unreachable: %v\n%s", u.Host, err, startHint)
	}
	defer conn.Close(context.Background())

	name := "unhidra_test_" + randomHex(8)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("testenv: create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Errorf("testenv: drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+name+" CASCADE"); err != nil {
			t.Errorf("testenv: drop schema %s: %v", name, err)
		}
	})

	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// SQLiteURL returns the URL of a database file that does not exist yet, in a
// directory removed when t ends.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite://" + filepath.ToSlash(filepath.Join(t.TempDir(), "unhidra.db"))
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails since Go 1.24
	return hex.EncodeToString(b)
}

// SQLiteFilesContain reports whether s occurs anywhere in the SQLite
// database at path or in its write-ahead log: what a thief of the disk
// would find.
func SQLiteFilesContain(t testing.TB, path, s string) bool {
	t.Helper()
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatalf("testenv: %v", err)
		}
		if bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}
