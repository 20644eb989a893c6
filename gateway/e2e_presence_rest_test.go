package gateway_test

import (
	"testing"
	"time"
)

// TestChannelPresenceREST: a member reads the presence of a channel's
// members (those with a socket, with the status they chose); someone who is
// not a member gets 404, as for every channel they may not see.
func TestChannelPresenceREST(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		n := startNode(t, engine, nil)
		a, b, c := newAccount(t, n, false), newAccount(t, n, false), newAccount(t, n, false)
		ch := newChannel(t, n, a, b)
		wb := dial(t, n, b.Token)
		ready(wb)
		wb.send(map[string]any{"type": "presence", "status": "dnd"})

		var got struct {
			Presence map[string]string `json:"presence"`
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			api(t, n, "GET", "/api/v1/channels/"+ch+"/presence", a.Token, nil, 200, &got)
			if got.Presence[b.ID] == "dnd" || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got.Presence[b.ID] != "dnd" {
			t.Fatalf("presence of b = %q, want dnd (all: %v)", got.Presence[b.ID], got.Presence)
		}
		if s, ok := got.Presence[a.ID]; ok {
			t.Fatalf("a has no socket but is listed as %q", s)
		}
		// Not a member: the channel does not exist for them.
		api(t, n, "GET", "/api/v1/channels/"+ch+"/presence", c.Token, nil, 404, nil)
		api(t, n, "GET", "/api/v1/channels/"+ch+"/presence", "", nil, 401, nil)
	})
}
