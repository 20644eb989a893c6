package gateway_test

import (
	"os"
	"testing"

	"github.com/unhidra/unhidra/internal/testserver"
)

// testNATS is the NATS server of the multi-node tests (scripts/services.sh
// starts it); UNHIDRA_TEST_NATS names another. The tests fail when it is
// unreachable.
func testNATS() string {
	if u := os.Getenv("UNHIDRA_TEST_NATS"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// startTwoNodes runs two nodes on one PostgreSQL database and one NATS
// server, signing tokens with the same keys, as a deployment behind a load
// balancer would.
func startTwoNodes(t *testing.T) (n1, n2 *testserver.Node) {
	t.Helper()
	cfg := testserver.Config(t, "postgres")
	cfg.RateWSIP.N, cfg.RateWSUser.N, cfg.RateWSMsg.N = 0, 0, 0
	cfg.Bus = testNATS()
	n1 = testserver.Start(t, cfg)
	cfg2 := cfg
	cfg2.DataDir = t.TempDir()
	cfg2.JWTKeyDir = n1.Config.KeyDir() // the keys the first node created
	n2 = testserver.Start(t, cfg2)
	return n1, n2
}

// TestTwoNodes: a's socket is on one node, b's on the other; a message,
// typing and presence of one reach the other through the bus.
func TestTwoNodes(t *testing.T) {
	t.Parallel()
	n1, n2 := startTwoNodes(t)
	a, b := newAccount(t, n1, false), newAccount(t, n2, false)
	ch := newChannel(t, n1, a, b)
	wa, wb := dial(t, n1, a.Token), dial(t, n2, b.Token)
	ready(wa)
	ready(wb)

	wa.send(map[string]any{"type": "send", "client_msg_id": "c1", "channel_id": ch, "body": "hello from node 1"})
	ack := wa.expect("ack", "presence")
	if ack.Seq == 0 {
		t.Fatalf("ack %s", ack.raw)
	}
	if got := wb.expect("message", "presence", "member_joined"); got.Seq != ack.Seq || got.ChannelID != ch {
		t.Fatalf("b on node 2 got %s, want the message of seq %d", got.raw, ack.Seq)
	}
	// And back, posted over REST on node 2.
	seq := postMessage(t, n2, b, ch, "hello from node 2")
	for {
		if f := wa.expect("message", "presence", "member_joined"); f.Seq == seq {
			break
		}
	}

	wb.send(map[string]any{"type": "typing", "channel_id": ch})
	if f := wa.expect("typing", "presence", "message"); f.UserID != b.ID || f.ChannelID != ch {
		t.Fatalf("typing %s", f.raw)
	}
	wa.send(map[string]any{"type": "typing", "channel_id": ch})
	if f := wb.expect("typing", "presence", "message"); f.UserID != a.ID || f.ChannelID != ch {
		t.Fatalf("typing %s", f.raw)
	}

	wb.send(map[string]any{"type": "presence", "status": "dnd"})
	for {
		if st, _ := wa.expect("presence", "typing", "message").presenceOf(b.ID); st == "dnd" {
			break
		}
	}
	wa.send(map[string]any{"type": "presence", "status": "away"})
	for {
		if st, _ := wb.expect("presence", "typing", "message").presenceOf(a.ID); st == "away" {
			break
		}
	}
}
