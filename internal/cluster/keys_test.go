package cluster_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/cluster"
)

// TestKeysThroughTheDatabase: nodes that share no key directory, only the
// database and the key-encryption key, accept each other's tokens and
// setup token; a node given another key-encryption key refuses to start
// and says what to do.
func TestKeysThroughTheDatabase(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Nodes: 2, Bus: natsURL})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	n0, n1 := c.Nodes[0], c.Nodes[1]
	setup := c.Token()
	if setup == "" {
		t.Fatal("node 0 logged no setup token")
	}

	// Node 0's setup token makes the admin through node 1, once.
	pw := "a long admin passphrase"
	post(t, n1.URL+"/api/v1/auth/register", map[string]any{"username": "ops", "password": pw, "setup_token": setup}, 201)
	post(t, n0.URL+"/api/v1/auth/register", map[string]any{"username": "ops2", "password": pw, "setup_token": setup}, 403) // spent, as on one node

	// A token node 0 issues is good on node 1.
	login := post(t, n0.URL+"/api/v1/auth/login", map[string]any{"username": "ops", "password": pw}, 200)
	tok, _ := login["access_token"].(string)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n1.URL+"/api/v1/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("node 1 refused node 0's token: %d", res.StatusCode)
	}

	// A third node with another key-encryption key cannot open the keys.
	other := make([]byte, 32)
	rand.Read(other)
	bad, err := c.TryStart(base64.StdEncoding.EncodeToString(other))
	if err == nil {
		t.Fatal("a node with another key-encryption key started")
	}
	logs := bad.Logs()
	for _, want := range []string{"key-encryption key cannot open", "UNHIDRA_KEY_ENCRYPTION_KEY", "--key-encryption-key-file"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the refusing node's log does not say %q:\n%s", want, logs)
		}
	}

	// No node logs the key-encryption key.
	for _, n := range append(c.Nodes, bad) {
		if strings.Contains(n.Logs(), c.KEK) {
			t.Errorf("node %d logged the key-encryption key", n.Index)
		}
	}
}
