package cluster_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/internal/cluster"
)

// TestAuditChainAcrossNodes: two nodes on one database and NATS record
// audited actions concurrently; each is SIGKILLed in turn with writes in
// flight (so the chain lease holder dies mid-write at least once). The
// log then verifies (no fork, no gap) and holds exactly one entry for
// every action that was acknowledged.
func TestAuditChainAcrossNodes(t *testing.T) {
	seed := make([]byte, 32)
	rand.Read(seed)
	keyFile := filepath.Join(t.TempDir(), "audit-signing-key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(seed)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := cluster.Start(t, cluster.Options{Nodes: 2, Bus: natsURL,
		Args: []string{"--audit-signing-key-file", keyFile, "--audit-checkpoint-every", "5"}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	const pw = "a long passphrase for this test"
	post(t, c.Nodes[0].URL+"/api/v1/auth/register", map[string]any{"username": "ops", "password": pw, "setup_token": c.Token()}, 201)

	var mu sync.Mutex
	committed := map[string]bool{} // user ids whose registration was acknowledged
	var seq atomic.Int64
	// load registers users on node n until stop closes or the node dies.
	load := func(n *cluster.Node, stop <-chan struct{}, wg *sync.WaitGroup) {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			name := fmt.Sprintf("user%04d", seq.Add(1))
			b, _ := json.Marshal(map[string]string{"username": name, "password": pw})
			res, err := http.Post(n.URL+"/api/v1/auth/register", "application/json", bytes.NewReader(b))
			if err != nil {
				return // the node is gone
			}
			var out struct {
				User struct{ ID string } `json:"user"`
			}
			json.NewDecoder(res.Body).Decode(&out)
			res.Body.Close()
			if res.StatusCode == 201 {
				mu.Lock()
				committed[out.User.ID] = true
				mu.Unlock()
			}
		}
	}
	phase := func(victim *cluster.Node) {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, n := range c.Nodes {
			for range 3 {
				wg.Add(1)
				go load(n, stop, &wg)
			}
		}
		// Kill once writes are flowing on both nodes.
		start := len(committedSnapshot(&mu, committed))
		for len(committedSnapshot(&mu, committed)) < start+12 {
			time.Sleep(20 * time.Millisecond)
		}
		victim.Kill()
		time.Sleep(time.Second)
		close(stop)
		wg.Wait()
	}
	phase(c.Nodes[0])
	c.Nodes[0].Restart()
	phase(c.Nodes[1])
	c.Nodes[1].Restart()

	login := post(t, c.Nodes[1].URL+"/api/v1/auth/login", map[string]any{"username": "ops", "password": pw}, 200)
	tok, _ := login["access_token"].(string)
	want := committedSnapshot(&mu, committed)
	t.Logf("%d registrations acknowledged", len(want))

	// The lease passes to a live node (after at most its TTL) and every
	// outbox row is chained.
	deadline := time.Now().Add(60 * time.Second)
	for {
		seen, total := registrations(t, c.Nodes[0].URL, tok)
		missing := 0
		for id := range want {
			if seen[id] == 0 {
				missing++
			}
		}
		for id, n := range seen {
			if n > 1 {
				t.Fatalf("user %s has %d registration entries", id, n)
			}
		}
		if missing == 0 {
			t.Logf("%d entries in the log", total)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledged registrations have no audit entry", missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, n := range c.Nodes {
		var rep audit.Report
		getJSON(t, n.URL+"/api/v1/admin/audit/verify", tok, &rep)
		if !rep.OK || rep.Checkpoints == 0 {
			t.Fatalf("verify on %s: %+v", n.URL, rep)
		}
	}
}

func committedSnapshot(mu *sync.Mutex, m map[string]bool) map[string]bool {
	mu.Lock()
	defer mu.Unlock()
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// registrations counts the auth.register entries per user id.
func registrations(t *testing.T, base, tok string) (map[string]int, int) {
	t.Helper()
	seen := map[string]int{}
	var after int64
	total := 0
	for {
		var page struct {
			Entries []*audit.Entry `json:"entries"`
			HasMore bool           `json:"has_more"`
		}
		getJSON(t, fmt.Sprintf("%s/api/v1/admin/audit?limit=200&after=%d", base, after), tok, &page)
		for _, e := range page.Entries {
			if e.Action == audit.ActionRegister {
				seen[e.TargetID]++
			}
			after = e.Seq
			total++
		}
		if !page.HasMore {
			return seen, total
		}
	}
}

func getJSON(t *testing.T, url, tok string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// TestAuditRetentionAcrossNodes: two nodes with --audit-retention-days 1
// on one database; entries recorded two days ago are pruned once, by the
// lease holder (one signed anchor per prune transaction, each with its
// own audit.prune entry), and the log verifies from the anchor on both
// nodes.
func TestAuditRetentionAcrossNodes(t *testing.T) {
	seed := make([]byte, 32)
	rand.Read(seed)
	keyFile := filepath.Join(t.TempDir(), "audit-signing-key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(seed)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := cluster.Start(t, cluster.Options{Nodes: 2, Bus: natsURL,
		Args: []string{"--audit-signing-key-file", keyFile, "--audit-checkpoint-every", "5", "--audit-retention-days", "1", "--retention-every", "1s"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	// Twenty events from two days ago, straight into the outbox (as if
	// recorded then), chained in one pass: a checkpoint at 20.
	db, err := pgx.Connect(ctx, c.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	old := time.Now().Add(-48 * time.Hour).UnixMicro()
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := tx.Exec(ctx, `INSERT INTO audit_outbox (at, action, actor_type, actor_id, target_type, target_id, ip, result, reason, metadata)
			VALUES ($1, 'auth.login', 'user', $2, '', '', '', 'ok', '', '{}')`, old+int64(i), fmt.Sprintf("u%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_prunes`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing pruned; logs:\n%s\n%s", c.Nodes[0].Logs(), c.Nodes[1].Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	const pw = "a long passphrase for this test"
	post(t, c.Nodes[0].URL+"/api/v1/auth/register", map[string]any{"username": "ops", "password": pw, "setup_token": c.Token()}, 201)
	login := post(t, c.Nodes[1].URL+"/api/v1/auth/login", map[string]any{"username": "ops", "password": pw}, 200)
	tok, _ := login["access_token"].(string)
	var anchors, prunes int
	if err := db.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM audit_prunes),
		(SELECT COUNT(*) FROM audit_log WHERE action = 'audit.prune') + (SELECT COUNT(*) FROM audit_outbox WHERE action = 'audit.prune')`).Scan(&anchors, &prunes); err != nil {
		t.Fatal(err)
	}
	if anchors != 1 || prunes != 1 {
		t.Fatalf("%d anchors and %d audit.prune events, want one of each (one node prunes, once)", anchors, prunes)
	}
	for _, n := range c.Nodes {
		deadline := time.Now().Add(30 * time.Second)
		for {
			var rep audit.Report
			getJSON(t, n.URL+"/api/v1/admin/audit/verify", tok, &rep)
			if rep.OK && rep.PrunedThrough == 20 && rep.LastSeq > 20 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("verify on %s: %+v %+v", n.URL, rep, rep.FirstBad)
			}
			time.Sleep(200 * time.Millisecond)
		}
		var ps struct {
			Prunes []audit.PruneAnchor `json:"prunes"`
		}
		getJSON(t, n.URL+"/api/v1/admin/audit/prunes", tok, &ps)
		if len(ps.Prunes) != 1 || ps.Prunes[0].Seq != 20 {
			t.Fatalf("prunes on %s: %+v", n.URL, ps)
		}
	}
}
