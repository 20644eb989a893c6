// Package wire is the Unhidra WebSocket protocol (API.md "Real-time"): the
// client frames the server accepts, the frames it sends, subprotocols and
// close codes. It is pure code, no I/O, so the decoder can be fuzzed and
// any transport or client can share it.
//
// Decoding is strict, like the REST API: one JSON object per frame, a known
// "type", no unknown fields, and each type's required fields present and in
// range. Every refusal is an *unhidra.Error with code invalid_argument and a
// message safe to show to the client.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/unhidra/unhidra"
)

// Subprotocols (Sec-WebSocket-Protocol).
const (
	// Subprotocol is the protocol the server answers.
	Subprotocol = "unhidra.v1"
	// BearerPrefix precedes the access token in the second subprotocol the
	// client offers. Tokens travel there, never in the URL, so they stay
	// out of access logs and browser history.
	BearerPrefix = "bearer."
)

// Close codes (API.md "Errors and limits").
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001 // server shutting down
	CloseTooBig          = 1009 // a frame over the size limit
	CloseInternal        = 1011
	CloseUnauthenticated = 4001 // missing, invalid or expired token; session revoked
	CloseForbidden       = 4003
	CloseRateLimited     = 4008
	CloseTooSlow         = 4009 // the client fell too far behind: reconnect and resume
)

// Client frame types.
const (
	TypeSend        = "send"
	TypeTyping      = "typing"
	TypeRead        = "read"
	TypePresence    = "presence"
	TypeResume      = "resume"
	TypeAuth        = "auth"
	TypeToDeviceAck = "to_device_ack"
	TypePing        = "ping"
)

// Server-only frame types (channel events carry the type of the event).
const (
	TypeHello          = "hello"
	TypeAck            = "ack"
	TypeError          = "error"
	TypeResumed        = "resumed"
	TypeResyncRequired = "resync_required"
	TypePong           = "pong"
)

// Presence statuses.
const (
	StatusOnline  = "online"
	StatusAway    = "away"
	StatusDND     = "dnd"
	StatusOffline = "offline"
)

// Limits on client frames. They bound the work one frame can cause.
const (
	MaxIDLength        = 128
	MaxClientMsgID     = 64
	MaxPositions       = 10000
	MaxAckIDs          = 1000
	MaxTokenLength     = 8192
	MaxAttachments     = 32
	maxRefLength       = 128
	maxTypeLengthInErr = 32
)

// ClientFrame is one decoded client frame; which fields are set depends on
// Type.
type ClientFrame struct {
	Type string `json:"type"`
	// Ref is an optional client-chosen correlation id echoed in an error.
	Ref string `json:"ref,omitempty"`

	// send
	ClientMsgID  string   `json:"client_msg_id,omitempty"`
	ChannelID    string   `json:"channel_id,omitempty"`
	Body         string   `json:"body,omitempty"`
	Ciphertext   string   `json:"ciphertext,omitempty"`
	ThreadRootID string   `json:"thread_root_id,omitempty"`
	Attachments  []string `json:"attachments,omitempty"`

	// read
	Seq *int64 `json:"seq,omitempty"`
	// presence
	Status string `json:"status,omitempty"`
	// resume
	Positions map[string]int64 `json:"positions,omitempty"`
	// auth
	AccessToken string `json:"access_token,omitempty"`
	// to_device_ack
	IDs []string `json:"ids,omitempty"`
}

// ErrorRef returns the reference an error frame about f should carry: the
// client_msg_id of a send, else the frame's ref.
func (f *ClientFrame) ErrorRef() string {
	if f == nil {
		return ""
	}
	if f.Type == TypeSend && f.ClientMsgID != "" {
		return f.ClientMsgID
	}
	return f.Ref
}

func invalid(format string, args ...any) *unhidra.Error {
	return unhidra.Errorf(unhidra.EInvalid, format, args...)
}

// Decode parses and validates one client frame. On error the returned
// frame, when not nil, still carries what could be read (for the error's
// ref).
func Decode(data []byte) (*ClientFrame, error) {
	if !utf8.Valid(data) {
		return nil, invalid("a frame must be valid UTF-8 JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f ClientFrame
	if err := dec.Decode(&f); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute) && ute.Field != "":
			return nil, invalid("field %s has the wrong type", clip(ute.Field))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return nil, invalid("unknown field %s", clip(strings.TrimPrefix(err.Error(), "json: unknown field ")))
		default:
			return nil, invalid("a frame must be one JSON object")
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid("a frame must be one JSON object")
	}
	if len(f.Ref) > maxRefLength {
		f.Ref = ""
		return &f, invalid("ref must be at most %d characters", maxRefLength)
	}
	return &f, f.validate()
}

func clip(s string) string {
	if len(s) > maxTypeLengthInErr {
		s = s[:maxTypeLengthInErr] + "…"
	}
	return strings.ToValidUTF8(s, "")
}

// only reports an error when any field outside allowed is set, so that a
// frame of one type cannot smuggle fields of another.
func (f *ClientFrame) only(allowed ...string) error {
	set := map[string]bool{
		"client_msg_id":  f.ClientMsgID != "",
		"channel_id":     f.ChannelID != "",
		"body":           f.Body != "",
		"ciphertext":     f.Ciphertext != "",
		"thread_root_id": f.ThreadRootID != "",
		"attachments":    f.Attachments != nil,
		"seq":            f.Seq != nil,
		"status":         f.Status != "",
		"positions":      f.Positions != nil,
		"access_token":   f.AccessToken != "",
		"ids":            f.IDs != nil,
	}
	for _, a := range allowed {
		delete(set, a)
	}
	for name, v := range set {
		if v {
			return invalid("a %s frame has no field %s", f.Type, name)
		}
	}
	return nil
}

func validID(field, v string, required bool) error {
	if v == "" {
		if required {
			return invalid("%s is required", field)
		}
		return nil
	}
	if len(v) > MaxIDLength {
		return invalid("%s must be at most %d characters", field, MaxIDLength)
	}
	return nil
}

func (f *ClientFrame) validate() error {
	switch f.Type {
	case TypeSend:
		if err := f.only("client_msg_id", "channel_id", "body", "ciphertext", "thread_root_id", "attachments"); err != nil {
			return err
		}
		if f.ClientMsgID == "" {
			return invalid("client_msg_id is required")
		}
		if len(f.ClientMsgID) > MaxClientMsgID {
			return invalid("client_msg_id must be at most %d characters", MaxClientMsgID)
		}
		if err := validID("channel_id", f.ChannelID, true); err != nil {
			return err
		}
		if err := validID("thread_root_id", f.ThreadRootID, false); err != nil {
			return err
		}
		if f.Body == "" && f.Ciphertext == "" && len(f.Attachments) == 0 {
			return invalid("a send needs body, ciphertext or attachments")
		}
		if len(f.Attachments) > MaxAttachments {
			return invalid("at most %d attachments", MaxAttachments)
		}
		for _, a := range f.Attachments {
			if err := validID("attachments", a, true); err != nil {
				return err
			}
		}
	case TypeTyping:
		if err := f.only("channel_id"); err != nil {
			return err
		}
		return validID("channel_id", f.ChannelID, true)
	case TypeRead:
		if err := f.only("channel_id", "seq"); err != nil {
			return err
		}
		if err := validID("channel_id", f.ChannelID, true); err != nil {
			return err
		}
		if f.Seq == nil || *f.Seq < 0 {
			return invalid("seq must be a non-negative integer")
		}
	case TypePresence:
		if err := f.only("status"); err != nil {
			return err
		}
		switch f.Status {
		case StatusOnline, StatusAway, StatusDND:
		default:
			return invalid("status must be online, away or dnd")
		}
	case TypeResume:
		if err := f.only("positions"); err != nil {
			return err
		}
		if f.Positions == nil {
			return invalid("positions is required")
		}
		if len(f.Positions) > MaxPositions {
			return invalid("at most %d positions", MaxPositions)
		}
		for ch, seq := range f.Positions {
			if err := validID("a positions key", ch, true); err != nil {
				return err
			}
			if seq < 0 {
				return invalid("positions must be non-negative")
			}
		}
	case TypeAuth:
		if err := f.only("access_token"); err != nil {
			return err
		}
		if f.AccessToken == "" || len(f.AccessToken) > MaxTokenLength {
			return invalid("access_token is required (at most %d characters)", MaxTokenLength)
		}
	case TypeToDeviceAck:
		if err := f.only("ids"); err != nil {
			return err
		}
		if len(f.IDs) > MaxAckIDs {
			return invalid("at most %d ids", MaxAckIDs)
		}
		for _, id := range f.IDs {
			if err := validID("ids", id, true); err != nil {
				return err
			}
		}
	case TypePing:
		return f.only()
	case "":
		return invalid("type is required")
	default:
		return invalid("unknown frame type %q", clip(f.Type))
	}
	return nil
}

// EventHeader is what the gateway reads from a channel event or ephemeral
// frame: enough to route and order it without decoding the payload.
type EventHeader struct {
	Type      string `json:"type"`
	ChannelID string `json:"channel_id"`
	Seq       int64  `json:"seq"`
	// UserID is the subject of member_left, typing and read frames, when
	// the frame carries it at the top level or in "member".
	UserID string `json:"user_id"`
	Member *struct {
		UserID string `json:"user_id"`
	} `json:"member"`
	Message *struct {
		CreatedAt string `json:"created_at"`
	} `json:"message"`
}

// ParseEventHeader reads the routing fields of a server frame.
func ParseEventHeader(frame []byte) (EventHeader, error) {
	var h EventHeader
	if err := json.Unmarshal(frame, &h); err != nil {
		return h, err
	}
	if h.UserID == "" && h.Member != nil {
		h.UserID = h.Member.UserID
	}
	return h, nil
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the fixed shapes below are marshalled: this cannot happen.
		panic("wire: " + err.Error())
	}
	return b
}

// Hello is the first frame of every socket.
func Hello(connectionID, sessionID string, user *unhidra.User) []byte {
	return marshal(struct {
		Type         string        `json:"type"`
		SessionID    string        `json:"session_id"`
		ConnectionID string        `json:"connection_id"`
		User         *unhidra.User `json:"user"`
	}{TypeHello, sessionID, connectionID, user})
}

// Ack confirms a send; it precedes the message echo on the sender's socket.
func Ack(clientMsgID, messageID string, seq int64) []byte {
	return marshal(struct {
		Type        string `json:"type"`
		ClientMsgID string `json:"client_msg_id"`
		MessageID   string `json:"message_id"`
		Seq         int64  `json:"seq"`
	}{TypeAck, clientMsgID, messageID, seq})
}

// Error reports a refused frame; the socket stays open.
func Error(code, message, ref string) []byte {
	return marshal(struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Ref     string `json:"ref,omitempty"`
	}{TypeError, code, message, ref})
}

// Resumed follows a channel's replay: from exclusive, to inclusive.
func Resumed(channelID string, from, to int64) []byte {
	return marshal(struct {
		Type      string `json:"type"`
		ChannelID string `json:"channel_id"`
		From      int64  `json:"from"`
		To        int64  `json:"to"`
	}{TypeResumed, channelID, from, to})
}

// ResyncRequired says a channel's gap is too large to replay: reload it
// over REST.
func ResyncRequired(channelID string) []byte {
	return marshal(struct {
		Type      string `json:"type"`
		ChannelID string `json:"channel_id"`
	}{TypeResyncRequired, channelID})
}

// Presence is a user's aggregate status.
func Presence(userID, status string) []byte {
	return marshal(struct {
		Type   string `json:"type"`
		UserID string `json:"user_id"`
		Status string `json:"status"`
	}{TypePresence, userID, status})
}

// Pong answers a ping frame.
func Pong() []byte { return []byte(`{"type":"pong"}`) }

// ParsePresence reads a presence frame published on the bus.
func ParsePresence(frame []byte) (userID, status string, err error) {
	var p struct {
		UserID string `json:"user_id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(frame, &p); err != nil {
		return "", "", err
	}
	return p.UserID, p.Status, nil
}
