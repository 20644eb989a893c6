package store

import (
	"regexp"
	"strings"
	"testing"

	"github.com/unhidra/unhidra/internal/testenv"
)

// breaksOlderBinaries lists what an expand migration must not do (the
// rollout rule in migrate.go): each would break a node still running the
// previous version against the migrated schema.
var breaksOlderBinaries = []*regexp.Regexp{
	regexp.MustCompile(`\bDROP\s+(TABLE|COLUMN|VIEW|TRIGGER|FUNCTION)\b`),
	regexp.MustCompile(`\bRENAME\b`),
	regexp.MustCompile(`\bALTER\s+COLUMN\b`),
	regexp.MustCompile(`\bSET\s+NOT\s+NULL\b`),
	truncate,
}

var truncate = regexp.MustCompile(`\bTRUNCATE\b`)

// addColumn finds ADD [COLUMN] clauses, to check NOT NULL has a DEFAULT.
var addColumn = regexp.MustCompile(`\bADD\s+(COLUMN\s+)?[^,;]*`)

// sqlStatements returns the statements of a migration, comments removed,
// upper-cased and with whitespace collapsed. Trigger bodies stay inside
// their CREATE TRIGGER statement.
func sqlStatements(src string) []string {
	var b strings.Builder
	for line := range strings.Lines(src) {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i] + "\n"
		}
		b.WriteString(line)
	}
	text := strings.Join(strings.Fields(strings.ToUpper(b.String())), " ")
	var out []string
	depth := 0 // inside BEGIN … END of a trigger
	start := 0
	for i := 0; i < len(text); i++ {
		switch {
		case strings.HasPrefix(text[i:], " BEGIN "):
			depth++
		case strings.HasPrefix(text[i:], " END;") && depth > 0:
			depth--
		case text[i] == ';' && depth == 0:
			if s := strings.TrimSpace(text[start:i]); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

// TestRolloutRule enforces the rollout rule on every migration of both
// engines: each says whether it expands or contracts, both engines agree,
// and an expand migration does nothing an older binary cannot live with.
func TestRolloutRule(t *testing.T) {
	for _, dir := range []string{sqliteDialect().migrationsDir, postgresDialect().migrationsDir} {
		ms, err := loadMigrations(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.contractAfter > 0 {
				continue
			}
			for _, st := range sqlStatements(m.sql) {
				for _, re := range breaksOlderBinaries {
					// A trigger that fires on TRUNCATE (the audit log's
					// refusal) truncates nothing.
					if re.MatchString(st) && !(re == truncate && strings.HasPrefix(st, "CREATE TRIGGER ")) {
						t.Errorf("%s/%s is an expand migration but %q matches %s: make it a contract migration (-- rollout: contract after NNNN) released after every node runs code that no longer needs what it removes",
							dir, m.name, st, re)
					}
				}
				for _, clause := range addColumn.FindAllString(st, -1) {
					if strings.Contains(clause, "NOT NULL") && !strings.Contains(clause, "DEFAULT") {
						t.Errorf("%s/%s: %q adds a NOT NULL column without a DEFAULT, which an older binary's INSERTs would fail", dir, m.name, clause)
					}
				}
			}
		}
	}
	lite := sqliteDialectMigrations(t)
	pg, _ := loadMigrations(postgresDialect().migrationsDir)
	for i := range min(len(lite), len(pg)) {
		if lite[i].contractAfter != pg[i].contractAfter {
			t.Errorf("%s: rollout kind differs between SQLite and PostgreSQL", lite[i].name)
		}
	}
}

func TestRolloutLineRequired(t *testing.T) {
	for _, body := range []string{
		"CREATE TABLE x (a INTEGER);",
		"-- rollout: sideways\nCREATE TABLE x (a INTEGER);",
		"-- rollout: contract after\n",
		"-- rollout: contract after 0\n",
		"-- rollout: contract before 3\n",
	} {
		if _, err := parseRollout("0009_x.sql", body); err == nil {
			t.Errorf("%q accepted", body)
		}
	}
	if k, err := parseRollout("0009_x.sql", "-- about\n-- rollout: contract after 0007\nDROP TABLE old;"); err != nil || k != 7 {
		t.Errorf("contract after 0007: %d, %v", k, err)
	}
}

// TestRolloutOldBinaryBesideNew: a node of the previous version keeps
// running (and may restart) on the schema a new node migrated, as long as
// only expand migrations came in between; once a contract migration that
// needs newer code is applied, a binary older than its floor refuses to
// start and says why, while one that knows the floor runs on.
func TestRolloutOldBinaryBesideNew(t *testing.T) {
	for _, engine := range []string{EngineSQLite, EnginePostgres} {
		t.Run(engine, func(t *testing.T) {
			url := testenv.SQLiteURL(t)
			if engine == EnginePostgres {
				url = testenv.PostgresURL(t)
			}
			ctx := t.Context()
			newNode, err := Open(ctx, url, Options{Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			defer newNode.Close()
			all := newNode.migrations
			n := len(all)

			// The previous version knows one migration fewer.
			oldNode, err := Open(ctx, url, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer oldNode.Close()
			oldNode.migrations = all[:n-1]
			if applied, err := oldNode.Migrate(ctx); err != nil || len(applied) != 0 {
				t.Fatalf("the previous version beside the new schema: applied %v, %v", applied, err)
			}

			// A contract that needs code knowing migration n.
			newNode.migrations = append(append([]migration(nil), all...), migration{
				version: n + 1, name: "probe_contract.sql", contractAfter: n,
				sql: "CREATE TABLE rollout_probe (x INTEGER)",
			})
			if applied, err := newNode.Migrate(ctx); err != nil || len(applied) != 1 {
				t.Fatalf("contract migration: applied %v, %v", applied, err)
			}
			_, err = oldNode.Migrate(ctx)
			if err == nil || !strings.Contains(err.Error(), "needs a binary that knows migration") {
				t.Fatalf("a binary below the floor after the contract: %v", err)
			}
			knowsFloor, err := Open(ctx, url, Options{Migrate: true})
			if err != nil {
				t.Fatalf("a binary that knows the floor (%d) on schema %d: %v", n, n+1, err)
			}
			knowsFloor.Close()
		})
	}
}
