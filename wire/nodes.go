package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Messages between nodes: the settings notification, and the requests by
// which one node asks every other about its live sockets (an admin's list
// of connections, and closing one).
//
//   - SettingsSubject: a SettingsChanged after an admin changed settings;
//     every node reloads them from the database.
//   - NodeRequestsSubject(install): a NodeRequest, heard by every node of
//     the install but the one that sent it.
//   - NodeRepliesSubject(install, node): each node's NodeReply to a
//     request of that node.
//
// The install (the presence bucket's name, the same on every node of an
// install) keeps installs that share a NATS server from answering each
// other.
//
// Like everything on the bus these are at most once: the settings have a
// periodic reload behind them, and the asker of a request waits a bounded
// time and says which nodes did not answer.
const (
	SettingsSubject = "settings.changed"
	prefixNode      = "node."
)

// NodeRequestsSubject is where the nodes of install hear requests.
func NodeRequestsSubject(install string) string { return prefixNode + install + ".requests" }

// NodeRepliesSubject is where the replies to node nodeID's requests go.
func NodeRepliesSubject(install, nodeID string) string {
	return prefixNode + install + ".replies." + nodeID
}

// SettingsChanged is published on SettingsSubject after a change commits.
type SettingsChanged struct {
	Keys []string `json:"keys"`
}

// Encode returns the message's bytes for the bus.
func (m SettingsChanged) Encode() []byte { return Encode(m) }

// Node request operations.
const (
	// NodeOpConnections: list the node's sockets (UserID filters, After*
	// is the keyset cursor, Limit bounds the reply).
	NodeOpConnections = "connections"
	// NodeOpClose: close the socket ConnectionID, if this node holds it.
	NodeOpClose = "close"
	// NodeOpCloseUser: close every socket of UserID on this node.
	NodeOpCloseUser = "close_user"
)

// Bounds of node messages.
const (
	// MaxNodeConnections is the most sockets one reply lists.
	MaxNodeConnections = 1000
	maxNodeID          = 128
	// MaxUserAgent is the longest user agent a connection shows, in bytes.
	MaxUserAgent = 256
)

// NodeRequest is published on NodeRequestsSubject.
type NodeRequest struct {
	ID   string `json:"id"`   // the asker's request id, echoed in each reply
	From string `json:"from"` // the asker's node id: replies go to NodeRepliesSubject(From)
	Op   string `json:"op"`
	// By is the admin who asked (the answering node logs it).
	By           string    `json:"by,omitempty"`
	UserID       string    `json:"user_id,omitempty"`
	ConnectionID string    `json:"connection_id,omitempty"`
	AfterTime    time.Time `json:"after_time,omitzero"`
	AfterID      string    `json:"after_id,omitempty"`
	Limit        int       `json:"limit,omitempty"`
}

// Encode returns the message's bytes for the bus.
func (m NodeRequest) Encode() []byte { return Encode(m) }

// NodeReply is one node's answer to a NodeRequest.
type NodeReply struct {
	ID   string `json:"id"`
	Node string `json:"node"`
	// Connections: NodeOpConnections, in (since, id) order.
	Connections []NodeConnection `json:"connections,omitempty"`
	// HasMore: the node has more sockets after the last one listed.
	HasMore bool `json:"has_more,omitempty"`
	// Closed: NodeOpClose and NodeOpCloseUser, how many sockets closed.
	Closed int `json:"closed,omitempty"`
}

// Encode returns the message's bytes for the bus.
func (m NodeReply) Encode() []byte { return Encode(m) }

// NodeConnection is one live socket in a NodeReply: the fields of
// gateway.ConnectionInfo, which converts to and from it.
type NodeConnection struct {
	ID        string    `json:"id"`
	NodeID    string    `json:"node_id"`
	UserID    string    `json:"user_id"`
	Username  string    `json:"username"`
	SessionID string    `json:"session_id"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	Since     time.Time `json:"since"`
	FramesIn  int64     `json:"frames_in"`
	FramesOut int64     `json:"frames_out"`
	Status    string    `json:"status"`
	Channels  int       `json:"channels"`
}

// PlainID reports whether v may travel in a node message: 1 to 128
// printable ASCII bytes without space, '.', '*' or '>' (so that it could
// name a subject). Ids the server makes (UUIDs) are plain; a socket can
// belong to no other.
func PlainID(v string) bool {
	if v == "" || len(v) > maxNodeID {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x21 || c > 0x7e || c == '.' || c == '*' || c == '>' {
			return false
		}
	}
	return true
}

func checkNodeID(field, v string, required bool) error {
	if v == "" && !required {
		return nil
	}
	if !PlainID(v) {
		return fmt.Errorf("wire: node message with a bad %s", field)
	}
	return nil
}

// strict decodes one JSON object into v without unknown fields or
// trailing data.
func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("wire: data after the message")
	}
	return nil
}

// ParseNodeRequest decodes and checks a NodeRequest: the ids plain tokens
// that can name a subject, a known operation with what it needs, a limit
// within MaxNodeConnections.
func ParseNodeRequest(b []byte) (NodeRequest, error) {
	var m NodeRequest
	if err := strict(b, &m); err != nil {
		return NodeRequest{}, fmt.Errorf("wire: node request: %w", err)
	}
	for _, f := range []struct {
		name, v  string
		required bool
	}{{"id", m.ID, true}, {"from", m.From, true}, {"by", m.By, false}, {"user_id", m.UserID, false},
		{"connection_id", m.ConnectionID, false}, {"after_id", m.AfterID, false}} {
		if err := checkNodeID(f.name, f.v, f.required); err != nil {
			return NodeRequest{}, err
		}
	}
	switch m.Op {
	case NodeOpConnections:
		if m.Limit < 1 || m.Limit > MaxNodeConnections {
			return NodeRequest{}, fmt.Errorf("wire: node request limit %d", m.Limit)
		}
	case NodeOpClose:
		if m.ConnectionID == "" {
			return NodeRequest{}, errors.New("wire: close without a connection id")
		}
	case NodeOpCloseUser:
		if m.UserID == "" {
			return NodeRequest{}, errors.New("wire: close_user without a user id")
		}
	default:
		return NodeRequest{}, fmt.Errorf("wire: node request op %q", m.Op)
	}
	return m, nil
}

// ParseNodeReply decodes and checks a NodeReply: plain ids, at most
// MaxNodeConnections sockets, counts that are not negative.
func ParseNodeReply(b []byte) (NodeReply, error) {
	var m NodeReply
	if err := strict(b, &m); err != nil {
		return NodeReply{}, fmt.Errorf("wire: node reply: %w", err)
	}
	if err := checkNodeID("id", m.ID, true); err != nil {
		return NodeReply{}, err
	}
	if err := checkNodeID("node", m.Node, true); err != nil {
		return NodeReply{}, err
	}
	if len(m.Connections) > MaxNodeConnections || m.Closed < 0 || m.Closed > 1<<20 {
		return NodeReply{}, errors.New("wire: node reply out of bounds")
	}
	for _, c := range m.Connections {
		if checkNodeID("connection id", c.ID, true) != nil || len(c.UserAgent) > MaxUserAgent || len(c.Username) > maxNodeID ||
			len(c.IP) > 64 || len(c.SessionID) > 2*maxNodeID || len(c.UserID) > maxNodeID || len(c.Status) > 16 || c.NodeID != m.Node {
			return NodeReply{}, errors.New("wire: node reply with a bad connection")
		}
	}
	return m, nil
}
