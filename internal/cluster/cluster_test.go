package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/cluster"
)

func TestMain(m *testing.M) { cluster.Main(m) }

func post(t *testing.T, url string, body any, want int) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode != want {
		t.Fatalf("POST %s: %d %v, want %d", url, res.StatusCode, out, want)
	}
	return out
}

// TestHarness: a node on the shared PostgreSQL keeps its address and its
// data across a SIGKILL and a restart, and a second node on the same
// database and keys serves the same accounts and accepts the same tokens.
func TestHarness(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Nodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	a, b := c.Nodes[0], c.Nodes[1]
	if c.Token() == "" {
		t.Fatal("the first node logged no setup token")
	}
	post(t, a.URL+"/api/v1/auth/register", map[string]any{"username": "ops", "password": "a long admin passphrase", "setup_token": c.Token()}, 201)
	login := post(t, b.URL+"/api/v1/auth/login", map[string]any{"username": "ops", "password": "a long admin passphrase"}, 200)
	tok, _ := login["access_token"].(string)

	addr := a.Addr
	a.Kill()
	a.Restart()
	if a.Addr != addr {
		t.Fatalf("restart moved the node from %s to %s", addr, a.Addr)
	}
	// A token issued by node b is good on node a: the keys are shared.
	req, _ := http.NewRequest(http.MethodGet, a.URL+"/api/v1/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("node a refused node b's token: %d", res.StatusCode)
	}
}
