package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/unhidra/unhidra/internal/testserver"
)

// TestNoLockoutFromManyNetworks is the distributed attack on one account:
// wrong passwords from more than 64 distinct IPv6 /64 networks, going on
// while the real user logs in. The real user, from a network that has not
// failed, gets in every time; with the device token of an earlier login
// they get in even from a network that did fail; the attacker's networks,
// meanwhile, are refused.
func TestNoLockoutFromManyNetworks(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			cfg := testserver.Config(t, engine)
			cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
			n := testserver.Start(t, cfg)
			register(t, n, "bob", bobPW)

			// An earlier login, from a network the attack will use too.
			const attacked = "2001:db8:0:7::5"
			var first struct {
				DeviceToken string `json:"device_token"`
			}
			if r := loginFrom(t, n, attacked, "bob", bobPW); r.Status != 200 {
				t.Fatalf("first login: %d %s", r.Status, r.Body)
			} else if json.Unmarshal(r.Body, &first); false {
				t.Fatalf("login gave no device_token: %s", r.Body)
			}

			// Guesses run 32 at a time: a guess from a fresh network is made
			// to wait (up to 1 s) rather than refused, so a serial attack
			// would mostly measure that wait.
			network := 0
			attack := func(guesses int) (refused int) {
				var mu sync.Mutex
				var wg sync.WaitGroup
				sem := make(chan struct{}, 32)
				for range guesses {
					ip := fmt.Sprintf("2001:db8:0:%x::1", network) // a /64 per guess
					pw := fmt.Sprintf("guess %d", network)
					network++
					wg.Add(1)
					sem <- struct{}{}
					go func() {
						defer func() { <-sem; wg.Done() }()
						r := loginFrom(t, n, ip, "bob", pw)
						mu.Lock()
						defer mu.Unlock()
						switch r.Status {
						case 401:
						case 429:
							refused++
						default:
							t.Errorf("guess from %s: %d %s", ip, r.Status, r.Body)
						}
					}()
				}
				wg.Wait()
				return refused
			}
			attack(64) // 64 networks

			for i := range 4 {
				if i == 2 {
					attack(8) // the attack goes on
				}
				if r := loginFrom(t, n, "2001:db8:beef:1::1", "bob", bobPW); r.Status != 200 {
					t.Fatalf("real user from an untouched network, attempt %d: %d %s", i+1, r.Status, r.Body)
				}
			}
			device := first.DeviceToken
			for i := range 4 {
				if i == 2 {
					attack(8)
				}
				c := newCall(t, n, "POST", "/api/v1/auth/login").with("X-Forwarded-For", attacked).
					json(map[string]string{"username": "bob", "password": bobPW, "device_token": device})
				r := c.do()
				if r.Status != 200 {
					t.Fatalf("real user with a device token from an attacked network, attempt %d: %d %s", i+1, r.Status, r.Body)
				}
				var out struct {
					DeviceToken string `json:"device_token"`
				}
				json.Unmarshal(r.Body, &out)
				device = out.DeviceToken
			}
			// A browser's device token travels in its cookie.
			r := newCall(t, n, "POST", "/api/v1/auth/login").with("X-Forwarded-For", attacked).
				json(map[string]any{"username": "bob", "password": bobPW, "cookie": true}).
				with("Cookie", "unhidra_device="+device).do()
			if r.Status != 200 {
				t.Fatalf("browser with a device cookie from an attacked network: %d %s", r.Status, r.Body)
			}

			// The attack itself is held back: a network that has failed is
			// refused while the account is under attack, and without a device
			// token so is the real user's password from there.
			network = 0
			if refused := attack(20); refused == 0 {
				t.Fatal("attacker networks that failed before were never refused")
			}
			if r := loginFrom(t, n, attacked, "bob", bobPW); r.Status != 429 {
				t.Fatalf("right password from an attacked network without a device token: %d, want 429", r.Status)
			}
		})
	}
}
