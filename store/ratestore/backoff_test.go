package ratestore_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unhidra/unhidra/ratelimit"
	"github.com/unhidra/unhidra/store/ratestore"
)

// TestBackoffMatchesInMemory: on random sequences of reservations,
// failures, successes, releases and advances, the shared backoff answers
// exactly as ratelimit.Backoff with the same options.
func TestBackoffMatchesInMemory(t *testing.T) {
	forEngine(t, func(t *testing.T, engine string) {
		ctx := t.Context()
		db := openDB(t, engine)
		cases := []ratelimit.BackoffOptions{
			{Max: 5 * time.Minute},
			{Free: 20, Max: 30 * time.Second},
			{Free: -1, Base: time.Second, Max: 8 * time.Second, Forget: 20 * time.Second, Hold: 3 * time.Second},
		}
		for i, opts := range cases {
			rng := rand.New(rand.NewPCG(uint64(i+1), 7))
			clk := newClock()
			opts.Now = clk.Now
			mem := ratelimit.NewBackoff(opts)
			st := ratestore.New(db, ratestore.Options{Now: clk.Now})
			shared := st.Backoff(fmt.Sprintf("case%d", i), opts)
			var waited int
			for step := range 400 {
				if rng.IntN(4) == 0 {
					clk.Advance(time.Duration(rng.Int64N(int64(20 * time.Second))))
				}
				key := []string{"alice", "bob"}[rng.IntN(2)]
				var got, want any
				var err error
				switch op := rng.IntN(12); {
				case op < 3:
					want = mem.Reserve(key)
					got, err = shared.Reserve(ctx, key)
				case op < 4:
					want = mem.Admit(key)
					got, err = shared.Admit(ctx, key)
				case op < 8:
					mem.Fail(key)
					err = shared.Fail(ctx, key)
				case op < 10:
					mem.Release(key)
					err = shared.Release(ctx, key)
				case op < 11:
					if rng.IntN(3) == 0 {
						mem.Succeed(key)
						err = shared.Succeed(ctx, key)
					}
				default:
					want = mem.Failures(key)
					got, err = shared.Failures(ctx, key)
				}
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("case %d step %d key %s: shared %v, in memory %v", i, step, key, got, want)
				}
				if d, ok := want.(time.Duration); ok && d > 0 {
					waited++
				}
			}
			if waited < 5 {
				t.Fatalf("case %d: only %d waits: the sequence tests too little", i, waited)
			}
		}
	})
}

// TestBackoffConcurrentReserve: parallel tries on one key from two handles
// on the database (two nodes) reserve exactly the free ones, as parallel
// tries on one node's Backoff do.
func TestBackoffConcurrentReserve(t *testing.T) {
	forEngine(t, func(t *testing.T, engine string) {
		ctx := t.Context()
		url := dbURL(t, engine)
		clk := newClock()
		var bos []*ratestore.Backoff
		for range 2 {
			bos = append(bos, ratestore.New(openURL(t, url), ratestore.Options{Now: clk.Now}).Backoff("account", ratelimit.BackoffOptions{Free: 3}))
		}
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Go(func() {
				d, err := bos[i%2].Reserve(ctx, "alice|192.0.2.0/24")
				if err != nil {
					t.Error(err)
				} else if d == 0 {
					admitted.Add(1)
				}
			})
		}
		wg.Wait()
		// Free 3: the fourth try is still free (three failures are), then
		// the ones in flight count as failures.
		if admitted.Load() != 4 {
			t.Fatalf("%d tries reserved, want 4", admitted.Load())
		}
	})
}

// TestBackoffAcrossNodes: failures recorded through one handle slow tries
// through another, exponentially, and are forgotten after Forget.
func TestBackoffAcrossNodes(t *testing.T) {
	forEngine(t, func(t *testing.T, engine string) {
		ctx := t.Context()
		url := dbURL(t, engine)
		clk := newClock()
		opts := ratelimit.BackoffOptions{Free: 2, Max: 5 * time.Minute, Forget: 15 * time.Minute}
		a := ratestore.New(openURL(t, url), ratestore.Options{Now: clk.Now}).Backoff("account", opts)
		b := ratestore.New(openURL(t, url), ratestore.Options{Now: clk.Now}).Backoff("account", opts)
		nodes := []*ratestore.Backoff{a, b}
		const key = "alice|192.0.2.0/24"
		for i := range 6 {
			n := nodes[i%2]
			d, err := n.Reserve(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			// Failures beyond the free two wait 1 s, 2 s, 4 s, …
			want := time.Duration(0)
			if i > 2 {
				want = time.Second << (i - 3)
			}
			if d != want {
				t.Fatalf("try %d on node %d: wait %v, want %v", i, i%2, d, want)
			}
			if d > 0 {
				clk.Advance(d)
				if d, err = n.Reserve(ctx, key); d != 0 || err != nil {
					t.Fatalf("try %d after waiting: %v, %v", i, d, err)
				}
			}
			if err := n.Fail(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := b.Failures(ctx, key); n != 6 || err != nil {
			t.Fatalf("failures seen on node b: %d, %v", n, err)
		}
		clk.Advance(15 * time.Minute)
		if d, err := a.Reserve(ctx, key); d != 0 || err != nil {
			t.Fatalf("after Forget: %v, %v", d, err)
		}
		if err := a.Succeed(ctx, key); err != nil {
			t.Fatal(err)
		}
		if n, err := b.Failures(ctx, key); n != 0 || err != nil {
			t.Fatalf("failures after a success: %d, %v", n, err)
		}
	})
}
