package auditstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
)

func engines(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, engine := range []string{store.EngineSQLite, store.EnginePostgres} {
		t.Run(engine, func(t *testing.T) {
			url := testenv.SQLiteURL(t)
			if engine == store.EnginePostgres {
				url = testenv.PostgresURL(t)
			}
			db, err := store.Open(context.Background(), url, store.Options{Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			fn(t, db)
		})
	}
}

func testKey(t testing.TB) *audit.SigningKey {
	t.Helper()
	seed := make([]byte, 32)
	rand.Read(seed)
	k, err := audit.NewSigningKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func event(i int) *audit.Event {
	return &audit.Event{Action: audit.ActionLogin, ActorType: audit.ActorUser, ActorID: fmt.Sprintf("u%d", i),
		IP: "192.0.2.1", Result: audit.ResultOK, Metadata: map[string]string{"n": fmt.Sprint(i)}}
}

func chainer(t testing.TB, db *store.DB, owner string, key *audit.SigningKey) *auditstore.Chainer {
	t.Helper()
	ch, err := auditstore.NewChainer(db, auditstore.ChainerOptions{Owner: owner, Key: key, CheckpointEvery: 10, LeaseTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func drain(t testing.TB, ch *auditstore.Chainer) {
	t.Helper()
	for {
		n, err := ch.Step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func verify(t testing.TB, st *auditstore.Store, key *audit.SigningKey, ext ...*audit.Checkpoint) *audit.Report {
	t.Helper()
	ring := audit.Keyring{}
	ring.Add(key.Public())
	rep, err := audit.Verify(context.Background(), st, ring, ext)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// record appends n events, each in its own transaction.
func record(t testing.TB, st *auditstore.Store, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := st.Record(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOutboxCommitsWithTheAction(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st := auditstore.New(db)
		boom := errors.New("action failed")
		err := db.InTx(ctx, func(c store.Conn) error {
			if err := auditstore.Append(ctx, c, event(1)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if n, _ := st.Pending(ctx); n != 0 {
			t.Fatalf("a rolled-back action left %d outbox rows", n)
		}
		// With, InTx: the attached events commit with the write.
		actx := audit.With(ctx, event(2))
		if err := auditstore.InTx(actx, db, func(c store.Conn) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if audit.Pending(actx) {
			t.Fatal("events still pending after the write")
		}
		// A second write with the same context records nothing again.
		if err := auditstore.InTx(actx, db, func(c store.Conn) error { return nil }); err != nil {
			t.Fatal(err)
		}
		// A failed write gives them back.
		fctx := audit.With(ctx, event(3))
		if err := auditstore.InTx(fctx, db, func(c store.Conn) error { return boom }); !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if !audit.Pending(fctx) {
			t.Fatal("a rolled-back write consumed its events")
		}
		if n, _ := st.Pending(ctx); n != 1 {
			t.Fatalf("outbox has %d rows, want 1", n)
		}
		// Content never enters.
		bad := event(4)
		bad.Metadata = map[string]string{"body": "hello"}
		if err := st.Record(ctx, bad); err == nil {
			t.Fatal("metadata named body was accepted")
		}
	})
}

func TestChainAndVerify(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st, key := auditstore.New(db), testKey(t)
		ch := chainer(t, db, "node-a", key)
		record(t, st, 0, 25)
		drain(t, ch)
		rep := verify(t, st, key)
		if !rep.OK || rep.Checked != 25 || rep.Checkpoints < 1 {
			t.Fatalf("report %+v", rep)
		}
		if n, _ := st.Pending(ctx); n != 0 {
			t.Fatalf("%d rows left in the outbox", n)
		}
		// A verifier that does not trust the key refuses the checkpoints.
		rep, err := audit.Verify(ctx, st, audit.Keyring{}, nil)
		if err != nil || rep.OK || !strings.Contains(rep.FirstBad.Reason, "does not trust") {
			t.Fatalf("untrusted key: %+v %v", rep, err)
		}
	})
}

func TestTriggersRefuseChanges(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st, key := auditstore.New(db), testKey(t)
		record(t, st, 0, 3)
		drain(t, chainer(t, db, "a", key))
		stmts := []string{
			`UPDATE audit_log SET actor_id = 'x' WHERE seq = 2`,
			`DELETE FROM audit_log WHERE seq = 3`,
			`DELETE FROM audit_log`,
			`UPDATE audit_checkpoints SET seq = 99`,
			`DELETE FROM audit_checkpoints`,
		}
		if db.Engine() == store.EnginePostgres {
			stmts = append(stmts, `TRUNCATE audit_log`, `TRUNCATE audit_checkpoints`)
		}
		for _, q := range stmts {
			err := db.InTx(ctx, func(c store.Conn) error { _, err := c.Exec(ctx, q); return err })
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v", q, err)
			}
		}
		if rep := verify(t, st, key); !rep.OK || rep.Checked != 3 {
			t.Fatalf("report %+v", rep)
		}
	})
}

// tamper runs statements with the append-only triggers out of the way, as
// a superuser (or anyone with the file) could.
func tamper(t *testing.T, db *store.DB, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	var pre, post []string
	if db.Engine() == store.EnginePostgres {
		pre = []string{`ALTER TABLE audit_log DISABLE TRIGGER USER`, `ALTER TABLE audit_checkpoints DISABLE TRIGGER USER`, `ALTER TABLE audit_prunes DISABLE TRIGGER USER`}
		post = []string{`ALTER TABLE audit_log ENABLE TRIGGER USER`, `ALTER TABLE audit_checkpoints ENABLE TRIGGER USER`, `ALTER TABLE audit_prunes ENABLE TRIGGER USER`}
	} else {
		pre = []string{`DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_no_delete`, `DROP TRIGGER audit_checkpoints_no_delete`,
			`DROP TRIGGER audit_prunes_no_update`, `DROP TRIGGER audit_prunes_no_delete`}
	}
	all := append(append(pre, stmts...), post...)
	if err := db.InTx(ctx, func(c store.Conn) error {
		for _, q := range all {
			if _, err := c.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	cases := []struct {
		name    string
		stmts   []string
		seq     int64
		reason  string
		exports bool // verify against the checkpoints exported before
	}{
		{name: "edit", stmts: []string{`UPDATE audit_log SET actor_id = 'mallory' WHERE seq = 7`}, seq: 7, reason: "edited"},
		{name: "edit metadata", stmts: []string{`UPDATE audit_log SET metadata = '{"n":"x"}' WHERE seq = 4`}, seq: 4, reason: "edited"},
		{name: "delete", stmts: []string{`DELETE FROM audit_log WHERE seq = 5`}, seq: 5, reason: "missing"},
		{name: "reorder", stmts: []string{
			`UPDATE audit_log SET seq = -1 WHERE seq = 8`,
			`UPDATE audit_log SET seq = 8 WHERE seq = 9`,
			`UPDATE audit_log SET seq = 9 WHERE seq = -1`}, seq: 8, reason: "does not link"},
		{name: "truncate tail", stmts: []string{`DELETE FROM audit_log WHERE seq > 15`}, seq: 20, reason: "truncated"},
		{name: "truncate tail and checkpoints", stmts: []string{`DELETE FROM audit_log WHERE seq > 15`, `DELETE FROM audit_checkpoints WHERE seq > 15`},
			seq: 20, reason: "exported checkpoint", exports: true},
		{name: "rehash without key", stmts: []string{`UPDATE audit_log SET actor_id = 'mallory' WHERE seq = 20`},
			seq: 20, reason: "edited"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			engines(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				st, key := auditstore.New(db), testKey(t)
				var exported []*audit.Checkpoint
				ch, err := auditstore.NewChainer(db, auditstore.ChainerOptions{Owner: "a", Key: key, CheckpointEvery: 10,
					OnCheckpoint: func(c *audit.Checkpoint) { exported = append(exported, c) }})
				if err != nil {
					t.Fatal(err)
				}
				record(t, st, 0, 20)
				drain(t, ch)
				if rep := verify(t, st, key, exported...); !rep.OK {
					t.Fatalf("before tampering: %+v", rep)
				}
				tamper(t, db, tc.stmts...)
				var ext []*audit.Checkpoint
				if tc.exports {
					ext = exported
				}
				rep := verify(t, st, key, ext...)
				if rep.OK || rep.FirstBad == nil {
					t.Fatalf("tampering not found: %+v", rep)
				}
				if rep.FirstBad.Seq != tc.seq || !strings.Contains(rep.FirstBad.Reason, tc.reason) {
					t.Fatalf("first bad = %+v, want seq %d, reason with %q", rep.FirstBad, tc.seq, tc.reason)
				}
				_ = ctx
			})
		})
	}
}

// TestTwoChainersOneChain runs two chainers (two nodes) against one
// database while writers append: one chain, no fork, no gap, every event.
func TestTwoChainersOneChain(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st, key := auditstore.New(db), testKey(t)
		var wg sync.WaitGroup
		for _, owner := range []string{"a", "b"} {
			ch, err := auditstore.NewChainer(db, auditstore.ChainerOptions{Owner: owner, Key: key, CheckpointEvery: 7,
				LeaseTTL: 50 * time.Millisecond, Poll: 5 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() { defer wg.Done(); ch.Run(ctx) }()
		}
		const writers, each = 4, 25
		var ww sync.WaitGroup
		for w := range writers {
			ww.Add(1)
			go func() { defer ww.Done(); record(t, st, w*each, each) }()
		}
		ww.Wait()
		deadline := time.Now().Add(20 * time.Second)
		for {
			n, err := st.Pending(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		rep := verify(t, st, key)
		if !rep.OK || rep.Checked != writers*each {
			t.Fatalf("report %+v", rep)
		}
		seen := map[string]bool{}
		for e, err := range st.Entries(context.Background(), 0) {
			if err != nil {
				t.Fatal(err)
			}
			seen[e.ActorID] = true
		}
		if len(seen) != writers*each {
			t.Fatalf("%d distinct events in the log, want %d", len(seen), writers*each)
		}
	})
}
