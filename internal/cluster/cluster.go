// Package cluster runs several real `unhidra serve` processes for tests:
// one PostgreSQL database and one bus shared by N nodes on ephemeral
// loopback ports, any of which a test can kill with SIGKILL or restart. It
// is the multi-node harness every cross-node test uses.
//
// The node binary is built once per test process: a package's TestMain
// calls cluster.Main.
package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/testenv"
)

var (
	binary   string
	buildErr error
)

// Main builds the node binary, runs the package's tests and removes the
// binary. Use it as the package's TestMain: func TestMain(m *testing.M) { cluster.Main(m) }.
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "unhidra-cluster-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "unhidra")
	buildErr = build(binary)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Binary is the node binary Main built, for tests that start processes of
// their own with it (the load generator's workers).
func Binary() string { return binary }

func build(out string) error {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/unhidra")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, b)
	}
	return nil
}

// Options say what the nodes share.
type Options struct {
	// Nodes is how many to start (default 2).
	Nodes int
	// Bus is the --bus URL all nodes use (for example nats://127.0.0.1:4222).
	// Empty: each node's in-process bus, which only suits one node.
	Bus string
	// Args are more `serve` flags for every node.
	Args []string
}

// Cluster is N nodes on one database and one bus. They share no
// directory: the signing keys and other secrets are in the database,
// sealed with the key-encryption key every node is given.
type Cluster struct {
	t  testing.TB
	DB string // the PostgreSQL URL every node uses
	// KEK is the key-encryption key (base64, random per cluster) every
	// node gets in UNHIDRA_KEY_ENCRYPTION_KEY.
	KEK   string
	Nodes []*Node
	opts  Options
}

// Node is one `unhidra serve` process.
type Node struct {
	c       *Cluster
	Index   int
	Addr    string // host:port, kept across restarts
	URL     string // http://Addr
	dataDir string
	kek     string
	cmd     *exec.Cmd
	done    chan struct{}
	mu      sync.Mutex
	logs    bytes.Buffer
	// SetupToken is what the first node logged while no admin existed.
	SetupToken string
}

// Start starts the nodes one after the other (the first creates the
// schema and the signing keys the others then load from the database) and
// stops them all when t ends.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if binary == "" {
		t.Fatal("cluster: the package's TestMain must call cluster.Main")
	}
	if buildErr != nil {
		t.Fatalf("cluster: %v", buildErr)
	}
	if opts.Nodes <= 0 {
		opts.Nodes = 2
	}
	kek := make([]byte, 32)
	rand.Read(kek) // never fails since Go 1.24
	c := &Cluster{t: t, DB: testenv.PostgresURL(t), KEK: base64.StdEncoding.EncodeToString(kek), opts: opts}
	t.Cleanup(c.stopAll)
	for i := 0; i < opts.Nodes; i++ {
		n := &Node{c: c, Index: i, Addr: "127.0.0.1:0", dataDir: c.t.TempDir(), kek: c.KEK}
		c.Nodes = append(c.Nodes, n)
		if err := n.start(); err != nil {
			t.Fatalf("cluster: node %d: %v\n%s", i, err, n.Logs())
		}
	}
	return c
}

// TryStart starts one more node with key-encryption key kek (base64;
// empty for the cluster's) and returns it, with an error if it exited or
// hung before listening: tests of what a misconfigured node does read its
// Logs. A node that started is added to Nodes.
func (c *Cluster) TryStart(kek string) (*Node, error) {
	if kek == "" {
		kek = c.KEK
	}
	n := &Node{c: c, Index: len(c.Nodes), Addr: "127.0.0.1:0", dataDir: c.t.TempDir(), kek: kek}
	if err := n.start(); err != nil {
		return n, err
	}
	c.Nodes = append(c.Nodes, n)
	return n, nil
}

func (n *Node) args() []string {
	a := []string{"serve",
		"--addr", n.address(), "--data", n.dataDir, "--db", n.c.DB,
		"--mqtt-addr=", "--log-format=json", "--log-level=info",
		"--rate-login=0", "--rate-register=0", "--rate-ws-ip=0", "--rate-ws-user=0", "--shutdown-timeout=2s",
	}
	if n.c.opts.Bus != "" {
		a = append(a, "--bus", n.c.opts.Bus)
	}
	return append(a, n.c.opts.Args...)
}

// start runs the process and waits until it listens (and, the first time,
// learns the address the kernel chose, which restarts keep).
func (n *Node) start() error {
	cmd := exec.Command(binary, n.args()...)
	cmd.Env = append(cleanEnv(), "UNHIDRA_KEY_ENCRYPTION_KEY="+n.kek)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	n.cmd = cmd
	n.done = make(chan struct{})
	ready := make(chan string, 1)
	go func() {
		defer close(n.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			n.mu.Lock()
			n.logs.Write(line)
			n.logs.WriteByte('\n')
			n.mu.Unlock()
			var rec struct {
				Msg        string `json:"msg"`
				Addr       string `json:"addr"`
				SetupToken string `json:"setup_token"`
			}
			if json.Unmarshal(line, &rec) != nil {
				continue
			}
			if rec.SetupToken != "" {
				n.mu.Lock()
				n.SetupToken = rec.SetupToken
				n.mu.Unlock()
			}
			if rec.Msg == "unhidra listening" {
				select {
				case ready <- rec.Addr:
				default:
				}
			}
		}
		io.Copy(io.Discard, out)
		cmd.Wait()
	}()
	select {
	case addr := <-ready:
		n.mu.Lock()
		n.Addr = addr
		n.URL = "http://" + addr
		n.mu.Unlock()
		return nil
	case <-n.done:
		return fmt.Errorf("exited before listening")
	case <-time.After(30 * time.Second):
		n.signal(syscall.SIGKILL)
		return fmt.Errorf("not listening after 30s")
	}
}

// cleanEnv passes the environment without UNHIDRA_ settings, so a
// developer's shell cannot change what the nodes run with (start adds the
// key-encryption key).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "UNHIDRA_") {
			env = append(env, kv)
		}
	}
	return env
}

func (n *Node) signal(s syscall.Signal) {
	if n.cmd != nil && n.cmd.Process != nil {
		n.cmd.Process.Signal(s)
	}
}

// Kill stops the node with SIGKILL: no shutdown, no goodbye to its clients.
func (n *Node) Kill() {
	n.signal(syscall.SIGKILL)
	<-n.done
}

// Stop stops the node gracefully (SIGTERM), as a rolling restart does.
func (n *Node) Stop() {
	n.signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.Kill()
	}
}

// Restart starts a stopped or killed node again on the same address. It
// may be called from any goroutine; a failure fails the test.
func (n *Node) Restart() {
	select {
	case <-n.done:
	default:
		n.Stop()
	}
	if err := n.start(); err != nil {
		n.c.t.Errorf("cluster: restart node %d: %v\n%s", n.Index, err, n.Logs())
	}
}

// address is where the node listens, safe to read while it restarts.
func (n *Node) address() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.Addr
}

// Logs is everything the node has logged, across restarts.
func (n *Node) Logs() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.logs.String()
}

// Token is the setup token the first node logged.
func (c *Cluster) Token() string {
	n := c.Nodes[0]
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.SetupToken
}

func (c *Cluster) stopAll() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		if n.done == nil {
			continue
		}
		wg.Add(1)
		go func(n *Node) {
			defer wg.Done()
			select {
			case <-n.done:
			default:
				n.Stop()
			}
		}(n)
	}
	wg.Wait()
	if c.t.Failed() {
		for _, n := range c.Nodes {
			c.t.Logf("node %d log:\n%s", n.Index, tail(n.Logs(), 60))
		}
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// Ready waits until every running node answers /readyz.
func (c *Cluster) Ready(ctx context.Context) error {
	for _, n := range c.Nodes {
		if err := waitReady(ctx, n.URL); err != nil {
			return fmt.Errorf("node %d: %w", n.Index, err)
		}
	}
	return nil
}

func waitReady(ctx context.Context, base string) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
