package e2eeclient_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/client/e2eeclient"
	"github.com/unhidra/unhidra/internal/testserver"
)

func node(t *testing.T, engine string) *testserver.Node {
	cfg := testserver.Config(t, engine)
	cfg.RateKeysFetch.N, cfg.RateKeysFetchUser.N, cfg.RateToDevice.N = 0, 0, 0
	return testserver.Start(t, cfg)
}

func login(t *testing.T, url, user, pass string, register bool) *client.Client {
	t.Helper()
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	if register {
		if _, err := c.Register(t.Context(), client.RegisterInput{Username: user, Password: pass}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Login(t.Context(), user, pass); err != nil {
		t.Fatal(err)
	}
	return c
}

func install(t *testing.T, api *client.Client) *e2eeclient.Client {
	t.Helper()
	dir := t.TempDir()
	c, err := e2eeclient.Open(t.Context(), api, filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// user makes an account with two installs, the second verified by the first.
func user(t *testing.T, url, name string) [2]*e2eeclient.Client {
	pass := "correct horse battery staple " + fmt.Sprint(len(name))
	a := install(t, login(t, url, name, pass, true))
	b := install(t, login(t, url, name, pass, false))
	if err := a.VerifyOwnClient(t.Context(), b.ClientID()); err != nil {
		t.Fatal(err)
	}
	return [2]*e2eeclient.Client{a, b}
}

// readAll makes an install read a channel's whole history, syncing its
// inbox until every message decrypts (or rounds run out).
func readAll(t *testing.T, ctx context.Context, c *e2eeclient.Client, channelID string, reverse bool) map[string]string {
	t.Helper()
	page, err := c.API().Messages(ctx, channelID, client.MessagesOptions{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	msgs := page.Messages
	if reverse {
		for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
			msgs[i], msgs[j] = msgs[j], msgs[i]
		}
	}
	out := map[string]string{}
	for _, m := range msgs {
		d, err := c.Decrypt(ctx, m)
		if errors.Is(err, e2eeclient.ErrKeyPending) {
			continue
		}
		if err != nil {
			t.Fatalf("decrypt %s: %v", m.ID, err)
		}
		out[m.ID] = d.Body
	}
	return out
}

// settle lets every install handle its inbox a few rounds: key requests
// go out, are answered, and the answers arrive.
func settle(t *testing.T, ctx context.Context, all ...*e2eeclient.Client) {
	t.Helper()
	for range 4 {
		for _, c := range all {
			if _, err := c.Sync(ctx); err != nil {
				t.Fatalf("sync %s: %v", c.ClientID(), err)
			}
		}
	}
}

// drop acknowledges an install's to-device messages unread, as if lost.
func drop(t *testing.T, ctx context.Context, c *e2eeclient.Client) int {
	t.Helper()
	msgs, _, err := c.API().ToDeviceMessages(ctx, c.ClientID(), "", 200)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.ID)
	}
	if len(ids) > 0 {
		if _, err := c.API().AckToDevice(ctx, c.ClientID(), ids); err != nil {
			t.Fatal(err)
		}
	}
	return len(ids)
}

func TestEncryptedConversation(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) { conversation(t, engine) })
	}
}

func conversation(t *testing.T, engine string) {
	n := node(t, engine)
	ctx := t.Context()
	alice, bob := user(t, n.URL, "alice"), user(t, n.URL, "bob")
	carol := user(t, n.URL, "carol")
	all := []*e2eeclient.Client{alice[0], alice[1], bob[0], bob[1], carol[0], carol[1]}

	dm, _, err := alice[0].API().CreateDM(ctx, []string{bob[0].UserID()}, true)
	if err != nil || !dm.Encrypted {
		t.Fatalf("dm: %+v %v", dm, err)
	}
	enc := true
	ch, err := alice[0].API().CreateChannel(ctx, client.CreateChannelInput{Name: "secret", Kind: unhidra.ChannelPrivate, Encrypted: &enc})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{bob[0].UserID(), carol[0].UserID()} {
		if _, _, err := alice[0].API().AddMember(ctx, ch.ID, u); err != nil {
			t.Fatal(err)
		}
	}

	want := map[string]map[string]string{dm.ID: {}, ch.ID: {}}
	send := func(c *e2eeclient.Client, channel, text string) {
		t.Helper()
		m, err := c.Send(ctx, channel, text)
		if err != nil {
			t.Fatalf("send %q: %v", text, err)
		}
		want[channel][m.ID] = text
	}
	for i := range 3 {
		send(alice[0], dm.ID, fmt.Sprintf("plaintext-dm-alice0-%d", i))
		send(bob[1], dm.ID, fmt.Sprintf("plaintext-dm-bob1-%d", i))
		send(alice[1], ch.ID, fmt.Sprintf("plaintext-ch-alice1-%d", i))
		send(carol[0], ch.ID, fmt.Sprintf("plaintext-ch-carol0-%d", i))
	}
	// bob's second install loses everything sent to it so far: every
	// sender key must come again through key requests.
	if drop(t, ctx, bob[1]) == 0 {
		t.Fatal("nothing to drop")
	}
	send(bob[0], ch.ID, "plaintext-ch-bob0-late")

	// A retried send posts the exact same ciphertext: the same message,
	// no 409 for a changed body.
	in, err := alice[0].Prepare(ctx, dm.ID, "plaintext-dm-retried")
	if err != nil {
		t.Fatal(err)
	}
	m1, err := alice[0].Post(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := alice[0].API().Send(ctx, in)
	if err != nil || m2.ID != m1.ID {
		t.Fatalf("retry: %+v %v", m2, err)
	}
	want[dm.ID][m1.ID] = "plaintext-dm-retried"

	members := map[string][]*e2eeclient.Client{dm.ID: {alice[0], alice[1], bob[0], bob[1]}, ch.ID: all}
	for round := 0; ; round++ {
		missing := 0
		for chID, cs := range members {
			for i, c := range cs {
				got := readAll(t, ctx, c, chID, i%2 == 1) // some read newest first
				for id, text := range want[chID] {
					if got[id] != text {
						missing++
					}
				}
			}
		}
		if missing == 0 {
			break
		}
		if round == 3 {
			t.Fatalf("%d messages still undecryptable", missing)
		}
		settle(t, ctx, all...)
	}
	for _, c := range all {
		if n, err := c.Undecryptable(); err != nil || n != 0 {
			t.Fatalf("%s: %d undecryptable (%v)", c.ClientID(), n, err)
		}
	}

	// carol is removed: the next message rotates the sender key, and
	// carol can read nothing sent after, even by asking for the key.
	if err := alice[0].API().RemoveMember(ctx, ch.ID, carol[0].UserID()); err != nil {
		t.Fatal(err)
	}
	after, err := alice[1].Send(ctx, ch.ID, "plaintext-after-removal")
	if err != nil {
		t.Fatal(err)
	}
	settle(t, ctx, all...)
	for _, c := range carol {
		if d, err := c.Decrypt(ctx, after); err == nil {
			t.Fatalf("removed member read %q", d.Body)
		}
	}
	settle(t, ctx, all...)
	for _, c := range []*e2eeclient.Client{bob[0], bob[1], alice[0]} {
		d, err := c.Decrypt(ctx, after)
		if err != nil || d.Body != "plaintext-after-removal" {
			t.Fatalf("%s after removal: %+v %v", c.ClientID(), d, err)
		}
	}

	// The key files are the owner's alone.
	if engine == "sqlite" {
		n.Stop()
		noPlaintext(t, n.Config.DataDir, "plaintext-")
	}
}

// noPlaintext reads every file the server keeps (its database with WAL,
// its logs) and fails if any holds the plaintext marker.
func noPlaintext(t *testing.T, dir, marker string) {
	t.Helper()
	files := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files++
		if bytes.Contains(b, []byte(marker)) {
			t.Errorf("%s holds plaintext", p)
		}
		return nil
	})
	if files == 0 {
		t.Fatal("no server files read")
	}
}
