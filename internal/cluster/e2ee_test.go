package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/client/e2eeclient"
	"github.com/unhidra/unhidra/internal/cluster"
)

// TestEncryptedAcrossNodes: an encrypted DM and an encrypted channel
// whose members are signed in to different nodes. Sessions are set up from
// bundles fetched through one node for clients registered through the
// other, sender keys travel in the to-device inbox across nodes, and every
// install ends with every message decrypted.
func TestEncryptedAcrossNodes(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Nodes: 2, Bus: natsURL,
		Args: []string{"--rate-keys-fetch=0", "--rate-keys-fetch-user=0", "--rate-to-device=0"}})
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	open := func(n *cluster.Node, name, setup string) *e2eeclient.Client {
		t.Helper()
		api := account(t, ctx, n, name, setup)
		e, err := e2eeclient.Open(ctx, api, filepath.Join(t.TempDir(), "keys"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	alice := open(c.Nodes[0], "alice", c.Token())
	bob := open(c.Nodes[1], "bob", "")
	carol := open(c.Nodes[1], "carol", "")
	all := []*e2eeclient.Client{alice, bob, carol}

	dm, _, err := alice.API().CreateDM(ctx, []string{bob.UserID()}, true)
	if err != nil || !dm.Encrypted {
		t.Fatalf("dm: %+v %v", dm, err)
	}
	enc := true
	ch, err := alice.API().CreateChannel(ctx, client.CreateChannelInput{Name: "ops", Kind: unhidra.ChannelPrivate, Encrypted: &enc})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{bob.UserID(), carol.UserID()} {
		if _, _, err := alice.API().AddMember(ctx, ch.ID, u); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]map[string]string{dm.ID: {}, ch.ID: {}}
	for i := range 3 {
		for _, s := range []struct {
			from *e2eeclient.Client
			ch   string
		}{{alice, dm.ID}, {bob, dm.ID}, {alice, ch.ID}, {bob, ch.ID}, {carol, ch.ID}} {
			text := fmt.Sprintf("secret-%s-%d", s.from.UserID()[:8], i)
			m, err := s.from.Send(ctx, s.ch, text)
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			want[s.ch][m.ID] = text
		}
	}
	members := map[string][]*e2eeclient.Client{dm.ID: {alice, bob}, ch.ID: all}
	for round := 0; ; round++ {
		missing := 0
		for chID, cs := range members {
			for _, e := range cs {
				page, err := e.API().Messages(ctx, chID, client.MessagesOptions{Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range page.Messages {
					d, err := e.Decrypt(ctx, m)
					switch {
					case errors.Is(err, e2eeclient.ErrKeyPending):
						missing++
					case err != nil:
						t.Fatalf("decrypt on %s: %v", e.UserID(), err)
					case d.Body != want[chID][m.ID]:
						t.Fatalf("%s read %q, want %q", e.UserID(), d.Body, want[chID][m.ID])
					}
				}
				if len(page.Messages) != len(want[chID]) {
					t.Fatalf("%d messages in %s, want %d", len(page.Messages), chID, len(want[chID]))
				}
			}
		}
		if missing == 0 {
			break
		}
		if round == 5 {
			t.Fatalf("%d messages still undecryptable after %d rounds", missing, round)
		}
		for _, e := range all {
			if _, err := e.Sync(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, e := range all {
		if n, err := e.Undecryptable(); err != nil || n != 0 {
			t.Fatalf("%s: %d undecryptable (%v)", e.UserID(), n, err)
		}
	}
}

// TestDisappearingAcrossNodes: a timer set through node 0 applies to
// messages sent through node 1, and once they expire the sweep (which
// every node runs) leaves none of them readable through either node.
func TestDisappearingAcrossNodes(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Nodes: 2, Bus: natsURL})
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	alice := account(t, ctx, c.Nodes[0], "alice", c.Token())
	bob := account(t, ctx, c.Nodes[1], "bob", "")
	ch, err := alice.CreateChannel(ctx, client.CreateChannelInput{Name: "brief", Kind: unhidra.ChannelPublic})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Join(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	if st := send(t, "PUT", c.Nodes[0].URL+"/api/v1/channels/"+ch.ID+"/disappearing", alice.Tokens().AccessToken,
		map[string]int{"disappear_after_s": 1}, nil); st != 200 {
		t.Fatalf("set the timer: %d", st)
	}
	var sent []*unhidra.Message
	for i := range 5 {
		m, err := bob.Send(ctx, &unhidra.SendInput{ChannelID: ch.ID, ClientMsgID: fmt.Sprint("d", i), Body: fmt.Sprint("gone soon ", i)})
		if err != nil {
			t.Fatal(err)
		}
		if m.ExpiresAt == nil {
			t.Fatalf("message %d has no expires_at", i)
		}
		sent = append(sent, m)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, u := range []*client.Client{alice, bob} {
		for {
			page, err := u.Messages(ctx, ch.ID, client.MessagesOptions{Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			left := 0
			for _, m := range page.Messages {
				if !m.Deleted && m.Body != "" {
					left++
				}
			}
			if left == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d messages still readable 30 s after they expired", left, len(sent))
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}
