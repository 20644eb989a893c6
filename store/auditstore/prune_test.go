package auditstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
)

// recordAt appends n events at time at, each in its own transaction.
func recordAt(t testing.TB, st *auditstore.Store, from, n int, at time.Time) {
	t.Helper()
	for i := from; i < from+n; i++ {
		e := event(i)
		e.Time = at
		if err := st.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
}

// count counts the rows of an action, chained or still in the outbox.
func count(t testing.TB, db *store.DB, action, result string) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRow(context.Background(), `SELECT
		(SELECT COUNT(*) FROM audit_outbox WHERE action = ? AND result = ?) +
		(SELECT COUNT(*) FROM audit_log WHERE action = ? AND result = ?)`, action, result, action, result).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func logSize(t testing.TB, db *store.DB) (n, first int64) {
	t.Helper()
	if err := db.Read().QueryRow(context.Background(), `SELECT COUNT(*), COALESCE(MIN(seq), 0) FROM audit_log`).Scan(&n, &first); err != nil {
		t.Fatal(err)
	}
	return n, first
}

// prunedLog is a log of 35 entries (checkpoints at 10, 20, 30): 20 from
// an hour ago and 15 from now, pruned of what is older than half an hour,
// that is through the checkpoint at 20; the audit.prune event chained.
func prunedLog(t *testing.T, db *store.DB, opts auditstore.ChainerOptions) (*auditstore.Store, *auditstore.Chainer, auditstore.PruneResult) {
	t.Helper()
	ctx := context.Background()
	st := auditstore.New(db)
	if opts.Owner == "" {
		opts.Owner = "a"
	}
	// A step of 10, a checkpoint every 10: checkpoints at 10, 20, 30.
	opts.CheckpointEvery, opts.Batch = 10, 10
	ch, err := auditstore.NewChainer(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	recordAt(t, st, 0, 20, now.Add(-time.Hour))
	recordAt(t, st, 20, 15, now)
	drain(t, ch)
	res, err := ch.Prune(ctx, now.Add(-30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	drain(t, ch)
	return st, ch, res
}

func TestPruneThenVerify(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		key := testKey(t)
		st, ch, res := prunedLog(t, db, auditstore.ChainerOptions{Key: key})
		if res.Through != 20 || res.Entries != 20 || res.Held {
			t.Fatalf("prune: %+v, want through 20, 20 entries", res)
		}
		if n, first := logSize(t, db); n != 16 || first != 21 {
			t.Fatalf("after the prune the log holds %d entries from %d, want 16 from 21", n, first)
		}
		rep := verify(t, st, key)
		if !rep.OK || rep.PrunedThrough != 20 || rep.Checked != 16 || rep.LastSeq != 36 || rep.Prunes != 1 {
			t.Fatalf("verify after the prune: %+v %+v", rep, rep.FirstBad)
		}
		// The prune is audited, with what it removed.
		var e *audit.Entry
		for x, err := range st.Entries(ctx, 35) {
			if err != nil {
				t.Fatal(err)
			}
			e = x
		}
		if e == nil || e.Action != audit.ActionAuditPrune || e.Metadata["through_seq"] != "20" || e.Metadata["entries"] != "20" || len(e.Metadata["through_hash"]) != 64 {
			t.Fatalf("the prune's entry: %+v", e)
		}
		// Nothing more is old enough; the chain goes on from the anchor.
		if res, err := ch.Prune(ctx, time.Now().Add(-30*time.Minute)); err != nil || res.Entries != 0 || res.Through != 20 {
			t.Fatalf("a second prune: %+v %v", res, err)
		}
		record(t, st, 100, 5)
		drain(t, ch)
		if rep := verify(t, st, key); !rep.OK || rep.LastSeq != 41 {
			t.Fatalf("verify after more entries: %+v %+v", rep, rep.FirstBad)
		}
	})
}

func TestPruneInBatchesAndToTheEnd(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st, key := auditstore.New(db), testKey(t)
		ch, err := auditstore.NewChainer(db, auditstore.ChainerOptions{Owner: "a", Key: key, CheckpointEvery: 10, Batch: 10, PruneBatch: 15})
		if err != nil {
			t.Fatal(err)
		}
		record(t, st, 0, 30)
		drain(t, ch)
		// Every entry is older than the cutoff: the prune removes the
		// whole log, a checkpoint (PruneBatch 15: one) per transaction.
		res, err := ch.Prune(ctx, time.Now().Add(time.Hour))
		if err != nil || res.Through != 30 || res.Entries != 30 {
			t.Fatalf("prune: %+v %v", res, err)
		}
		if n, _ := logSize(t, db); n != 0 {
			t.Fatalf("%d entries left", n)
		}
		if got := count(t, db, audit.ActionAuditPrune, audit.ResultOK); got != 3 {
			t.Fatalf("%d audit.prune events, want 3 (one per transaction)", got)
		}
		// The emptied log goes on from the anchor, not from entry 1.
		drain(t, ch)
		rep := verify(t, st, key)
		if !rep.OK || rep.PrunedThrough != 30 || rep.LastSeq != 33 || rep.Prunes != 3 {
			t.Fatalf("verify: %+v %+v", rep, rep.FirstBad)
		}
	})
}

// TestPruneKeepsTheLogAppendOnly: after a prune the triggers still refuse
// every change but a prune's, for everyone, the anchors included.
func TestPruneKeepsTheLogAppendOnly(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		key := testKey(t)
		prunedLog(t, db, auditstore.ChainerOptions{Key: key})
		stmts := []string{
			`DELETE FROM audit_log WHERE seq = 21`,
			`DELETE FROM audit_log WHERE seq <= 25`,
			`DELETE FROM audit_log`,
			`UPDATE audit_log SET actor_id = 'x' WHERE seq = 22`,
			`DELETE FROM audit_checkpoints WHERE seq = 30`,
			`DELETE FROM audit_prunes`,
			`UPDATE audit_prunes SET through_seq = 30`,
		}
		if db.Engine() == store.EnginePostgres {
			stmts = append(stmts, `TRUNCATE audit_log`, `TRUNCATE audit_prunes`, `TRUNCATE audit_checkpoints`)
		}
		for _, q := range stmts {
			err := db.InTx(ctx, func(c store.Conn) error { _, err := c.Exec(ctx, q); return err })
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v", q, err)
			}
		}
		if db.Engine() == store.EnginePostgres {
			// An anchor lets deletes through only in its own transaction.
			insertAnchor(t, db, key, 25, nil)
			err := db.InTx(ctx, func(c store.Conn) error { _, err := c.Exec(ctx, `DELETE FROM audit_log WHERE seq <= 25`); return err })
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("a delete in a later transaction than its anchor: %v", err)
			}
		}
		if n, first := logSize(t, db); n != 16 || first != 21 {
			t.Fatalf("the log holds %d entries from %d, want 16 from 21", n, first)
		}
	})
}

// insertAnchor inserts an anchor at seq signed by key (and then runs
// stmts) in one transaction, through the triggers as they are.
func insertAnchor(t *testing.T, db *store.DB, key *audit.SigningKey, seq int64, hash []byte, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	if hash == nil {
		if err := db.Read().QueryRow(ctx, `SELECT hash FROM audit_log WHERE seq = ?`, seq).Scan(&hash); err != nil {
			t.Fatal(err)
		}
	}
	a := &audit.PruneAnchor{Seq: seq, Hash: hash, Time: time.Now().UTC().Truncate(time.Microsecond)}
	key.SignAnchor(a)
	if err := db.InTx(ctx, func(c store.Conn) error {
		if _, err := c.Exec(ctx, `INSERT INTO audit_prunes (through_seq, hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?)`,
			a.Seq, []byte(a.Hash), store.Micros(a.Time), a.KeyID, a.Signature); err != nil {
			return err
		}
		for _, q := range stmts {
			if _, err := c.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyFindsTamperingAfterPrune: a pruned log still names the first
// entry that was edited or deleted, and a prune faked by someone without
// the key (a prefix deleted with no anchor, or with one they signed, or
// one that borrows a checkpoint's signature) does not verify, though the
// database's triggers cannot tell it from a real one.
func TestVerifyFindsTamperingAfterPrune(t *testing.T) {
	cases := []struct {
		name   string
		fake   func(t *testing.T, db *store.DB)
		seq    int64
		reason string
	}{
		{name: "kept entry edited", seq: 24, reason: "edited", fake: func(t *testing.T, db *store.DB) {
			tamper(t, db, `UPDATE audit_log SET actor_id = 'mallory' WHERE seq = 24`)
		}},
		{name: "kept entry deleted", seq: 21, reason: "entry 21 is missing", fake: func(t *testing.T, db *store.DB) {
			tamper(t, db, `DELETE FROM audit_log WHERE seq = 21`)
		}},
		{name: "prefix deleted without an anchor", seq: 21, reason: "entry 21 is missing", fake: func(t *testing.T, db *store.DB) {
			tamper(t, db, `DELETE FROM audit_log WHERE seq <= 30`)
		}},
		{name: "anchor deleted", seq: 1, reason: "entry 1 is missing", fake: func(t *testing.T, db *store.DB) {
			tamper(t, db, `DELETE FROM audit_prunes`)
		}},
		{name: "prune with an anchor of another key", seq: 30, reason: "does not trust", fake: func(t *testing.T, db *store.DB) {
			insertAnchor(t, db, testKey(t), 30, nil, `DELETE FROM audit_log WHERE seq <= 30`, `DELETE FROM audit_checkpoints WHERE seq < 30`)
		}},
		{name: "prune with a checkpoint's signature", seq: 30, reason: "bad signature", fake: func(t *testing.T, db *store.DB) {
			ctx := context.Background()
			var hash, sig []byte
			var at int64
			var kid string
			if err := db.Read().QueryRow(ctx, `SELECT hash, at, key_id, signature FROM audit_checkpoints WHERE seq = 30`).Scan(&hash, &at, &kid, &sig); err != nil {
				t.Fatal(err)
			}
			if err := db.InTx(ctx, func(c store.Conn) error {
				for _, q := range []struct {
					sql  string
					args []any
				}{
					{`INSERT INTO audit_prunes (through_seq, hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?)`, []any{30, hash, at, kid, sig}},
					{`DELETE FROM audit_log WHERE seq <= 30`, nil},
				} {
					if _, err := c.Exec(ctx, q.sql, q.args...); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			engines(t, func(t *testing.T, db *store.DB) {
				key := testKey(t)
				st, _, _ := prunedLog(t, db, auditstore.ChainerOptions{Key: key})
				if rep := verify(t, st, key); !rep.OK {
					t.Fatalf("before tampering: %+v", rep.FirstBad)
				}
				tc.fake(t, db)
				rep := verify(t, st, key)
				if rep.OK || rep.FirstBad == nil {
					t.Fatalf("tampering not found: %+v", rep)
				}
				if rep.FirstBad.Seq != tc.seq || !strings.Contains(rep.FirstBad.Reason, tc.reason) {
					t.Fatalf("first bad = %+v, want seq %d, reason with %q", rep.FirstBad, tc.seq, tc.reason)
				}
			})
		})
	}
}

// TestPruneRefusals: a legal hold suspends pruning; a prefix that does not
// verify is not pruned (and the refusal is audited); a node without the
// lease does not prune.
func TestPruneRefusals(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st, key := auditstore.New(db), testKey(t)
		ch, err := auditstore.NewChainer(db, auditstore.ChainerOptions{Owner: "a", Key: key, CheckpointEvery: 10, Batch: 10, PruneBatch: 10, LeaseTTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		record(t, st, 0, 30)
		drain(t, ch)
		later := time.Now().Add(time.Hour)

		if _, err := db.Write().Exec(ctx, `INSERT INTO legal_holds (kind, target_id, reason, created_by, created_at) VALUES ('user', 'u1', 'case 1', 'u0', 0)`); err != nil {
			t.Fatal(err)
		}
		if res, err := ch.Prune(ctx, later); err != nil || !res.Held || res.Entries != 0 {
			t.Fatalf("prune under a legal hold: %+v %v", res, err)
		}
		if _, err := db.Write().Exec(ctx, `DELETE FROM legal_holds`); err != nil {
			t.Fatal(err)
		}

		other, err := auditstore.NewChainer(db, auditstore.ChainerOptions{Owner: "b", Key: key})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Prune(ctx, later); !errors.Is(err, auditstore.ErrNotHolding) {
			t.Fatalf("prune by a node without the lease: %v", err)
		}

		tamper(t, db, `UPDATE audit_log SET actor_id = 'mallory' WHERE seq = 14`)
		res, err := ch.Prune(ctx, later)
		var perr *auditstore.PrefixError
		if !errors.As(err, &perr) || perr.Bad.Seq != 14 {
			t.Fatalf("prune of a tampered log: %+v %v", res, err)
		}
		// The first checkpoint's prefix verified and went; the next did not.
		if res.Through != 10 || res.Entries != 10 {
			t.Fatalf("prune of a tampered log removed %+v, want through 10", res)
		}
		if n, first := logSize(t, db); n != 20 || first != 11 {
			t.Fatalf("the log holds %d entries from %d, want 20 from 11", n, first)
		}
		if got := count(t, db, audit.ActionAuditPrune, audit.ResultFailed); got != 1 {
			t.Fatalf("%d failed audit.prune events, want 1", got)
		}
		rep := verify(t, st, key)
		if rep.OK || rep.FirstBad.Seq != 14 {
			t.Fatalf("verify: %+v", rep.FirstBad)
		}
	})
}
