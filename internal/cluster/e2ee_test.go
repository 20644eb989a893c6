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
