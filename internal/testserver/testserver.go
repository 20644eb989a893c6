// Package testserver starts a real Unhidra node for tests: on 127.0.0.1:0,
// with a temporary data directory, on SQLite or on a fresh PostgreSQL
// database, and stops it when the test ends.
package testserver

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
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
	var h slog.Handler = slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})
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
	tn := &Node{Node: n, URL: n.URL(), Config: cfg, Client: hc, cancel: cancel, done: make(chan error, 1)}
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

// testWriter sends the node's warnings and errors to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
