// Package testserver starts a real Unhidra node for tests: on 127.0.0.1:0,
// with a temporary data directory, on SQLite or on a fresh PostgreSQL
// database, and stops it when the test ends. The node's warnings and errors
// go to the test log, and an ERROR the test did not declare with
// Node.ExpectError fails the test: a server that logs an error has found
// something wrong, even when the client saw an answer it accepted.
package testserver

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unhidra/unhidra/config"
	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/server"
)

// Engines lists the database engines end-to-end tests run on.
var Engines = []string{"sqlite", "postgres"}

// Node is a running test server.
type Node struct {
	*server.Node
	URL    string
	Config config.Config
	// Client is an HTTP client that trusts the node (plain http.DefaultClient
	// unless the node serves TLS).
	Client *http.Client
	logs   *logSink
	cancel context.CancelFunc
	done   chan error
}

// Config returns a configuration for a test node on engine: an ephemeral
// port, a temporary data dir, rate limits off and fast password hashing at
// the OWASP floor. Tests change what they need before Start.
func Config(t testing.TB, engine string) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.MQTTAddr = ""
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.RateLogin.N, cfg.RateRegister.N = 0, 0
	switch engine {
	case "sqlite":
	case "postgres":
		cfg.DB = testenv.PostgresURL(t)
	default:
		t.Fatalf("unknown engine %q", engine)
	}
	return cfg
}

// Start runs a node with cfg until the test ends.
func Start(t testing.TB, cfg config.Config) *Node {
	t.Helper()
	return StartWithClient(t, cfg, http.DefaultClient)
}

// StartWithClient is Start for a node that needs a particular client to be
// reached (a TLS node and a client that trusts its certificate).
func StartWithClient(t testing.TB, cfg config.Config, hc *http.Client) *Node {
	t.Helper()
	return start(t, cfg, hc, nil)
}

// StartWithLog is Start for a test that inspects the node's log: every
// record, at every level, also goes to h.
func StartWithLog(t testing.TB, cfg config.Config, h slog.Handler) *Node {
	t.Helper()
	return start(t, cfg, http.DefaultClient, h)
}

func start(t testing.TB, cfg config.Config, hc *http.Client, extra slog.Handler) *Node {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sink := &logSink{t: t}
	var h slog.Handler = slog.NewTextHandler(sink, &slog.HandlerOptions{Level: slog.LevelWarn})
	if extra != nil {
		h = slog.NewMultiHandler(h, extra)
	}
	log := slog.New(h)
	n, err := server.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("start node: %v", err)
	}
	if err := n.Listen(); err != nil {
		cancel()
		t.Fatalf("listen: %v", err)
	}
	tn := &Node{Node: n, URL: n.URL(), Config: cfg, Client: hc, logs: sink, cancel: cancel, done: make(chan error, 1)}
	go func() { tn.done <- n.Run(ctx) }()
	t.Cleanup(tn.Stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := hc.Get(tn.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return tn
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node at %s not ready: %v", tn.URL, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the node down and waits for it; calling it twice is harmless.
func (n *Node) Stop() {
	n.cancel()
	if err, ok := <-n.done; ok {
		close(n.done)
		if err != nil {
			panic("node stopped with error: " + err.Error())
		}
	}
}

// ExpectError declares that the server may log an ERROR whose line contains
// substr (its message or any attribute) from now on, without failing the
// test. Declare only errors the test provokes on purpose, and say why beside
// the call; an error nobody expects is a finding, not noise.
func (n *Node) ExpectError(substr string) {
	n.logs.mu.Lock()
	defer n.logs.mu.Unlock()
	n.logs.expected = append(n.logs.expected, substr)
}

// logSink sends the node's log lines to the test log and fails the test on
// an ERROR line that matches no expectation. slog's text handler hands it one
// whole record per Write.
type logSink struct {
	t        testing.TB
	mu       sync.Mutex
	expected []string
}

func (w *logSink) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	w.t.Log(line)
	if isErrorLine(line) && !w.expects(line) {
		w.t.Errorf("testserver: the server logged an ERROR the test does not expect (declare it with Node.ExpectError if the test provokes it):\n%s", line)
	}
	return len(p), nil
}

func (w *logSink) expects(line string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.expected {
		if strings.Contains(line, e) {
			return true
		}
	}
	return false
}

// isErrorLine reports whether a text handler's line is at level ERROR or
// above ("time=… level=ERROR msg=…"; levels above ERROR print as ERROR+n).
// The time value has no spaces, so the level is the second field.
func isErrorLine(line string) bool {
	fields := strings.SplitN(line, " ", 3)
	return len(fields) >= 2 && strings.HasPrefix(fields[1], "level=ERROR")
}
