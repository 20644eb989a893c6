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
			stmts := sqlStatements(m.sql)
			replaced := replacedTriggers(stmts)
			for _, st := range stmts {
				for _, re := range breaksOlderBinaries {
					// A trigger that fires on TRUNCATE (the audit log's
					// refusal) truncates nothing; a trigger dropped and
					// created again in the same migration (SQLite has no
					// CREATE OR REPLACE TRIGGER) is still there for an
					// older binary.
					if re.MatchString(st) && !(re == truncate && strings.HasPrefix(st, "CREATE TRIGGER ")) && !replaced[st] {
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

var (
	dropTrigger   = regexp.MustCompile(`^DROP TRIGGER (IF EXISTS )?(\w+)$`)
	createTrigger = regexp.MustCompile(`^CREATE TRIGGER (IF NOT EXISTS )?(\w+) `)
)

// replacedTriggers returns the DROP TRIGGER statements of stmts whose
// trigger a later statement of the same migration creates again.
func replacedTriggers(stmts []string) map[string]bool {
	out := map[string]bool{}
	for i, st := range stmts {
		d := dropTrigger.FindStringSubmatch(st)
		if d == nil {
			continue
		}
		for _, later := range stmts[i+1:] {
			if c := createTrigger.FindStringSubmatch(later); c != nil && c[2] == d[2] {
				out[st] = true
				break
			}
		}
	}
	return out
}

func TestReplacedTriggers(t *testing.T) {
	stmts := sqlStatements("DROP TRIGGER a;\nCREATE TRIGGER a BEFORE DELETE ON t BEGIN SELECT 1; END;\nDROP TRIGGER b;\nCREATE TRIGGER c BEFORE DELETE ON t BEGIN SELECT 1; END;")
	got := replacedTriggers(stmts)
	if !got["DROP TRIGGER A"] || got["DROP TRIGGER B"] || len(got) != 1 {
		t.Fatalf("replaced triggers of %q: %v", stmts, got)
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
