package ratelimit

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// step is one call in a scripted sequence: advance the clock, then Allow.
type step struct {
	advance time.Duration
	key     string
	ok      bool
	retry   time.Duration
}

// allowN returns n steps on key at the current instant that are all admitted.
func allowN(key string, n int) []step {
	s := make([]step, n)
	for i := range s {
		s[i] = step{key: key, ok: true}
	}
	return s
}

func seq(parts ...any) []step {
	var out []step
	for _, p := range parts {
		switch p := p.(type) {
		case step:
			out = append(out, p)
		case []step:
			out = append(out, p...)
		default:
			panic(fmt.Sprintf("seq: %T", p))
		}
	}
	return out
}

func TestLimiterAllow(t *testing.T) {
	const sevenPerHour = time.Hour / 7 // 514285714285 ns: Per/N truncates
	tests := []struct {
		name  string
		spec  string
		burst int
		steps []step
	}{
		{
			name: "10/min admits ten, then one every 6s",
			spec: "10/min",
			steps: seq(
				allowN("a", 10),
				step{key: "a", ok: false, retry: 6 * time.Second},
				step{advance: 5 * time.Second, key: "a", ok: false, retry: time.Second},
				step{advance: time.Second, key: "a", ok: true},
				step{key: "a", ok: false, retry: 6 * time.Second},
				step{advance: 60 * time.Second, key: "a", ok: true},
			),
		},
		{
			name: "refused events cost nothing",
			spec: "1/s",
			steps: seq(
				step{key: "a", ok: true},
				step{advance: 100 * time.Millisecond, key: "a", ok: false, retry: 900 * time.Millisecond},
				step{advance: 100 * time.Millisecond, key: "a", ok: false, retry: 800 * time.Millisecond},
				step{advance: 700 * time.Millisecond, key: "a", ok: false, retry: 100 * time.Millisecond},
				step{advance: 100 * time.Millisecond, key: "a", ok: true},
			),
		},
		{
			name: "refill never exceeds the burst",
			spec: "3/s",
			steps: seq(
				allowN("a", 3),
				step{key: "a", ok: false, retry: time.Second / 3},
				step{advance: time.Hour, key: "a", ok: true},
				allowN("a", 2),
				step{key: "a", ok: false, retry: time.Second / 3},
			),
		},
		{
			name: "partial refill",
			spec: "4/s",
			steps: seq(
				allowN("a", 4),
				step{advance: 500 * time.Millisecond, key: "a", ok: true},
				step{key: "a", ok: true},
				step{key: "a", ok: false, retry: 250 * time.Millisecond},
			),
		},
		{
			name: "keys are independent",
			spec: "2/h",
			steps: seq(
				allowN("a", 2),
				step{key: "a", ok: false, retry: 30 * time.Minute},
				allowN("b", 2),
				step{key: "b", ok: false, retry: 30 * time.Minute},
				step{advance: 10 * time.Minute, key: "a", ok: false, retry: 20 * time.Minute},
				step{key: "c", ok: true},
			),
		},
		{
			name:  "burst below N spreads events out",
			spec:  "60/min",
			burst: 1,
			steps: seq(
				step{key: "a", ok: true},
				step{key: "a", ok: false, retry: time.Second},
				step{advance: time.Second, key: "a", ok: true},
			),
		},
		{
			name:  "burst above N",
			spec:  "1/s",
			burst: 3,
			steps: seq(
				allowN("a", 3),
				step{key: "a", ok: false, retry: time.Second},
			),
		},
		{
			name: "period not divisible by N",
			spec: "7/h",
			steps: seq(
				allowN("a", 7),
				step{key: "a", ok: false, retry: sevenPerHour},
				step{advance: sevenPerHour - 1, key: "a", ok: false, retry: 1},
				step{advance: 1, key: "a", ok: true},
			),
		},
		{
			name: "disabled admits everything",
			spec: "0",
			steps: seq(
				allowN("a", 1000),
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			spec, err := ParseSpec(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			l := New(spec, Options{Now: clk.Now, Burst: tt.burst})
			for i, s := range tt.steps {
				clk.Advance(s.advance)
				ok, retry := l.Allow(s.key)
				if ok != s.ok || retry != s.retry {
					t.Fatalf("step %d: Allow(%q) = %v, %v; want %v, %v", i, s.key, ok, retry, s.ok, s.retry)
				}
			}
		})
	}
}

func TestLimiterDisabledKeepsNoState(t *testing.T) {
	l := New(Spec{}, Options{})
	for i := range 1000 {
		if ok, retry := l.Allow(fmt.Sprint(i)); !ok || retry != 0 {
			t.Fatalf("disabled limiter refused: %v", retry)
		}
	}
	if n := l.Len(); n != 0 {
		t.Errorf("Len = %d, want 0", n)
	}
	if n := l.Sweep(time.Now()); n != 0 {
		t.Errorf("Sweep = %d, want 0", n)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{-time.Second, 1},
		{0, 1},
		{1, 1},
		{999 * time.Millisecond, 1},
		{time.Second, 1},
		{time.Second + 1, 2},
		{1500 * time.Millisecond, 2},
		{6 * time.Second, 6},
		{59*time.Second + 900*time.Millisecond, 60},
		{30 * time.Minute, 1800},
	}
	for _, tt := range tests {
		t.Run(tt.d.String(), func(t *testing.T) {
			if got := RetryAfterSeconds(tt.d); got != tt.want {
				t.Errorf("RetryAfterSeconds(%v) = %d, want %d", tt.d, got, tt.want)
			}
		})
	}
}

// TestLimiterMaxKeys floods a limiter with distinct keys and checks that it
// never remembers more than MaxKeys of them, whatever MaxKeys is relative to
// the shard count.
func TestLimiterMaxKeys(t *testing.T) {
	for _, maxKeys := range []int{1, 2, 5, 31, 32, 33, 100, 1000} {
		t.Run(fmt.Sprint(maxKeys), func(t *testing.T) {
			clk := newFakeClock()
			l := New(Spec{1, time.Hour}, Options{Now: clk.Now, MaxKeys: maxKeys})
			for i := range 20 * maxKeys {
				if ok, _ := l.Allow(fmt.Sprintf("k%d", i)); !ok {
					t.Fatalf("new key %d refused", i)
				}
				if n := l.Len(); n > maxKeys {
					t.Fatalf("after %d keys Len = %d > MaxKeys %d", i+1, n, maxKeys)
				}
			}
			if n := l.Len(); n == 0 {
				t.Error("Len = 0: nothing remembered")
			}
		})
	}
}

func TestLimiterDefaultMaxKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts 150,000 keys")
	}
	clk := newFakeClock()
	l := New(Spec{1, time.Hour}, Options{Now: clk.Now})
	for i := range DefaultMaxKeys * 3 / 2 {
		l.Allow(fmt.Sprint(i))
	}
	if n := l.Len(); n > DefaultMaxKeys || n < DefaultMaxKeys*9/10 {
		t.Errorf("Len = %d, want ≤ %d and not far below", n, DefaultMaxKeys)
	}
}

// TestLimiterEvictsLeastRecentlyUsed uses one shard so that eviction order is
// deterministic.
func TestLimiterEvictsLeastRecentlyUsed(t *testing.T) {
	clk := newFakeClock()
	l := newLimiter(Spec{1, time.Hour}, Options{Now: clk.Now, MaxKeys: 2}, 1)
	mustAllow(t, l, "a", true)
	mustAllow(t, l, "b", true)
	mustAllow(t, l, "a", false) // a is now the most recently used
	mustAllow(t, l, "c", true)  // evicts b
	mustAllow(t, l, "a", false)
	mustAllow(t, l, "b", true) // forgotten: a full bucket again; evicts c
	mustAllow(t, l, "a", false)
	if n := l.Len(); n != 2 {
		t.Errorf("Len = %d, want 2", n)
	}
}

// TestLimiterDropsIdleKeys checks that Allow sheds keys whose bucket has
// refilled, a few per call, and that Sweep sheds all of them.
func TestLimiterDropsIdleKeys(t *testing.T) {
	clk := newFakeClock()
	l := newLimiter(Spec{1, time.Second}, Options{Now: clk.Now}, 1)
	for i := range 10 {
		mustAllow(t, l, fmt.Sprint("old", i), true)
	}
	clk.Advance(time.Second) // every bucket is full again
	for i := range 3 {
		mustAllow(t, l, fmt.Sprint("new", i), true)
	}
	if got, want := l.Len(), 10+3-3*trimPerCall; got != want {
		t.Errorf("Len after lazy trimming = %d, want %d", got, want)
	}
	if n := l.Sweep(clk.Now()); n != 10-3*trimPerCall {
		t.Errorf("Sweep = %d, want %d", n, 10-3*trimPerCall)
	}
	if n := l.Sweep(clk.Now().Add(999 * time.Millisecond)); n != 0 {
		t.Errorf("Sweep before the new buckets refill = %d, want 0", n)
	}
	if n := l.Sweep(clk.Now().Add(time.Second)); n != 3 {
		t.Errorf("Sweep after they refill = %d, want 3", n)
	}
	if n := l.Len(); n != 0 {
		t.Errorf("Len = %d, want 0", n)
	}
}

func TestLimiterSweepAllShards(t *testing.T) {
	clk := newFakeClock()
	l := New(Spec{5, time.Minute}, Options{Now: clk.Now})
	for i := range 500 {
		l.Allow(fmt.Sprint(i))
	}
	if n := l.Sweep(clk.Now().Add(11 * time.Second)); n != 0 {
		t.Errorf("Sweep with one token still missing = %d, want 0", n)
	}
	if n := l.Sweep(clk.Now().Add(12 * time.Second)); n != 500 {
		t.Errorf("Sweep = %d, want 500", n)
	}
}

// TestLimiterConcurrent hammers one shared key and many private ones from
// many goroutines on a frozen clock: exactly Burst events of the shared key
// get through, and every private key gets exactly its own burst. Run with
// -race.
func TestLimiterConcurrent(t *testing.T) {
	const (
		workers = 16
		calls   = 200
		n       = 100
	)
	clk := newFakeClock()
	l := New(Spec{n, time.Hour}, Options{Now: clk.Now})
	var shared atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			own := 0
			for i := range calls {
				if ok, _ := l.Allow("shared"); ok {
					shared.Add(1)
				}
				if ok, retry := l.Allow(fmt.Sprint("own", w)); ok {
					own++
				} else if retry <= 0 {
					t.Errorf("refused with retryAfter %v", retry)
				}
				if i%50 == 0 {
					l.Sweep(clk.Now())
					l.Len()
				}
			}
			if own != n {
				t.Errorf("worker %d: own key admitted %d, want %d", w, own, n)
			}
		})
	}
	wg.Wait()
	if got := shared.Load(); got != n {
		t.Errorf("shared key admitted %d events, want %d", got, n)
	}
}

func mustAllow(t *testing.T, l *Limiter, key string, want bool) {
	t.Helper()
	if ok, _ := l.Allow(key); ok != want {
		t.Fatalf("Allow(%q) = %v, want %v", key, ok, want)
	}
}

// BenchmarkAllowParallel measures Allow from GOMAXPROCS goroutines over a
// working set of 4096 keys on the real clock: the lock, hash, map and
// list work of a busy server, with both admitted and refused events.
func BenchmarkAllowParallel(b *testing.B) {
	l := New(Spec{50, time.Second}, Options{})
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("198.51.%d.%d", i/256, i%256)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(keys))
		for pb.Next() {
			l.Allow(keys[i%len(keys)])
			i++
		}
	})
}
