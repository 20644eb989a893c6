package chatstore_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/bus"
	"github.com/unhidra/unhidra/chat"
	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
	"github.com/unhidra/unhidra/store/authstore"
	"github.com/unhidra/unhidra/store/chatstore"
)

// noAudit is the chat store of a server built without an audit log: its
// transactions drop the events the service hands them. (A test double on
// purpose: the product has no switch that turns the audit log off.)
type noAudit struct{ *chatstore.Store }

func (s noAudit) Tx(ctx context.Context, fn func(chat.Tx) error) error {
	return s.Store.Tx(ctx, func(tx chat.Tx) error { return fn(noAuditTx{tx}) })
}

type noAuditTx struct{ chat.Tx }

func (noAuditTx) Audit(context.Context, ...*audit.Event) error { return nil }

// auditBenchEnv is one server's chat path over its own database: with the
// audit log (the chat store as the server wires it, and a chainer moving
// the outbox into the log as a node's does), or without.
type auditBenchEnv struct {
	svc           *chat.Service
	mod, member   context.Context // the channel's owner, and a member
	channel       string
	chainer       *auditstore.Chainer // nil without audit
	chainBusy     atomic.Int64        // ns the chainer spent in Step
	stopChain     context.CancelFunc
	chainStopped  sync.WaitGroup
	msgs          atomic.Int64
	pendingDelete []string
}

func newAuditBenchEnv(b *testing.B, engine string, withAudit bool) *auditBenchEnv {
	b.Helper()
	ctx := context.Background()
	url := testenv.SQLiteURL(b)
	if engine == store.EnginePostgres {
		url = testenv.PostgresURL(b)
	}
	db, err := store.Open(ctx, url, store.Options{Migrate: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	users := authstore.New(db)
	mk := func(name string) string {
		u := &unhidra.User{ID: uuid.NewString(), Username: name, DisplayName: name, Role: unhidra.RoleMember, CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if err := users.CreateUser(ctx, u, "x", auth.CreateUserOptions{}); err != nil {
			b.Fatal(err)
		}
		return u.ID
	}
	var st chat.Store = chatstore.New(db)
	e := &auditBenchEnv{}
	if withAudit {
		seed := make([]byte, 32)
		rand.Read(seed)
		key, _ := audit.NewSigningKey(seed)
		if e.chainer, err = auditstore.NewChainer(db, auditstore.ChainerOptions{Owner: "bench", Key: key}); err != nil {
			b.Fatal(err)
		}
	} else {
		st = noAudit{chatstore.New(db)}
	}
	e.svc = chat.New(chat.Config{Store: st, Bus: bus.NewMemory(bus.MemoryOptions{})})
	e.mod = unhidra.NewContextWithPrincipal(ctx, &unhidra.Principal{UserID: mk("moderator"), Role: unhidra.RoleMember})
	e.member = unhidra.NewContextWithPrincipal(ctx, &unhidra.Principal{UserID: mk("member"), Role: unhidra.RoleMember})
	ch, _, err := e.svc.CreateChannel(e.mod, chat.CreateChannelInput{Name: "bench", Kind: unhidra.ChannelPublic})
	if err != nil {
		b.Fatal(err)
	}
	e.channel = ch.ID
	if _, err := e.svc.Join(e.member, ch.ID); err != nil {
		b.Fatal(err)
	}
	return e
}

var benchBody = strings.Repeat("a message of about two hundred bytes, ", 5)

func (e *auditBenchEnv) send(b *testing.B) string {
	m, _, err := e.svc.Send(e.member, unhidra.SendInput{ChannelID: e.channel, ClientMsgID: fmt.Sprintf("m%d", e.msgs.Add(1)), Body: benchBody})
	if err != nil {
		b.Fatal(err)
	}
	return m.ID
}

// startChainer runs the chainer as a node does (a pass every 200 ms, and
// at once again while a pass moved a full batch), timing every pass.
func (e *auditBenchEnv) startChainer() {
	if e.chainer == nil {
		return
	}
	e.chainBusy.Store(0)
	ctx, cancel := context.WithCancel(context.Background())
	e.stopChain = cancel
	e.chainStopped.Add(1)
	go func() {
		defer e.chainStopped.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			for e.step(ctx) == 500 {
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func (e *auditBenchEnv) step(ctx context.Context) int {
	start := time.Now()
	n, _ := e.chainer.Step(ctx)
	e.chainBusy.Add(int64(time.Since(start)))
	return n
}

// stopChainer stops the background chainer and chains what is left, timed
// as well: the chainer's whole work for the events of the run.
func (e *auditBenchEnv) stopChainer() time.Duration {
	if e.chainer == nil {
		return 0
	}
	e.stopChain()
	e.chainStopped.Wait()
	for e.step(context.Background()) > 0 {
	}
	return time.Duration(e.chainBusy.Load())
}

// BenchmarkAuditOverhead measures what the audit log costs the chat
// service path (chat.Service over the real store, on SQLite and
// PostgreSQL), with and without it in the same run, interleaved in blocks
// of 10 operations (each block in turn first) so that both see the same
// machine:
//
//   - send: a member's message. It records no audit event (the log never
//     holds content), so "on" is a server whose chainer polls beside it,
//     "off" one built without the audit log.
//   - moderator_delete: the channel owner deletes a member's message,
//     which records chat.message_delete in the delete's transaction; the
//     chainer moves it into the log.
//
// It reports off_us/op and on_us/op (the operation's own latency, the
// median over blocks), chain_us/op (the chainer's time, all its passes
// during the run and the drain at the end, per operation), inline_ratio
// (the median over pairs of blocks of on/off) and ratio (inline_ratio plus
// chain/off: the whole cost, as if the chainer ran on the same core).
// ns/op is the two operations together.
//
//	go test -run '^$' -bench AuditOverhead -benchtime 2000x ./store/chatstore
func BenchmarkAuditOverhead(b *testing.B) {
	for _, engine := range []string{store.EngineSQLite, store.EnginePostgres} {
		b.Run(engine, func(b *testing.B) {
			off, on := newAuditBenchEnv(b, engine, false), newAuditBenchEnv(b, engine, true)
			for _, op := range []string{"send", "moderator_delete"} {
				b.Run(op, func(b *testing.B) {
					envs := []*auditBenchEnv{off, on}
					if op == "moderator_delete" {
						for _, e := range envs {
							e.pendingDelete = e.pendingDelete[:0]
							for range b.N {
								e.pendingDelete = append(e.pendingDelete, e.send(b))
							}
						}
					}
					// Anything recorded so far is chained before the clock
					// starts.
					on.startChainer()
					on.stopChainer()
					var spent [2][]time.Duration // per block
					on.startChainer()
					b.ResetTimer()
					const block = 10
					for i := 0; i < b.N; i += block {
						n := min(block, b.N-i)
						// Alternate which goes first, so that neither
						// always follows the other's writes.
						order := []int{0, 1}
						if (i/block)%2 == 1 {
							order = []int{1, 0}
						}
						for _, k := range order {
							e := envs[k]
							start := time.Now()
							for j := i; j < i+n; j++ {
								if op == "send" {
									e.send(b)
								} else if err := e.svc.Delete(e.mod, e.pendingDelete[j]); err != nil {
									b.Fatal(err)
								}
							}
							spent[k] = append(spent[k], time.Since(start)/time.Duration(n))
						}
					}
					b.StopTimer()
					chain := on.stopChainer()
					// Medians: the machine is shared, and a burst of other
					// work in one block says nothing about the audit log.
					ratios := make([]float64, len(spent[0]))
					for i := range ratios {
						ratios[i] = float64(spent[1][i]) / float64(spent[0][i])
					}
					offOp := median(durations(spent[0]))
					chainOp := float64(chain) / float64(b.N)
					b.ReportMetric(offOp/1e3, "off_us/op")
					b.ReportMetric(median(durations(spent[1]))/1e3, "on_us/op")
					b.ReportMetric(chainOp/1e3, "chain_us/op")
					b.ReportMetric(median(ratios), "inline_ratio")
					b.ReportMetric(median(ratios)+chainOp/offOp, "ratio")
				})
			}
		})
	}
}

func durations(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d)
	}
	return out
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
