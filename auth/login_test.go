package auth_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/auth/password"
	"github.com/unhidra/unhidra/auth/token"
	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/ratelimit"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/authstore"
	"github.com/unhidra/unhidra/store/ratestore"
)

const (
	bobPW   = "correct horse battery 42"
	carolPW = "tulip harbor lantern 7"
)

// waits records the delays the service asked for instead of sleeping them.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) wait(_ context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return nil
}

func (w *waits) take() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.d
	w.d = nil
	return d
}

// newService is the account service over a real store on engine, with the
// login backoffs the server uses (server.NewAuth).
func newService(t *testing.T, engine string, now func() time.Time, w *waits) *auth.Service {
	t.Helper()
	url := testenv.SQLiteURL(t)
	if engine == "postgres" {
		url = testenv.PostgresURL(t)
	}
	db, err := store.Open(t.Context(), url, store.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, err := token.LoadOrCreate(t.TempDir(), time.Now(), token.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := token.NewIssuer(token.Config{Keys: keys, Issuer: "test", Audience: "test", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	h, err := password.New(password.Config{})
	if err != nil {
		t.Fatal(err)
	}
	per := ratelimit.BackoffOptions{Max: 5 * time.Minute}
	// The backoffs keep real time, as the server's do: now moves only the
	// service's clock (token lifetimes), not the failures' memory.
	rates := ratestore.New(db, ratestore.Options{})
	s := auth.New(auth.Config{
		Store: authstore.New(db), Hasher: h, Tokens: iss,
		AccountBackoff: rates.Backoff("login-network", per),
		DeviceBackoff:  rates.Backoff("login-device", per),
		GlobalBackoff:  rates.Backoff("login-account", ratelimit.BackoffOptions{Free: 20, Max: 30 * time.Second}),
		DeviceKey:      []byte("0123456789abcdef0123456789abcdef"),
		Now:            now,
		Wait:           w.wait,
	})
	if _, err := s.Register(t.Context(), auth.RegisterInput{Username: "bob", Password: bobPW}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(t.Context(), auth.RegisterInput{Username: "carol", Password: carolPW}); err != nil {
		t.Fatal(err)
	}
	return s
}

func from(network string) auth.ClientMeta {
	return auth.ClientMeta{IP: network + "1", NetworkKey: network + "/64"}
}

// attack fails logins to bob from n distinct /64 networks, in parallel.
func attack(t *testing.T, s *auth.Service, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := s.Login(t.Context(), "bob", fmt.Sprintf("guess %d", i), from(fmt.Sprintf("2001:db8:0:%x::", i)))
			if c := unhidra.ErrorCode(err); c != unhidra.EUnauthenticated && c != unhidra.ERateLimited {
				t.Errorf("guess %d: %v", i, err)
			}
		})
	}
	wg.Wait()
}

// TestLoginUnderDistributedAttack: with failures spread over 64 networks,
// the real user is never refused from a network with no failures of its
// own, and waits at most 1 s per attempt there; with a device token they
// are neither refused nor delayed, even from a network that failed; a
// network that failed, without a device token, is refused. The delays are
// recorded, not slept. One engine suffices here (store/ratestore's tests
// hold both to the same backoff decisions); httpapi's
// TestNoLockoutFromManyNetworks runs the same attack end to end on both.
func TestLoginUnderDistributedAttack(t *testing.T) {
	for _, engine := range []string{"sqlite"} {
		t.Run(engine, func(t *testing.T) {
			w := &waits{}
			s := newService(t, engine, nil, w)
			attacked := from("2001:db8:0:7::")
			first, err := s.Login(t.Context(), "bob", bobPW, attacked)
			if err != nil || first.DeviceToken == "" {
				t.Fatalf("first login: %v, device token %q", err, first.DeviceToken)
			}
			attack(t, s, 64)
			w.take()

			for i := range 5 {
				if _, err := s.Login(t.Context(), "bob", bobPW, from("2001:db8:beef:1::")); err != nil {
					t.Fatalf("real user from an untouched network, attempt %d: %v", i+1, err)
				}
			}
			ws := w.take()
			if len(ws) == 0 {
				t.Fatal("the account-wide backoff never delayed anyone under attack")
			}
			for _, d := range ws {
				if d <= 0 || d > time.Second {
					t.Fatalf("delay %s: want at most 1s", d)
				}
			}

			dev := first.DeviceToken
			for i := range 5 {
				p, err := s.Login(t.Context(), "bob", bobPW, auth.ClientMeta{IP: attacked.IP, NetworkKey: attacked.NetworkKey, DeviceToken: dev})
				if err != nil {
					t.Fatalf("real user with a device token from an attacked network, attempt %d: %v", i+1, err)
				}
				dev = p.DeviceToken
			}
			if ws := w.take(); len(ws) > 0 {
				t.Fatalf("a login with a device token was delayed: %v", ws)
			}

			// Without a device token the attacked network waits its turn.
			if _, err := s.Login(t.Context(), "bob", bobPW, attacked); unhidra.ErrorCode(err) != unhidra.ERateLimited {
				t.Fatalf("attacked network without a device token: %v, want rate_limited", err)
			}
			// A device token counts only for its own account, only as
			// issued, and only for its lifetime.
			carol, err := s.Login(t.Context(), "carol", carolPW, from("2001:db8:cccc::"))
			if err != nil {
				t.Fatal(err)
			}
			forged := []byte(dev)
			forged[len(forged)-2] ^= 1
			for name, tok := range map[string]string{"other_account": carol.DeviceToken, "forged": string(forged), "garbage": "uhd_x", "refresh_token": first.RefreshToken} {
				meta := attacked
				meta.DeviceToken = tok
				if _, err := s.Login(t.Context(), "bob", bobPW, meta); unhidra.ErrorCode(err) != unhidra.ERateLimited {
					t.Errorf("%s as device token from an attacked network: %v, want rate_limited", name, err)
				}
			}
		})
	}
}

// TestDeviceTokenExpires: a device token stops counting after its lifetime.
func TestDeviceTokenExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	w := &waits{}
	s := newService(t, "sqlite", clock, w)
	attacked := from("2001:db8:0:7::")
	first, err := s.Login(t.Context(), "bob", bobPW, attacked)
	if err != nil {
		t.Fatal(err)
	}
	attack(t, s, 24) // past the account-wide key's 20 free failures
	mu.Lock()
	now = now.Add(auth.DefaultDeviceTokenTTL + time.Hour)
	mu.Unlock()
	meta := attacked
	meta.DeviceToken = first.DeviceToken
	if _, err := s.Login(t.Context(), "bob", bobPW, meta); unhidra.ErrorCode(err) != unhidra.ERateLimited {
		t.Fatalf("expired device token from an attacked network: %v, want rate_limited", err)
	}
}
