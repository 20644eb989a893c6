package wire

import (
	"strings"
	"testing"
	"time"
)

// TestNodeMessagesRoundTrip: what a node encodes, the others parse back
// the same; what a node must not act on is refused.
func TestNodeMessagesRoundTrip(t *testing.T) {
	req := NodeRequest{ID: "r1", From: "n1", Op: NodeOpConnections, By: "u-admin", UserID: "u1",
		AfterTime: time.UnixMicro(1700000000123456).UTC(), AfterID: "c9", Limit: 51}
	got, err := ParseNodeRequest(req.Encode())
	if err != nil || got != req {
		t.Fatalf("request: %+v %v", got, err)
	}
	rep := NodeReply{ID: "r1", Node: "n2", HasMore: true, Connections: []NodeConnection{{ID: "c1", NodeID: "n2", UserID: "u1",
		Username: "bob", SessionID: "s1", IP: "192.0.2.1", UserAgent: "curl", Since: time.UnixMicro(1).UTC(), Status: "online"}}}
	back, err := ParseNodeReply(rep.Encode())
	if err != nil || back.ID != rep.ID || back.Node != rep.Node || !back.HasMore || len(back.Connections) != 1 || back.Connections[0] != rep.Connections[0] {
		t.Fatalf("reply: %+v %v", back, err)
	}
	for _, bad := range []string{
		`{"id":"r","from":"n","op":"connections","limit":0}`,
		`{"id":"r","from":"n","op":"connections","limit":1001}`,
		`{"id":"r","from":"n","op":"close"}`,
		`{"id":"r","from":"n","op":"close_user"}`,
		`{"id":"r","from":"n","op":"reboot"}`,
		`{"id":"r","from":"n.x","op":"close","connection_id":"c"}`,
		`{"id":"r","from":"n","op":"close","connection_id":"c>"}`,
		`{"id":"","from":"n","op":"close","connection_id":"c"}`,
		`{"id":"r","from":"n","op":"close","connection_id":"c","extra":1}`,
		`{"id":"r","from":"n","op":"close","connection_id":"c"} {}`,
		`{"id":"r","from":"` + strings.Repeat("n", 129) + `","op":"close","connection_id":"c"}`,
	} {
		if _, err := ParseNodeRequest([]byte(bad)); err == nil {
			t.Errorf("accepted request %s", bad)
		}
	}
	for _, bad := range []string{
		`{"id":"r","node":"n2","connections":[{"id":"c","node_id":"n3"}]}`,
		`{"id":"r","node":"n2","closed":-1}`,
		`{"id":"r","node":"n2","connections":[{"id":"c","node_id":"n2","user_agent":"` + strings.Repeat("a", 257) + `"}]}`,
		`{"id":"r","node":""}`,
	} {
		if _, err := ParseNodeReply([]byte(bad)); err == nil {
			t.Errorf("accepted reply %s", bad)
		}
	}
}

// FuzzParseNodeRequest: a request that parses encodes back to one that
// parses the same, and every id in it is plain.
func FuzzParseNodeRequest(f *testing.F) {
	f.Add([]byte(`{"id":"r","from":"n","op":"connections","limit":51,"after_time":"2024-01-01T00:00:00Z","after_id":"c"}`))
	f.Add([]byte(`{"id":"r","from":"n","op":"close","connection_id":"c","by":"u"}`))
	f.Add([]byte(`{"id":"r","from":"n","op":"close_user","user_id":"u"}`))
	f.Add([]byte(`{"id":"r","from":"n","op":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseNodeRequest(b)
		if err != nil {
			return
		}
		for _, id := range []string{m.ID, m.From} {
			if !PlainID(id) {
				t.Fatalf("accepted id %q", id)
			}
		}
		again, err := ParseNodeRequest(m.Encode())
		if err != nil || again.ID != m.ID || again.Op != m.Op || again.Limit != m.Limit || !again.AfterTime.Equal(m.AfterTime) {
			t.Fatalf("round trip: %+v %+v %v", m, again, err)
		}
	})
}

// FuzzParseNodeReply: a reply that parses stays within its bounds and
// encodes back to one that parses.
func FuzzParseNodeReply(f *testing.F) {
	f.Add([]byte(`{"id":"r","node":"n","connections":[{"id":"c","node_id":"n","user_agent":"x","since":"2024-01-01T00:00:00Z"}],"has_more":true}`))
	f.Add([]byte(`{"id":"r","node":"n","closed":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseNodeReply(b)
		if err != nil {
			return
		}
		if len(m.Connections) > MaxNodeConnections || m.Closed < 0 {
			t.Fatalf("out of bounds: %+v", m)
		}
		for _, c := range m.Connections {
			if len(c.UserAgent) > MaxUserAgent || c.NodeID != m.Node {
				t.Fatalf("bad connection %+v", c)
			}
		}
		if _, err := ParseNodeReply(m.Encode()); err != nil {
			t.Fatalf("re-encoded reply refused: %v", err)
		}
	})
}
