package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/cluster"
)

// answer is one HTTP answer of a node.
type answer struct {
	status     int
	code       string // error.code, if any
	message    string
	retryAfter string
}

// postFrom posts body to url as the client at ip (the nodes trust the
// loopback proxy's X-Forwarded-For).
func postFrom(t *testing.T, url, ip string, body any) answer {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Error struct{ Code, Message string }
	}
	json.NewDecoder(res.Body).Decode(&out)
	return answer{res.StatusCode, out.Error.Code, out.Error.Message, res.Header.Get("Retry-After")}
}

// wantLimited fails unless a is the documented 429: rate_limited with a
// Retry-After of whole seconds, at least 1.
func wantLimited(t *testing.T, what string, a answer) {
	t.Helper()
	ra, err := strconv.Atoi(a.retryAfter)
	if a.status != http.StatusTooManyRequests || a.code != "rate_limited" || err != nil || ra < 1 {
		t.Fatalf("%s: %d %q %q, Retry-After %q; want 429 rate_limited with Retry-After", what, a.status, a.code, a.message, a.retryAfter)
	}
}

// TestSharedLimits: the per-IP limits of login and registration and the
// failed-login backoff hold for the cluster, not per node: attempts spread
// over two nodes are refused once their total passes the limit.
func TestSharedLimits(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Nodes: 2, Bus: natsURL, Args: []string{
		// Later flags win over the harness's --rate-login=0 and --rate-register=0.
		// Per hour, so that nothing refills while the test runs.
		"--rate-login=4/h", "--rate-register=3/h", "--trusted-proxies=127.0.0.0/8",
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	nodes := c.Nodes
	const pw = "a long passphrase for this test"

	t.Run("registration", func(t *testing.T) {
		const ip = "198.51.100.9"
		for i := range 3 {
			body := map[string]any{"username": fmt.Sprintf("user%d", i), "password": pw}
			if i == 0 {
				body["setup_token"] = c.Token()
			}
			if a := postFrom(t, nodes[i%2].URL+"/api/v1/auth/register", ip, body); a.status != 201 {
				t.Fatalf("registration %d on node %d: %d %s", i, i%2, a.status, a.message)
			}
		}
		// Three in total, on two nodes: each node has seen fewer than its
		// limit alone, and both refuse.
		for i, n := range nodes {
			a := postFrom(t, n.URL+"/api/v1/auth/register", ip, map[string]any{"username": fmt.Sprintf("extra%d", i), "password": pw})
			wantLimited(t, fmt.Sprintf("fourth registration, on node %d", i), a)
		}
		// Another client is not affected.
		if a := postFrom(t, nodes[1].URL+"/api/v1/auth/register", "198.51.100.10", map[string]any{"username": "other", "password": pw}); a.status != 201 {
			t.Fatalf("registration from another client: %d %s", a.status, a.message)
		}
	})

	t.Run("login", func(t *testing.T) {
		const ip = "198.51.100.20"
		for i := range 4 {
			if a := postFrom(t, nodes[i%2].URL+"/api/v1/auth/login", ip, map[string]any{"username": "user1", "password": pw}); a.status != 200 {
				t.Fatalf("login %d on node %d: %d %s", i, i%2, a.status, a.message)
			}
		}
		for i, n := range nodes {
			a := postFrom(t, n.URL+"/api/v1/auth/login", ip, map[string]any{"username": "user1", "password": pw})
			wantLimited(t, fmt.Sprintf("fifth login, on node %d", i), a)
		}
	})

	t.Run("account_backoff", func(t *testing.T) {
		// Wrong passwords for user2 from one /24, each from another address
		// (so the per-IP login limit never bites), alternating between the
		// nodes. The network's backoff allows five free failures and a
		// sixth try, then makes the next wait: counted for the cluster that
		// comes after six or seven failures (the seventh if the Argon2 check
		// outlasted the first one-second wait); counted per node it would
		// take about twelve.
		failures := 0
		var refused answer
		var refusedOn int
		for i := range 12 {
			ip := fmt.Sprintf("192.0.2.%d", i+1)
			a := postFrom(t, nodes[i%2].URL+"/api/v1/auth/login", ip, map[string]any{"username": "user2", "password": "wrong guess " + strconv.Itoa(i)})
			if a.status == http.StatusUnauthorized {
				failures++
				continue
			}
			refused, refusedOn = a, i%2
			break
		}
		if refused.status == 0 {
			t.Fatalf("%d failed logins over two nodes were never slowed down", failures)
		}
		wantLimited(t, "failed login past the backoff", refused)
		if failures < 6 || failures > 7 {
			t.Fatalf("refused after %d failures; want 6 or 7 (five free, one try, across both nodes)", failures)
		}
		// The other node makes the same network wait, right password or not.
		a := postFrom(t, nodes[1-refusedOn].URL+"/api/v1/auth/login", "192.0.2.200", map[string]any{"username": "user2", "password": pw})
		wantLimited(t, "the right password from the same network on the other node", a)
		// The real user on another network is not locked out.
		if a := postFrom(t, nodes[refusedOn].URL+"/api/v1/auth/login", "203.0.113.7", map[string]any{"username": "user2", "password": pw}); a.status != 200 {
			t.Fatalf("real user from another network: %d %s", a.status, a.message)
		}
	})
}
