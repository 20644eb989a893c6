package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupRestore: a backup taken while the database is open and being
// written is a consistent, owner-only copy; restoring it into a stopped
// install brings the data back; a database in use, a non-database file
// and an existing backup path are refused, changing nothing.
func TestBackupRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "unhidra.db")
	db, err := Open(ctx, "sqlite://"+src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Write().Exec(ctx, "CREATE TABLE backup_probe (n INTEGER)"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if _, err := db.Write().Exec(ctx, "INSERT INTO backup_probe (n) VALUES (?)", i); err != nil {
			t.Fatal(err)
		}
	}
	backup := filepath.Join(t.TempDir(), "copy.db")
	if err := db.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, mode %v", err, fi.Mode())
	}
	if err := db.Backup(ctx, backup); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("a second backup over the first: %v", err)
	}
	// The live database is in use: restoring over it is refused.
	if err := RestoreSQLite(ctx, backup, src); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("restore over a database in use: %v", err)
	}
	// Not a database: refused before anything is touched.
	junk := filepath.Join(t.TempDir(), "junk.db")
	os.WriteFile(junk, []byte("not sqlite"), 0o600)
	target := filepath.Join(t.TempDir(), "data", "unhidra.db")
	if err := RestoreSQLite(ctx, junk, target); err == nil {
		t.Fatal("restored a file that is not a database")
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("a refused restore left %s", target)
	}
	// Into a stopped install: the data is back.
	if err := RestoreSQLite(ctx, backup, target); err != nil {
		t.Fatal(err)
	}
	restored, err := Open(ctx, "sqlite://"+target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	var n int
	if err := restored.Read().QueryRow(ctx, "SELECT COUNT(*) FROM backup_probe").Scan(&n); err != nil || n != 100 {
		t.Fatalf("restored rows: %d, %v", n, err)
	}
	if v, err := restored.SchemaVersion(ctx); err != nil || v != restored.latestVersion() {
		t.Fatalf("restored schema version %d, %v", v, err)
	}
}
