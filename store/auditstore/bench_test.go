package auditstore_test

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
)

var verifyN = flag.Int("audit.verify-n", 10000, "entries in the log BenchmarkVerify walks (1000000 for the documented figure)")

func benchEngines(b *testing.B, fn func(b *testing.B, db *store.DB)) {
	for _, engine := range []string{store.EngineSQLite, store.EnginePostgres} {
		b.Run(engine, func(b *testing.B) {
			url := testenv.SQLiteURL(b)
			if engine == store.EnginePostgres {
				url = testenv.PostgresURL(b)
			}
			db, err := store.Open(context.Background(), url, store.Options{Migrate: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			fn(b, db)
		})
	}
}

// BenchmarkAppend: events recorded (each its own transaction) and
// chained, per second, from 8 concurrent writers.
func BenchmarkAppend(b *testing.B) {
	benchEngines(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		st, key := auditstore.New(db), testKey(b)
		ch := chainer(b, db, "bench", key)
		b.SetParallelism(4)
		b.ResetTimer()
		recStart := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if err := st.Record(ctx, event(i)); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
		recorded := time.Since(recStart)
		start := time.Now()
		drain(b, ch)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/recorded.Seconds(), "events/s")
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "chained/s")
	})
}

// BenchmarkWriteOverhead is the cost of auditing one write transaction:
// the same message-sized insert with and without an audit event in its
// transaction (what an audited chat or auth change pays; an unaudited
// message send pays nothing).
func BenchmarkWriteOverhead(b *testing.B) {
	benchEngines(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		if err := db.InTx(ctx, func(c store.Conn) error {
			_, err := c.Exec(ctx, `CREATE TABLE bench_rows (id TEXT PRIMARY KEY, body TEXT NOT NULL, at BIGINT NOT NULL)`)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		body := strings.Repeat("x", 200)
		var n atomic.Int64
		for _, mode := range []string{"audit_off", "audit_on"} {
			b.Run(mode, func(b *testing.B) {
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						id := fmt.Sprintf("%s-%d", mode, n.Add(1))
						err := db.InTx(ctx, func(c store.Conn) error {
							if _, err := c.Exec(ctx, `INSERT INTO bench_rows (id, body, at) VALUES (?, ?, ?)`, id, body, time.Now().UnixMicro()); err != nil {
								return err
							}
							if mode == "audit_on" {
								return auditstore.Append(ctx, c, &audit.Event{Action: audit.ActionMemberAdd, ActorType: audit.ActorUser,
									ActorID: "u1", TargetType: "user", TargetID: id, Metadata: map[string]string{"channel_id": "c1"}})
							}
							return nil
						})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	})
}

// BenchmarkVerify walks a log of -audit.verify-n entries (built directly,
// chained and checkpointed every 1000) once per iteration.
func BenchmarkVerify(b *testing.B) {
	benchEngines(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		st, key := auditstore.New(db), testKey(b)
		buildLog(b, db, key, *verifyN)
		ring := audit.Keyring{}
		ring.Add(key.Public())
		b.ResetTimer()
		for b.Loop() {
			rep, err := audit.Verify(ctx, st, ring, nil)
			if err != nil || !rep.OK || rep.Checked != int64(*verifyN) {
				b.Fatalf("%+v %v", rep, err)
			}
		}
		b.ReportMetric(float64(*verifyN)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}

// buildLog inserts n chained entries straight into audit_log, in batches.
func buildLog(b *testing.B, db *store.DB, key *audit.SigningKey, n int) {
	b.Helper()
	ctx := context.Background()
	prev := audit.ZeroHash()
	const batch = 500
	for start := 1; start <= n; start += batch {
		err := db.InTx(ctx, func(c store.Conn) error {
			for seq := int64(start); seq < int64(start+batch) && seq <= int64(n); seq++ {
				e := event(int(seq))
				e.Time = time.UnixMicro(1700000000000000 + seq).UTC()
				if err := e.Validate(); err != nil {
					return err
				}
				h := audit.Hash(seq, e, prev)
				if _, err := c.Exec(ctx, `INSERT INTO audit_log (seq, at, action, actor_type, actor_id, target_type, target_id, ip, result, reason, metadata, prev_hash, hash)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, seq, e.Time.UnixMicro(), e.Action, e.ActorType, e.ActorID, e.TargetType, e.TargetID,
					e.IP, e.Result, e.Reason, `{"n":"`+e.Metadata["n"]+`"}`, prev, h); err != nil {
					return err
				}
				if seq%1000 == 0 {
					cp := &audit.Checkpoint{Seq: seq, Hash: h, Time: e.Time}
					key.Sign(cp)
					if _, err := c.Exec(ctx, `INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?)`,
						cp.Seq, []byte(cp.Hash), cp.Time.UnixMicro(), cp.KeyID, cp.Signature); err != nil {
						return err
					}
				}
				prev = h
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
