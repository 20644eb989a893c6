package ratestore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/ratelimit"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/ratestore"
)

// clock is a settable clock shared by the in-memory limiters and the
// stores under comparison.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var engines = []string{store.EngineSQLite, store.EnginePostgres}

// openDB returns a fresh, migrated database on engine, closed when t ends.
func openDB(t testing.TB, engine string) *store.DB {
	t.Helper()
	return openURL(t, dbURL(t, engine))
}

func dbURL(t testing.TB, engine string) string {
	t.Helper()
	if engine == store.EngineSQLite {
		return testenv.SQLiteURL(t)
	}
	return testenv.PostgresURL(t)
}

func openURL(t testing.TB, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url, store.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustSpec(t testing.TB, s string) ratelimit.Spec {
	t.Helper()
	sp, err := ratelimit.ParseSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func forEngine(t *testing.T, fn func(t *testing.T, engine string)) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			fn(t, e)
		})
	}
}

// TestLimiterScript pins a few exact decisions, as ratelimit's own table
// does for the in-memory Limiter.
func TestLimiterScript(t *testing.T) {
	forEngine(t, func(t *testing.T, engine string) {
		ctx := t.Context()
		clk := newClock()
		l := ratestore.New(openDB(t, engine), ratestore.Options{Now: clk.Now}).Limiter("login", mustSpec(t, "10/min"), 0)
		allow := func(key string, wantOK bool, wantRetry time.Duration) {
			t.Helper()
			ok, retry, err := l.Allow(ctx, key)
			if err != nil || ok != wantOK || retry != wantRetry {
				t.Fatalf("Allow(%q) = %v, %v, %v; want %v, %v", key, ok, retry, err, wantOK, wantRetry)
			}
		}
		for range 10 {
			allow("a", true, 0)
		}
		allow("a", false, 6*time.Second)
		allow("b", true, 0) // keys are independent
		clk.Advance(5 * time.Second)
		allow("a", false, time.Second) // a refusal costs nothing
		clk.Advance(time.Second)
		allow("a", true, 0)
		allow("a", false, 6*time.Second)
		clk.Advance(time.Hour)
		for range 10 {
			allow("a", true, 0) // refilled, never beyond the burst
		}
		allow("a", false, 6*time.Second)
	})
}

// TestLimiterMatchesInMemory: on random sequences of events, advances and
// sweeps, the shared limiter decides exactly as ratelimit.Limiter with the
// same spec and burst does, retry-after included.
func TestLimiterMatchesInMemory(t *testing.T) {
	forEngine(t, func(t *testing.T, engine string) {
		ctx := t.Context()
		db := openDB(t, engine)
		cases := []struct {
			spec  string
			burst int
		}{{"3/s", 0}, {"10/min", 0}, {"7/h", 0}, {"5/min", 1}, {"2/s", 6}}
		for i, c := range cases {
			seed := uint64(i + 1)
			rng := rand.New(rand.NewPCG(seed, 42))
			clk := newClock()
			spec := mustSpec(t, c.spec)
			mem := ratelimit.New(spec, ratelimit.Options{Now: clk.Now, Burst: c.burst})
			st := ratestore.New(db, ratestore.Options{Now: clk.Now})
			shared := st.Limiter(fmt.Sprintf("case%d", i), spec, c.burst)
			per := spec.Per / time.Duration(spec.N)
			var admitted, refused int
			for step := range 300 {
				// Refill of about an eighth of a token a step against a third
				// of one taken from each key: buckets run dry and refill.
				switch r := rng.IntN(20); {
				case r < 5:
					clk.Advance(time.Duration(rng.Int64N(int64(per))))
				case r == 5:
					now := clk.Now()
					mem.Sweep(now)
					if _, err := st.Sweep(ctx, now); err != nil {
						t.Fatal(err)
					}
				}
				key := []string{"a", "b", "c"}[rng.IntN(3)]
				wantOK, wantRetry := mem.Allow(key)
				ok, retry, err := shared.Allow(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				if ok != wantOK || retry != wantRetry {
					t.Fatalf("%s burst %d step %d key %s: shared %v, %v; in memory %v, %v", c.spec, c.burst, step, key, ok, retry, wantOK, wantRetry)
				}
				if ok {
					admitted++
				} else {
					refused++
				}
			}
			if admitted < 30 || refused < 30 {
				t.Fatalf("%s: %d admitted, %d refused: the sequence tests too little", c.spec, admitted, refused)
			}
		}
	})
}

// TestLimiterConcurrent: parallel events on one fresh key, from two
// handles on the database (two nodes), admit exactly the burst.
func TestLimiterConcurrent(t *testing.T) {
	forEngine(t, func(t *testing.T, engine string) {
		ctx := t.Context()
		url := dbURL(t, engine)
		clk := newClock()
		var limiters []*ratestore.Limiter
		for range 2 {
			limiters = append(limiters, ratestore.New(openURL(t, url), ratestore.Options{Now: clk.Now}).Limiter("login", mustSpec(t, "7/min"), 0))
		}
		var admitted, refused atomic.Int64
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				ok, retry, err := limiters[i%2].Allow(ctx, "192.0.2.7")
				switch {
				case err != nil:
					t.Error(err)
				case ok:
					admitted.Add(1)
				case retry <= 0:
					t.Errorf("refused with retry-after %v", retry)
				default:
					refused.Add(1)
				}
			})
		}
		wg.Wait()
		if admitted.Load() != 7 || refused.Load() != 33 {
			t.Fatalf("admitted %d, refused %d; want 7 and 33", admitted.Load(), refused.Load())
		}
	})
}

func countRows(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRow(t.Context(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSweep: a sweep deletes exactly the rows that say nothing any more,
// and deciding after it is as before it.
func TestSweep(t *testing.T) {
	forEngine(t, func(t *testing.T, engine string) {
		ctx := t.Context()
		db := openDB(t, engine)
		clk := newClock()
		st := ratestore.New(db, ratestore.Options{Now: clk.Now})
		fast := st.Limiter("fast", mustSpec(t, "1/s"), 0)
		slow := st.Limiter("slow", mustSpec(t, "1/h"), 0)
		bo := st.Backoff("bo", ratelimit.BackoffOptions{Free: 1, Max: time.Minute, Forget: 10 * time.Minute})
		for i := range 100 {
			if ok, _, err := fast.Allow(ctx, fmt.Sprint("k", i)); !ok || err != nil {
				t.Fatal(ok, err)
			}
		}
		if ok, _, err := slow.Allow(ctx, "k"); !ok || err != nil {
			t.Fatal(ok, err)
		}
		for range 3 {
			if err := bo.Fail(ctx, "alice|192.0.2.0/24"); err != nil {
				t.Fatal(err)
			}
		}
		if err := bo.Fail(ctx, "bob|192.0.2.0/24"); err != nil {
			t.Fatal(err)
		}
		if n, err := st.Sweep(ctx, clk.Now()); err != nil || n != 0 {
			t.Fatalf("sweep at once deleted %d, %v", n, err)
		}
		clk.Advance(time.Second)
		if n, err := st.Sweep(ctx, clk.Now()); err != nil || n != 100 {
			t.Fatalf("sweep after the fast buckets refilled deleted %d, %v; want 100", n, err)
		}
		if got := countRows(t, db, "rate_limits"); got != 1 {
			t.Fatalf("%d rate_limits rows left, want the slow one", got)
		}
		if ok, retry, _ := slow.Allow(ctx, "k"); ok || retry != time.Hour-time.Second {
			t.Fatalf("slow bucket after the sweep: %v, %v", ok, retry)
		}
		clk.Advance(10 * time.Minute)
		if n, err := st.Sweep(ctx, clk.Now()); err != nil || n != 2 {
			t.Fatalf("sweep after Forget deleted %d, %v; want the two backoffs", n, err)
		}
		if got := countRows(t, db, "backoffs"); got != 0 {
			t.Fatalf("%d backoffs rows left", got)
		}
	})
}

// TestKeys: keys from client input of any length or content are accepted
// and stay distinct, and the stored keys stay short.
func TestKeys(t *testing.T) {
	forEngine(t, func(t *testing.T, engine string) {
		ctx := t.Context()
		db := openDB(t, engine)
		clk := newClock()
		st := ratestore.New(db, ratestore.Options{Now: clk.Now})
		l := st.Limiter("login", mustSpec(t, "1/h"), 0)
		bo := st.Backoff("account", ratelimit.BackoffOptions{Free: -1})
		long := strings.Repeat("x", 1<<20)
		keys := []string{
			"", "192.0.2.1", "ключ", long, long + "y", "\x00", "a\x00b", "a\x00c", "\xff\xfe", "\xff\xfd",
			strings.Repeat("é", 200), "login:x", "#x", strings.Repeat("z", ratestore.MaxRawKey), strings.Repeat("z", ratestore.MaxRawKey+1),
		}
		for _, k := range keys {
			if ok, _, err := l.Allow(ctx, k); !ok || err != nil {
				t.Fatalf("first event of key %.20q: %v, %v (a key collided, or was refused)", k, ok, err)
			}
			if ok, _, err := l.Allow(ctx, k); ok || err != nil {
				t.Fatalf("second event of key %.20q: %v, %v", k, ok, err)
			}
			if err := bo.Fail(ctx, k); err != nil {
				t.Fatalf("Fail(%.20q): %v", k, err)
			}
			if n, err := bo.Failures(ctx, k); n != 1 || err != nil {
				t.Fatalf("Failures(%.20q) = %d, %v; want 1", k, n, err)
			}
		}
		for _, table := range []string{"rate_limits", "backoffs"} {
			var n, longest int
			if err := db.Read().QueryRow(ctx, `SELECT COUNT(*), MAX(LENGTH(key)) FROM `+table).Scan(&n, &longest); err != nil {
				t.Fatal(err)
			}
			if n != len(keys) || longest > 200 {
				t.Fatalf("%s: %d rows, longest key %d characters", table, n, longest)
			}
		}
	})
}

// TestLimiterDisabled: a disabled spec admits everything without a row.
func TestLimiterDisabled(t *testing.T) {
	db := openDB(t, store.EngineSQLite)
	l := ratestore.New(db, ratestore.Options{}).Limiter("login", ratelimit.Spec{}, 0)
	for range 100 {
		if ok, _, err := l.Allow(t.Context(), "k"); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	if n := countRows(t, db, "rate_limits"); n != 0 {
		t.Fatalf("%d rows", n)
	}
}

// TestDatabaseGone: without a database there is no decision, only an
// error; nothing is admitted.
func TestDatabaseGone(t *testing.T) {
	forEngine(t, func(t *testing.T, engine string) {
		db := openDB(t, engine)
		st := ratestore.New(db, ratestore.Options{})
		l := st.Limiter("login", mustSpec(t, "10/min"), 0)
		bo := st.Backoff("account", ratelimit.BackoffOptions{})
		db.Close()
		if ok, _, err := l.Allow(t.Context(), "k"); ok || err == nil {
			t.Fatalf("Allow on a closed database: %v, %v", ok, err)
		}
		if _, err := bo.Reserve(t.Context(), "k"); err == nil {
			t.Fatal("Reserve on a closed database succeeded")
		}
		if _, err := bo.Failures(t.Context(), "k"); err == nil {
			t.Fatal("Failures on a closed database succeeded")
		}
	})
}

// TestNamespaceChecked: a namespace that could collide with another is a
// programming error.
func TestNamespaceChecked(t *testing.T) {
	st := ratestore.New(nil, ratestore.Options{})
	for _, ns := range []string{"", "a:b", "a#b", "Login", strings.Repeat("a", 33)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("namespace %q accepted", ns)
				}
			}()
			st.Limiter(ns, ratelimit.Spec{}, 0)
		}()
	}
}

// TestAllowIn: a decision inside a transaction counts only if the
// transaction commits.
func TestAllowIn(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			db := openDB(t, e)
			l := ratestore.New(db, ratestore.Options{}).Limiter("test", ratelimit.Spec{N: 2, Per: time.Hour}, 0)
			ctx := t.Context()
			errUndo := fmt.Errorf("undone")
			allowIn := func(commit bool) bool {
				t.Helper()
				var ok bool
				err := db.InTx(ctx, func(c store.Conn) error {
					var err error
					if ok, _, err = l.AllowIn(ctx, c, "k"); err != nil {
						return err
					}
					if !commit {
						return errUndo
					}
					return nil
				})
				if err != nil && err != errUndo {
					t.Fatal(err)
				}
				return ok
			}
			for range 5 {
				if !allowIn(false) {
					t.Fatal("a decision rolled back still counted")
				}
			}
			for i, want := range []bool{true, true, false} {
				if got := allowIn(true); got != want {
					t.Fatalf("committed event %d admitted = %v, want %v", i+1, got, want)
				}
			}
			if ok, wait, err := l.Allow(ctx, "k"); err != nil || ok || wait <= 0 {
				t.Fatalf("Allow after AllowIn = %v %v %v, want refused with a wait", ok, wait, err)
			}
		})
	}
}
