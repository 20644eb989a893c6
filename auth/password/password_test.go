package password

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// testParams keep most tests fast (64 KiB, one pass). TestDefaultParams and
// the benchmarks run the real cost.
var testParams = Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// newTestHasher builds a Hasher with testParams unless cfg sets others,
// bypassing New's OWASP floor.
func newTestHasher(t *testing.T, cfg Config) *Hasher {
	t.Helper()
	if cfg.Params == (Params{}) {
		cfg.Params = testParams
	}
	h, err := newHasher(cfg, specFloor())
	if err != nil {
		t.Fatalf("newHasher(%+v): %v", cfg, err)
	}
	return h
}

// countDerives makes h count its derivations and record their params.
func countDerives(h *Hasher) (calls *atomic.Int32, last *atomic.Pointer[Params]) {
	calls, last = new(atomic.Int32), new(atomic.Pointer[Params])
	h.derive = func(password, salt []byte, p Params) []byte {
		calls.Add(1)
		last.Store(&p)
		return argon2id(password, salt, p)
	}
	return calls, last
}

func TestHashVerify(t *testing.T) {
	tests := []struct {
		name          string
		hashed, tried string
		wantOK        bool
	}{
		{"round trip", "correct horse battery staple", "correct horse battery staple", true},
		{"wrong password", "correct horse battery staple", "correct horse battery stapler", false},
		{"case matters", "Correct Horse Battery Staple", "correct horse battery staple", false},
		{"trailing space matters", "correct horse", "correct horse ", false},
		{"empty password", "", "", true},
		{"empty against non-empty", "x", "", false},
		{"unicode", "pässwörd 密码 🔑", "pässwörd 密码 🔑", true},
		{"composed and decomposed é match", "caf\u00e9 au lait", "cafe\u0301 au lait", true},
		{"fullwidth matches ascii under NFKC", "ｐａｓｓｗｏｒｄ", "password", true},
		{"invalid utf-8", "\xff\xfe\xfd", "\xff\xfe\xfd", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHasher(t, Config{})
			enc, err := h.Hash(t.Context(), tt.hashed)
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			if want := "$argon2id$v=19$m=64,t=1,p=1$"; !strings.HasPrefix(enc, want) {
				t.Errorf("Hash = %q, want prefix %q", enc, want)
			}
			if len(tt.hashed) >= 4 && strings.Contains(enc, tt.hashed) {
				t.Errorf("Hash = %q contains the password", enc)
			}
			ok, rehash, err := h.Verify(t.Context(), tt.tried, enc)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if ok != tt.wantOK || rehash {
				t.Errorf("Verify = %v, %v; want %v, false", ok, rehash, tt.wantOK)
			}
		})
	}
}

func TestHashSaltsDiffer(t *testing.T) {
	h := newTestHasher(t, Config{})
	seen := map[string]bool{}
	for range 5 {
		enc, err := h.Hash(t.Context(), "same password every time")
		if err != nil {
			t.Fatal(err)
		}
		_, salt, _, err := Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		if seen[string(salt)] {
			t.Fatalf("salt %x repeated", salt)
		}
		seen[string(salt)] = true
	}
}

// TestDefaultParams runs the real cost once, through the public constructor.
func TestDefaultParams(t *testing.T) {
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Params() != DefaultParams() {
		t.Fatalf("Params = %+v, want %+v", h.Params(), DefaultParams())
	}
	enc, err := h.Hash(t.Context(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if want := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(enc, want) {
		t.Errorf("Hash = %q, want prefix %q", enc, want)
	}
	p, salt, key, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if p != DefaultParams() || len(salt) != 16 || len(key) != 32 {
		t.Errorf("Decode = %+v, %d-byte salt, %d-byte key", p, len(salt), len(key))
	}
	if ok, rehash, err := h.Verify(t.Context(), "correct horse battery staple", enc); !ok || rehash || err != nil {
		t.Errorf("Verify(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	if ok, _, err := h.Verify(t.Context(), "correct horse battery stable", enc); ok || err != nil {
		t.Errorf("Verify(wrong) = %v, %v; want false, nil", ok, err)
	}
}

func TestVerifyReferenceVector(t *testing.T) {
	h := newTestHasher(t, Config{})
	if ok, rehash, err := h.Verify(t.Context(), refPassword, refHash); !ok || !rehash || err != nil {
		t.Errorf("Verify(right) = %v, %v, %v; want true, true (other params), nil", ok, rehash, err)
	}
	if ok, rehash, err := h.Verify(t.Context(), "Password", refHash); ok || rehash || err != nil {
		t.Errorf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
}

func TestNeedsRehash(t *testing.T) {
	with := func(f func(*Params)) Params {
		p := testParams
		f(&p)
		return p
	}
	tests := []struct {
		name       string
		stored     Params
		tried      string
		wantOK     bool
		wantRehash bool
	}{
		{"same params", testParams, "pw", true, false},
		{"less memory", with(func(p *Params) { p.Memory = 32 }), "pw", true, true},
		{"more memory", with(func(p *Params) { p.Memory = 128 }), "pw", true, true},
		{"more iterations", with(func(p *Params) { p.Iterations = 2 }), "pw", true, true},
		{"more parallelism", with(func(p *Params) { p.Parallelism = 2 }), "pw", true, true},
		{"shorter salt", with(func(p *Params) { p.SaltLen = 8 }), "pw", true, true},
		{"longer key", with(func(p *Params) { p.KeyLen = 64 }), "pw", true, true},
		{"wrong password never asks for rehash", with(func(p *Params) { p.Memory = 32 }), "wrong", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := newTestHasher(t, Config{Params: tt.stored})
			enc, err := old.Hash(t.Context(), "pw")
			if err != nil {
				t.Fatal(err)
			}
			h := newTestHasher(t, Config{})
			ok, rehash, err := h.Verify(t.Context(), tt.tried, enc)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK || rehash != tt.wantRehash {
				t.Errorf("Verify = %v, %v; want %v, %v", ok, rehash, tt.wantOK, tt.wantRehash)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		want      Params
		wantSlots int
		wantErr   bool
	}{
		{"zero config", Config{}, DefaultParams(), runtime.GOMAXPROCS(0), false},
		{"zero fields default", Config{Params: Params{Memory: 65536, Parallelism: 4}},
			Params{Memory: 65536, Iterations: 2, Parallelism: 4, SaltLen: 16, KeyLen: 32}, runtime.GOMAXPROCS(0), false},
		{"max concurrent", Config{MaxConcurrent: 7}, DefaultParams(), 7, false},
		{"memory below floor", Config{Params: Params{Memory: 4096}}, Params{}, 0, true},
		{"iterations below floor", Config{Params: Params{Memory: 47104, Iterations: 1}}, Params{}, 0, true},
		{"short key", Config{Params: Params{KeyLen: 8}}, Params{}, 0, true},
		{"negative max concurrent", Config{MaxConcurrent: -1}, Params{}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := New(tt.cfg)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("New(%+v) = %+v, want an error", tt.cfg, h.Params())
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%+v): %v", tt.cfg, err)
			}
			if h.Params() != tt.want {
				t.Errorf("Params = %+v, want %+v", h.Params(), tt.want)
			}
			if cap(h.slots) != tt.wantSlots {
				t.Errorf("slots = %d, want %d", cap(h.slots), tt.wantSlots)
			}
		})
	}
}

// A malformed stored hash is an error, never a match, and costs no
// derivation.
func TestVerifyMalformed(t *testing.T) {
	for name, enc := range map[string]string{
		"empty":     "",
		"bcrypt":    "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":   "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
		"truncated": refHash[:40],
		"m huge":    "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
	} {
		t.Run(name, func(t *testing.T) {
			h := newTestHasher(t, Config{})
			calls, _ := countDerives(h)
			ok, rehash, err := h.Verify(t.Context(), refPassword, enc)
			if ok || rehash || !errors.Is(err, ErrMalformed) {
				t.Errorf("Verify = %v, %v, %v; want false, false, ErrMalformed", ok, rehash, err)
			}
			if calls.Load() != 0 {
				t.Errorf("derived %d keys for a malformed hash", calls.Load())
			}
		})
	}
}

// DummyVerify must cost what Verify costs against a hash with current
// params: one derivation, with exactly those params.
func TestDummyVerify(t *testing.T) {
	h := newTestHasher(t, Config{Params: Params{Memory: 128, Iterations: 2, Parallelism: 2, SaltLen: 24, KeyLen: 48}})
	enc, err := h.Hash(t.Context(), "real password")
	if err != nil {
		t.Fatal(err)
	}
	calls, last := countDerives(h)
	if _, _, err := h.Verify(t.Context(), "wrong password", enc); err != nil {
		t.Fatal(err)
	}
	verifyParams := *last.Load()
	if err := h.DummyVerify(t.Context(), "wrong password"); err != nil {
		t.Fatalf("DummyVerify: %v", err)
	}
	if calls.Load() != 2 {
		t.Fatalf("derivations = %d, want 1 for Verify and 1 for DummyVerify", calls.Load())
	}
	if got := *last.Load(); got != verifyParams || got != h.Params() {
		t.Errorf("DummyVerify derived with %+v; Verify used %+v, hasher has %+v", got, verifyParams, h.Params())
	}
	// Nothing derives to the dummy's all-zero key, not even an empty password.
	if ok, _, _ := h.Verify(t.Context(), "", h.dummy); ok {
		t.Error("the dummy hash matched a password")
	}
}

// TestConcurrencyLimit holds every derivation open and checks that no more
// than MaxConcurrent start, and that waiters take freed slots. synctest.Wait
// returns once every goroutine is blocked, so the counts are exact.
func TestConcurrencyLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, callers = 3, 10
		h := newTestHasher(t, Config{MaxConcurrent: limit})
		enc, err := h.Hash(t.Context(), "pw")
		if err != nil {
			t.Fatal(err)
		}
		var inFlight, peak atomic.Int32
		release := make(chan struct{})
		h.derive = func(password, salt []byte, p Params) []byte {
			n := inFlight.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			<-release
			inFlight.Add(-1)
			return argon2id(password, salt, p)
		}

		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for i := range callers {
			wg.Go(func() {
				var err error
				switch i % 3 {
				case 0:
					_, err = h.Hash(t.Context(), "pw")
				case 1:
					_, _, err = h.Verify(t.Context(), "pw", enc)
				case 2:
					err = h.DummyVerify(t.Context(), "pw")
				}
				errs <- err
			})
		}
		synctest.Wait()
		if got := inFlight.Load(); got != limit {
			t.Fatalf("in flight = %d, want %d", got, limit)
		}
		for done := 1; done <= callers; done++ {
			release <- struct{}{}
			synctest.Wait()
			if got, want := inFlight.Load(), int32(min(limit, callers-done)); got != want {
				t.Fatalf("after %d finished: in flight = %d, want %d", done, got, want)
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("caller: %v", err)
			}
		}
		if got := peak.Load(); got != limit {
			t.Errorf("peak in flight = %d, want %d", got, limit)
		}
	})
}

// TestContextWhileWaiting fills the only slot, then checks that a caller
// waiting for it gives up when its context ends, without deriving anything.
func TestContextWhileWaiting(t *testing.T) {
	ops := map[string]func(context.Context, *Hasher) error{
		"Hash": func(ctx context.Context, h *Hasher) error {
			_, err := h.Hash(ctx, "pw")
			return err
		},
		"Verify": func(ctx context.Context, h *Hasher) error {
			_, _, err := h.Verify(ctx, "pw", refHash)
			return err
		},
		"DummyVerify": func(ctx context.Context, h *Hasher) error {
			return h.DummyVerify(ctx, "pw")
		},
	}
	ends := map[string]struct {
		start func(context.Context) (context.Context, context.CancelFunc)
		want  error
	}{
		"cancel": {context.WithCancel, context.Canceled},
		"deadline": {func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, time.Second)
		}, context.DeadlineExceeded},
	}
	for opName, op := range ops {
		for endName, end := range ends {
			t.Run(opName+"/"+endName, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					h := newTestHasher(t, Config{MaxConcurrent: 1})
					var calls atomic.Int32
					release := make(chan struct{})
					h.derive = func(password, salt []byte, p Params) []byte {
						calls.Add(1)
						<-release
						return argon2id(password, salt, p)
					}
					first := make(chan error, 1)
					go func() {
						_, err := h.Hash(t.Context(), "first")
						first <- err
					}()
					synctest.Wait() // first holds the slot

					ctx, cancel := end.start(t.Context())
					defer cancel()
					second := make(chan error, 1)
					go func() { second <- op(ctx, h) }()
					synctest.Wait() // second waits for the slot
					if endName == "cancel" {
						cancel()
					} // else the fake clock reaches the deadline once all block
					if err := <-second; !errors.Is(err, end.want) {
						t.Errorf("waiting %s = %v, want %v", opName, err, end.want)
					}
					if calls.Load() != 1 {
						t.Errorf("derivations = %d, want 1 (only the first)", calls.Load())
					}
					close(release)
					if err := <-first; err != nil {
						t.Errorf("first Hash: %v", err)
					}
				})
			})
		}
	}
}

func TestContextAlreadyDone(t *testing.T) {
	h := newTestHasher(t, Config{})
	calls, _ := countDerives(h)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash = %v, want context.Canceled", err)
	}
	if ok, _, err := h.Verify(ctx, refPassword, refHash); ok || !errors.Is(err, context.Canceled) {
		t.Errorf("Verify = %v, %v; want false, context.Canceled", ok, err)
	}
	if err := h.DummyVerify(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("DummyVerify = %v, want context.Canceled", err)
	}
	if calls.Load() != 0 {
		t.Errorf("derived %d keys after the context ended", calls.Load())
	}
}

// reportCost adds the figures that matter for sizing a server: wall time per
// derivation and the argon2 memory each one fills (Go's allocation counters
// see the same memory as B/op).
func reportCost(b *testing.B, p Params, n int) {
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(n), "ms/op")
	b.ReportMetric(float64(p.Memory), "argon2-KiB/op")
}

func BenchmarkHashDefault(b *testing.B) {
	h, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := h.Hash(b.Context(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportCost(b, h.Params(), n)
}

func BenchmarkVerifyDefault(b *testing.B) {
	h, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	enc, err := h.Hash(b.Context(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		ok, _, err := h.Verify(b.Context(), "correct horse battery staple", enc)
		if err != nil || !ok {
			b.Fatalf("Verify = %v, %v", ok, err)
		}
		n++
	}
	reportCost(b, h.Params(), n)
}
