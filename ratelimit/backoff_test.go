package ratelimit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// op is one call in a scripted Backoff sequence, after advancing the clock.
// For "check" and "reserve", want is the expected retryAfter.
type op struct {
	advance time.Duration
	call    string // check, reserve, fail, succeed, release
	key     string
	want    time.Duration
}

// tries returns n Check-then-Fail pairs on key that are all admitted.
func tries(key string, n int) []op {
	var ops []op
	for range n {
		ops = append(ops, op{call: "check", key: key}, op{call: "fail", key: key})
	}
	return ops
}

// fails returns n Fail calls on key, as from tries Check never saw.
func fails(key string, n int) []op {
	var ops []op
	for range n {
		ops = append(ops, op{call: "fail", key: key})
	}
	return ops
}

func ops(parts ...any) []op {
	var out []op
	for _, p := range parts {
		switch p := p.(type) {
		case op:
			out = append(out, p)
		case []op:
			out = append(out, p...)
		default:
			panic(fmt.Sprintf("ops: %T", p))
		}
	}
	return out
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		name string
		opts BackoffOptions
		ops  []op
	}{
		{
			name: "defaults: five free failures, then 1s doubling",
			ops: ops(
				tries("u", 5),
				op{call: "check", key: "u", want: 0}, // the sixth try is still free
				op{call: "fail", key: "u"},
				op{call: "check", key: "u", want: time.Second},
				op{advance: 400 * time.Millisecond, call: "check", key: "u", want: 600 * time.Millisecond},
				op{advance: 600 * time.Millisecond, call: "check", key: "u", want: 0},
				op{call: "fail", key: "u"},
				op{call: "check", key: "u", want: 2 * time.Second},
				op{advance: 2 * time.Second, call: "check", key: "u", want: 0},
				op{call: "fail", key: "u"},
				op{call: "check", key: "u", want: 4 * time.Second},
			),
		},
		{
			name: "wait is capped at Max",
			opts: BackoffOptions{Free: 1, Base: time.Second, Max: 5 * time.Second},
			ops: ops(
				tries("u", 1),
				op{call: "fail", key: "u"},
				op{call: "check", key: "u", want: time.Second},
				op{call: "fail", key: "u"},
				op{call: "check", key: "u", want: 2 * time.Second},
				op{call: "fail", key: "u"},
				op{call: "check", key: "u", want: 4 * time.Second},
				op{call: "fail", key: "u"},
				op{call: "check", key: "u", want: 5 * time.Second},
				op{call: "fail", key: "u"},
				op{call: "check", key: "u", want: 5 * time.Second},
			),
		},
		{
			name: "failures are counted from the latest",
			opts: BackoffOptions{Free: -1, Base: 10 * time.Second},
			ops: ops(
				op{call: "fail", key: "u"},
				op{call: "check", key: "u", want: 10 * time.Second},
				op{advance: 4 * time.Second, call: "fail", key: "u"}, // ignoring the wait still counts
				op{call: "check", key: "u", want: 20 * time.Second},
			),
		},
		{
			name: "success clears",
			ops: ops(
				tries("u", 6),
				fails("u", 2),
				op{call: "check", key: "u", want: 4 * time.Second},
				op{call: "succeed", key: "u"},
				tries("u", 5),
				op{call: "check", key: "u", want: 0},
			),
		},
		{
			name: "keys are independent",
			opts: BackoffOptions{Free: -1},
			ops: ops(
				op{call: "fail", key: "alice|192.0.2.0/24"},
				op{call: "check", key: "alice|192.0.2.0/24", want: time.Second},
				op{call: "check", key: "alice|198.51.100.0/24", want: 0},
				op{call: "check", key: "bob|192.0.2.0/24", want: 0},
			),
		},
		{
			name: "failures are forgotten after Forget",
			opts: BackoffOptions{Free: 2, Forget: time.Hour},
			ops: ops(
				tries("u", 3),
				fails("u", 1),
				op{call: "check", key: "u", want: 2 * time.Second},
				op{advance: time.Hour - 1, call: "check", key: "u", want: 0},
				op{call: "fail", key: "u"}, // refreshes: five failures now
				op{call: "check", key: "u", want: 4 * time.Second},
				op{advance: time.Hour, call: "check", key: "u", want: 0},
				tries("u", 2), // a fresh count: two free failures again
				op{call: "check", key: "u", want: 0},
				op{call: "fail", key: "u"},
				op{call: "check", key: "u", want: time.Second},
			),
		},
		{
			name: "Forget shorter than Max is raised to Max",
			opts: BackoffOptions{Free: -1, Base: time.Hour, Max: time.Hour, Forget: time.Minute},
			ops: ops(
				op{call: "fail", key: "u"},
				op{advance: 2 * time.Minute, call: "check", key: "u", want: 58 * time.Minute},
			),
		},
		{
			name: "account-wide key: slowed to one try per Max, never locked out",
			opts: BackoffOptions{Max: 30 * time.Second},
			ops: ops(
				fails("alice", 200),
				op{call: "check", key: "alice", want: 30 * time.Second},
				op{advance: 30 * time.Second, call: "check", key: "alice", want: 0},
				op{call: "fail", key: "alice"},
				op{call: "check", key: "alice", want: 30 * time.Second},
			),
		},
		{
			name: "check only looks",
			opts: BackoffOptions{Free: 1},
			ops: ops(
				op{call: "check", key: "u"}, op{call: "check", key: "u"}, op{call: "check", key: "u"},
				op{call: "fail", key: "u"},
				op{call: "check", key: "u"},
				op{call: "fail", key: "u"},
				op{call: "check", key: "u", want: time.Second},
			),
		},
		{
			name: "parallel tries are reserved",
			ops: ops(
				// Six reservations before any result: all free (the sixth
				// try is free), then the ones in flight count as failures.
				op{call: "reserve", key: "u"}, op{call: "reserve", key: "u"}, op{call: "reserve", key: "u"},
				op{call: "reserve", key: "u"}, op{call: "reserve", key: "u"}, op{call: "reserve", key: "u"},
				op{call: "reserve", key: "u", want: time.Second},
				op{call: "check", key: "u", want: time.Second},
				op{advance: 300 * time.Millisecond, call: "fail", key: "u"},
				op{call: "reserve", key: "u", want: time.Second},
				op{call: "release", key: "u"},
				op{call: "reserve", key: "u", want: 0}, // 1 failure + 4 held + this one
				op{call: "reserve", key: "u", want: time.Second},
				op{call: "succeed", key: "u"},
				op{call: "reserve", key: "u", want: 0},
			),
		},
		{
			name: "a reserve-fail pair counts one failure",
			opts: BackoffOptions{Free: 2},
			ops: ops(
				op{call: "reserve", key: "u"}, op{call: "fail", key: "u"},
				op{call: "reserve", key: "u"}, op{call: "fail", key: "u"},
				op{call: "reserve", key: "u"}, op{call: "fail", key: "u"},
				op{call: "check", key: "u", want: time.Second},
				op{call: "reserve", key: "u", want: time.Second},
			),
		},
		{
			name: "reservations expire after Hold",
			opts: BackoffOptions{Free: 1, Hold: 10 * time.Second},
			ops: ops(
				op{call: "reserve", key: "u"},
				op{call: "reserve", key: "u"},
				op{call: "reserve", key: "u", want: time.Second},
				op{advance: 10 * time.Second, call: "reserve", key: "u", want: 0},
			),
		},
		{
			name: "release without a reservation does nothing",
			opts: BackoffOptions{Free: -1},
			ops: ops(
				op{call: "release", key: "u"},
				op{call: "fail", key: "u"},
				op{call: "release", key: "u"},
				op{call: "check", key: "u", want: time.Second},
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			opts := tt.opts
			opts.Now = clk.Now
			b := NewBackoff(opts)
			for i, o := range tt.ops {
				clk.Advance(o.advance)
				switch o.call {
				case "check":
					if got := b.Check(o.key); got != o.want {
						t.Fatalf("op %d: Check(%q) = %v, want %v", i, o.key, got, o.want)
					}
				case "reserve":
					if got := b.Reserve(o.key); got != o.want {
						t.Fatalf("op %d: Reserve(%q) = %v, want %v", i, o.key, got, o.want)
					}
				case "fail":
					b.Fail(o.key)
				case "succeed":
					b.Succeed(o.key)
				case "release":
					b.Release(o.key)
				default:
					t.Fatalf("op %d: unknown call %q", i, o.call)
				}
			}
		})
	}
}

// TestBackoffLoginFlow plays the two-key login of the package documentation:
// an attacker on one network fails against alice until the account-wide key
// is at its cap; alice, on her own network, is slowed but gets in.
func TestBackoffLoginFlow(t *testing.T) {
	clk := newFakeClock()
	perNet := NewBackoff(BackoffOptions{Now: clk.Now})
	perAcct := NewBackoff(BackoffOptions{Now: clk.Now, Max: 30 * time.Second})

	login := func(netKey, account string, password bool) time.Duration {
		t.Helper()
		if d := perNet.Reserve(netKey); d > 0 {
			return d
		}
		if d := perAcct.Reserve(account); d > 0 {
			perNet.Release(netKey)
			return d
		}
		if !password {
			perNet.Fail(netKey)
			perAcct.Fail(account)
			return 0
		}
		perNet.Succeed(netKey)
		perAcct.Release(account)
		return 0
	}

	attacker := "alice|203.0.113.0/24"
	for range 1000 {
		if d := login(attacker, "alice", false); d > 0 {
			clk.Advance(d)
		}
	}
	if d := login("alice|192.0.2.0/24", "alice", true); d > 30*time.Second {
		t.Fatalf("real user told to wait %v, more than the account cap", d)
	} else if d > 0 {
		clk.Advance(d)
		if d := login("alice|192.0.2.0/24", "alice", true); d != 0 {
			t.Fatalf("real user refused again after waiting: %v", d)
		}
	}
	// The attacker's network is at its own cap, far beyond the account's.
	if d := perNet.Check(attacker); d <= 30*time.Second {
		t.Errorf("attacker's network wait = %v, want the per-network cap", d)
	}
	// Every reservation was reported: nothing but the attacker's network
	// and the account itself is remembered.
	if n := perNet.Len(); n != 1 {
		t.Errorf("per-network keys remembered: %d, want 1", n)
	}
}

func TestBackoffMaxKeys(t *testing.T) {
	for _, maxKeys := range []int{1, 3, 64, 500} {
		t.Run(fmt.Sprint(maxKeys), func(t *testing.T) {
			clk := newFakeClock()
			b := NewBackoff(BackoffOptions{Now: clk.Now, MaxKeys: maxKeys})
			for i := range 10 * maxKeys {
				key := fmt.Sprint("user", i)
				b.Check(key)
				b.Fail(key)
				if n := b.Len(); n > maxKeys {
					t.Fatalf("after %d keys Len = %d > %d", i+1, n, maxKeys)
				}
			}
		})
	}
}

func TestBackoffSweep(t *testing.T) {
	clk := newFakeClock()
	b := NewBackoff(BackoffOptions{Now: clk.Now})
	for i := range 100 {
		b.Fail(fmt.Sprint("f", i))
		b.Reserve(fmt.Sprint("h", i)) // a reservation only
	}
	b.Succeed("f0")
	if n := b.Len(); n != 199 {
		t.Fatalf("Len = %d, want 199", n)
	}
	if n := b.Sweep(clk.Now().Add(30 * time.Second)); n != 100 {
		t.Errorf("Sweep after Hold = %d, want the 100 reservations", n)
	}
	if n := b.Sweep(clk.Now().Add(15*time.Minute - 1)); n != 0 {
		t.Errorf("Sweep before Forget = %d, want 0", n)
	}
	if n := b.Sweep(clk.Now().Add(15 * time.Minute)); n != 99 {
		t.Errorf("Sweep after Forget = %d, want 99", n)
	}
}

// TestBackoffConcurrent checks that parallel reserved tries on one key get
// exactly as many through as the same tries made one after another, and
// exercises every method under -race.
func TestBackoffConcurrent(t *testing.T) {
	clk := newFakeClock()
	b := NewBackoff(BackoffOptions{Now: clk.Now})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		admitted int
	)
	for w := range 32 {
		wg.Go(func() {
			for i := range 50 {
				if b.Reserve("target") == 0 {
					mu.Lock()
					admitted++
					mu.Unlock()
					b.Fail("target")
				}
				own := fmt.Sprint("own", w)
				if b.Check(own) > 0 {
					continue
				}
				if b.Reserve(own) == 0 {
					if i%7 == 0 {
						b.Succeed(own)
					} else {
						b.Fail(own)
					}
				} else {
					b.Release(own)
				}
				if i%10 == 0 {
					b.Sweep(clk.Now())
				}
			}
		})
	}
	wg.Wait()
	if admitted != 6 {
		t.Errorf("admitted %d tries on a frozen clock, want 6 (five free failures, then the sixth try)", admitted)
	}
}

// TestBackoffAdmitAndFailures: Admit reserves even a try that must wait and
// reports the wait; Failures counts remembered failures only.
func TestBackoffAdmitAndFailures(t *testing.T) {
	clk := newFakeClock()
	b := NewBackoff(BackoffOptions{Free: 1, Base: time.Second, Max: 4 * time.Second, Forget: time.Minute, Now: clk.Now})
	if n := b.Failures("k"); n != 0 {
		t.Fatalf("Failures of an unknown key = %d", n)
	}
	if d := b.Admit("k"); d != 0 {
		t.Fatalf("first Admit waits %s", d)
	}
	if n := b.Failures("k"); n != 0 {
		t.Fatalf("a reservation counted as a failure: %d", n)
	}
	b.Fail("k")
	if d := b.Admit("k"); d != 0 {
		t.Fatalf("second Admit (one free failure) waits %s", d)
	}
	b.Fail("k")
	if n := b.Failures("k"); n != 2 {
		t.Fatalf("Failures = %d, want 2", n)
	}
	if d := b.Admit("k"); d != time.Second {
		t.Fatalf("Admit after two failures = %s, want 1s", d)
	}
	// The admitted try is reserved: Reserve now sees one more.
	if d := b.Reserve("k"); d != 2*time.Second {
		t.Fatalf("Reserve beside an Admit-ed try = %s, want 2s", d)
	}
	b.Release("k")
	clk.Advance(time.Minute)
	if n := b.Failures("k"); n != 0 {
		t.Fatalf("Failures after Forget = %d", n)
	}
}
