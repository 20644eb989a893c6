package gateway_test

import (
	"bytes"
	"encoding/base64"
	"testing"
	"time"

	"github.com/unhidra/unhidra/config"
	"github.com/unhidra/unhidra/internal/testserver"
)

func b64(b byte, n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, n)) }

func clientKeys(b byte) map[string]any {
	return map[string]any{
		"identity_key": b64(b, 32), "signing_key": b64(b+1, 32), "identity_sig": b64(b+2, 64),
		"signed_prekey": map[string]any{"id": 1, "key": b64(b+3, 32), "sig": b64(b+4, 64)},
	}
}

// bound signs in as a and registers clientID from that session, then
// refreshes: the returned account's token carries the client_id claim.
func bound(t *testing.T, n *testserver.Node, a account, clientID string, b byte, want int) account {
	t.Helper()
	var lr struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	api(t, n, "POST", "/api/v1/auth/login", "", map[string]string{"username": a.Name, "password": passwordFor(a.Name)}, 200, &lr)
	api(t, n, "PUT", "/api/v1/keys/clients/"+clientID, lr.AccessToken, clientKeys(b), want, nil)
	api(t, n, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": lr.RefreshToken}, 200, &lr)
	a.Token = lr.AccessToken
	return a
}

type toDeviceFrame struct {
	ID, FromUser, FromClient, Ciphertext string
}

func (w *wsClient) toDevice() toDeviceFrame {
	w.t.Helper()
	f := w.expect("to_device", "presence")
	var m struct {
		ID         string `json:"id"`
		FromUser   string `json:"from_user"`
		FromClient string `json:"from_client"`
		Ciphertext string `json:"ciphertext"`
	}
	if err := jsonUnmarshal(f.raw, &m); err != nil || m.ID == "" {
		w.t.Fatalf("to_device frame %s: %v", f.raw, err)
	}
	return toDeviceFrame{m.ID, m.FromUser, m.FromClient, m.Ciphertext}
}

func sendToDevice(t *testing.T, n *testserver.Node, from account, to account, clientID string, cts ...string) []string {
	t.Helper()
	var msgs []any
	for _, ct := range cts {
		msgs = append(msgs, map[string]any{"user_id": to.ID, "client_id": clientID, "ciphertext": ct})
	}
	var out struct{ IDs []string }
	api(t, n, "POST", "/api/v1/to-device", from.Token, map[string]any{"messages": msgs}, 201, &out)
	return out.IDs
}

func inboxIDs(t *testing.T, n *testserver.Node, a account) []string {
	t.Helper()
	var out struct {
		Messages []struct{ ID string }
	}
	api(t, n, "GET", "/api/v1/to-device?limit=200", a.Token, nil, 200, &out)
	var ids []string
	for _, m := range out.Messages {
		ids = append(ids, m.ID)
	}
	return ids
}

// TestToDeviceDelivery: to-device messages reach every socket of their
// client live, stay until acknowledged (a reconnect replays what was not),
// and an ack frame deletes them; a socket whose token names no client gets
// none until an auth frame brings a token that does.
func TestToDeviceDelivery(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		n := startNode(t, engine, func(c *config.Config) { c.RateKeysFetch.N, c.RateToDevice.N = 0, 0 })
		alice, bob := newAccount(t, n, true), newAccount(t, n, false)
		alice = bound(t, n, alice, "a1", 10, 201)
		bob = bound(t, n, bob, "b1", 20, 201)

		w1, w2 := dial(t, n, bob.Token), dial(t, n, bob.Token)
		ready(w1)
		ready(w2)
		ids := sendToDevice(t, n, alice, bob, "b1", "AAEC", "AwQF")
		for _, w := range []*wsClient{w1, w2} {
			for i, want := range []string{"AAEC", "AwQF"} {
				m := w.toDevice()
				if m.ID != ids[i] || m.FromUser != alice.ID || m.FromClient != "a1" || m.Ciphertext != want {
					t.Fatalf("frame %d = %+v, want %s from alice's a1", i, m, want)
				}
			}
		}
		// Alice's own socket (another client) hears none of it.
		wa := dial(t, n, alice.Token)
		ready(wa)
		w1.send(map[string]any{"type": "to_device_ack", "ids": []string{ids[0]}})
		w1.send(map[string]any{"type": "ping"})
		w1.expect("pong", "presence")
		if got := inboxIDs(t, n, bob); len(got) != 1 || got[0] != ids[1] {
			t.Fatalf("inbox after one ack = %v, want [%s]", got, ids[1])
		}
		wa.quiet(200*time.Millisecond, "presence")

		// A reconnect replays what is still unacknowledged, and only that.
		w1.c.CloseNow()
		w3 := dial(t, n, bob.Token)
		w3.expect("hello")
		if m := w3.toDevice(); m.ID != ids[1] {
			t.Fatalf("replayed %+v, want %s", m, ids[1])
		}
		w3.send(map[string]any{"type": "to_device_ack", "ids": []string{ids[1]}})
		w3.send(map[string]any{"type": "ping"})
		w3.expect("pong", "presence")
		if got := inboxIDs(t, n, bob); len(got) != 0 {
			t.Fatalf("inbox after acks = %v", got)
		}

		// A token with no client: nothing delivered, an ack is refused;
		// after an auth frame with a bound token, the replay comes.
		plain := login(t, n, bob.Name, passwordFor(bob.Name))
		w4 := dial(t, n, plain.Token)
		ready(w4)
		w4.send(map[string]any{"type": "to_device_ack", "ids": []string{"x"}, "ref": "r1"})
		if e := w4.expect("error", "presence"); e.Code != "invalid_argument" || e.Ref != "r1" {
			t.Fatalf("ack on an unbound socket: %s", e.raw)
		}
		later := sendToDevice(t, n, alice, bob, "b1", "BwgJ")
		w4.quiet(300*time.Millisecond, "presence")
		again := bound(t, n, bob, "b1", 20, 200) // the same keys: no change, binds the new session
		w4.send(map[string]any{"type": "auth", "access_token": again.Token})
		if m := w4.toDevice(); m.ID != later[0] {
			t.Fatalf("after auth: %+v, want %s", m, later[0])
		}
	})
}

// TestToDeviceReplayIsPaged: a client coming back to a full inbox of large
// messages gets every one exactly once, a page at a time as it
// acknowledges, without its socket overflowing.
func TestToDeviceReplayIsPaged(t *testing.T) {
	n := startNode(t, "sqlite", func(c *config.Config) { c.RateToDevice.N = 0 })
	alice, bob := newAccount(t, n, true), newAccount(t, n, false)
	alice = bound(t, n, alice, "a1", 10, 201)
	bob = bound(t, n, bob, "b1", 20, 201)
	const total = 240
	var sent []string
	for i := 0; i < total; i += 30 {
		cts := make([]string, 30)
		for j := range cts {
			cts[j] = b64(byte(i+j), 24<<10) // 32 KiB of base64 each, 7.5 MiB in all
		}
		sent = append(sent, sendToDevice(t, n, alice, bob, "b1", cts...)...)
	}
	w := dial(t, n, bob.Token)
	w.expect("hello")
	got := map[string]bool{}
	for len(got) < total {
		m := w.toDevice()
		if got[m.ID] {
			t.Fatalf("%s delivered twice", m.ID)
		}
		got[m.ID] = true
		w.send(map[string]any{"type": "to_device_ack", "ids": []string{m.ID}})
	}
	for _, id := range sent {
		if !got[id] {
			t.Fatalf("%s never delivered", id)
		}
	}
	w.send(map[string]any{"type": "ping"})
	w.expect("pong", "presence")
	if left := inboxIDs(t, n, bob); len(left) != 0 {
		t.Fatalf("%d left after acking all", len(left))
	}
}

// TestKeysChangedFrame: a user's key change reaches the sockets of users
// who share a channel with them, as keys_changed on that channel.
func TestKeysChangedFrame(t *testing.T) {
	n := startNode(t, "sqlite", nil)
	alice, carol, dave := newAccount(t, n, true), newAccount(t, n, false), newAccount(t, n, false)
	ch := newChannel(t, n, alice, carol)
	wc, wd := dial(t, n, carol.Token), dial(t, n, dave.Token)
	ready(wc)
	ready(wd)
	api(t, n, "PUT", "/api/v1/keys/clients/a-new", alice.Token, clientKeys(1), 201, nil)
	f := wc.expect("keys_changed", "presence")
	var kc struct {
		ChannelID string `json:"channel_id"`
		UserID    string `json:"user_id"`
		ClientID  string `json:"client_id"`
	}
	if err := jsonUnmarshal(f.raw, &kc); err != nil || kc.ChannelID != ch || kc.UserID != alice.ID || kc.ClientID != "a-new" {
		t.Fatalf("keys_changed = %s", f.raw)
	}
	// The same registration again is no change.
	api(t, n, "PUT", "/api/v1/keys/clients/a-new", alice.Token, clientKeys(1), 200, nil)
	api(t, n, "PUT", "/api/v1/keys/clients/a-new", alice.Token, clientKeys(5), 200, nil)
	if f := wc.expect("keys_changed", "presence"); f.UserID != alice.ID {
		t.Fatalf("after the identity change: %s", f.raw)
	}
	wc.quiet(200*time.Millisecond, "presence")
	wd.quiet(100*time.Millisecond, "presence") // dave shares no channel with alice
}
