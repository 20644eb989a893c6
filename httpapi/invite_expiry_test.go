package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/testserver"
)

// TestInviteExpiryRange: expires_in_s is range-checked before it becomes a
// duration. 18446744074 s overflowed time.Duration into a fraction of a
// second and made an invite that had expired by the time anyone used it.
func TestInviteExpiryRange(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			n := testserver.Start(t, testserver.Config(t, engine))
			bootstrapAdmin(t, n, "alice", adminPW)
			admin := login(t, n, "alice", adminPW)
			create := func(v any) *call {
				return newCall(t, n, "POST", "/api/v1/invites").bearer(admin.AccessToken).json(map[string]any{"expires_in_s": v})
			}
			for _, v := range []any{18446744074, 9223372037, 31536001, -1, 1e300} {
				create(v).expectError(400, "invalid_argument")
			}
			var list struct{ Invites []any }
			newCall(t, n, "GET", "/api/v1/invites").bearer(admin.AccessToken).expect(200, &list)
			if len(list.Invites) != 0 {
				t.Fatalf("refused requests made invites: %+v", list.Invites)
			}
			var out struct {
				Invite struct {
					ExpiresAt time.Time `json:"expires_at"`
				}
			}
			if doc := newCall(t, n, "GET", "/api/v1/openapi.json").expect(200, nil); !strings.Contains(string(doc.Body), `"maximum": 31536000`) {
				t.Fatal("the OpenAPI document does not state the maximum of expires_in_s")
			}
			create(31536000).expect(201, &out)
			if d := time.Until(out.Invite.ExpiresAt); d < 364*24*time.Hour || d > 366*24*time.Hour {
				t.Fatalf("an invite for 365 days expires in %s", d)
			}
		})
	}
}
