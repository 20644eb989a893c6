package httpapi_test

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/unhidra/unhidra/internal/testserver"
)

// TestDisabledAccountHidesPassword: logging in to a disabled account gives
// the same answer with the right password as with a wrong one, and counts
// the same way in the login backoff, so neither the answer nor the backoff
// tells a guesser that a guess was right.
func TestDisabledAccountHidesPassword(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			cfg := testserver.Config(t, engine)
			cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
			n := testserver.Start(t, cfg)
			bootstrapAdmin(t, n, "alice", adminPW)
			bob := register(t, n, "bob", bobPW)
			admin := login(t, n, "alice", adminPW)
			newCall(t, n, "PATCH", "/api/v1/admin/users/"+bob.ID).bearer(admin.AccessToken).json(map[string]any{"disabled": true}).expect(200, nil)

			// Two networks, one guessing right every time, one wrong; each
			// answer must match the other's, including when backoff starts.
			for i := 0; i < 8; i++ {
				right := loginFrom(t, n, "198.51.100.1", "bob", bobPW)
				wrong := loginFrom(t, n, "203.0.113.1", "bob", "wrong guess "+strconv.Itoa(i))
				if right.Status != wrong.Status || string(right.Body) != string(wrong.Body) {
					t.Fatalf("attempt %d: right password %d %s, wrong password %d %s", i, right.Status, right.Body, wrong.Status, wrong.Body)
				}
				if right.Status != 401 && right.Status != 429 {
					t.Fatalf("attempt %d: status %d %s", i, right.Status, right.Body)
				}
			}
		})
	}
}
