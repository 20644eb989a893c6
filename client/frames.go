package client

import (
	"encoding/json"
	"fmt"

	"github.com/unhidra/unhidra"
)

// Server → client frame types (API.md "Real-time").
const (
	FrameHello          = "hello"
	FrameAck            = "ack"
	FrameMessage        = unhidra.EventMessage
	FrameMessageUpdated = unhidra.EventMessageUpdated
	FrameMessageDeleted = unhidra.EventMessageDeleted
	FrameReaction       = unhidra.EventReaction
	FrameChannelUpdated = unhidra.EventChannelUpdated
	FrameMemberJoined   = unhidra.EventMemberJoined
	FrameMemberLeft     = unhidra.EventMemberLeft
	FrameTyping         = "typing"
	FramePresence       = "presence"
	FrameRead           = "read"
	FrameDeviceStatus   = "device_status"
	FrameToDevice       = "to_device"
	FrameResumed        = "resumed"
	FrameResyncRequired = "resync_required"
	FrameError          = "error"
	FramePong           = "pong"
)

// IsChannelEvent reports whether frames of type t carry a durable channel
// event, i.e. a channel_id and the event's gap-free seq. Other frames may
// carry a seq with another meaning (a read frame's seq is a read position),
// so only these advance resume positions.
func IsChannelEvent(t string) bool {
	switch t {
	case FrameMessage, FrameMessageUpdated, FrameMessageDeleted, FrameReaction,
		FrameChannelUpdated, FrameMemberJoined, FrameMemberLeft:
		return true
	}
	return false
}

// Frame is one frame from the server. Type, ChannelID and Seq are lifted
// from the JSON for routing; Raw is the whole frame, which Decode or the
// typed accessors turn into the payload.
type Frame struct {
	Type      string
	ChannelID string // channel events, typing, read, resumed, resync_required
	Seq       int64  // channel events: the event seq; read frames: the read position
	Raw       json.RawMessage
}

// ParseFrame decodes one server frame.
func ParseFrame(b []byte) (*Frame, error) {
	var head struct {
		Type      string `json:"type"`
		ChannelID string `json:"channel_id"`
		Seq       int64  `json:"seq"`
		// An object in message frames, a string in error frames.
		Message json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("parse frame: %w", err)
	}
	if head.Type == "" {
		return nil, fmt.Errorf("parse frame: no type")
	}
	f := &Frame{Type: head.Type, ChannelID: head.ChannelID, Seq: head.Seq, Raw: append(json.RawMessage(nil), b...)}
	// The contract puts channel_id and seq at the top of every channel
	// event; taking them from the message too keeps positions right if a
	// server ever omits them.
	if (f.ChannelID == "" || f.Seq == 0) && (f.Type == FrameMessage || f.Type == FrameMessageUpdated) {
		var m struct {
			ChannelID string `json:"channel_id"`
			Seq       int64  `json:"seq"`
		}
		if json.Unmarshal(head.Message, &m) == nil {
			if f.ChannelID == "" {
				f.ChannelID = m.ChannelID
			}
			// An edit keeps the message's own seq; only a new message's
			// seq is its event's.
			if f.Seq == 0 && f.Type == FrameMessage {
				f.Seq = m.Seq
			}
		}
	}
	return f, nil
}

// Decode unmarshals the frame into v (one of the *Frame payload types
// below, or anything matching the JSON).
func (f *Frame) Decode(v any) error {
	if err := json.Unmarshal(f.Raw, v); err != nil {
		return fmt.Errorf("decode %s frame: %w", f.Type, err)
	}
	return nil
}

// IsChannelEvent reports whether f is a durable channel event.
func (f *Frame) IsChannelEvent() bool { return IsChannelEvent(f.Type) }

// Message returns the message of a message or message_updated frame.
func (f *Frame) Message() (*unhidra.Message, error) {
	if f.Type != FrameMessage && f.Type != FrameMessageUpdated {
		return nil, fmt.Errorf("%s frame carries no message", f.Type)
	}
	var m MessageFrame
	if err := f.Decode(&m); err != nil {
		return nil, err
	}
	if m.Message == nil {
		return nil, fmt.Errorf("%s frame without message", f.Type)
	}
	return m.Message, nil
}

// Err returns the *Error of an error frame, or nil for other frames.
func (f *Frame) Err() *Error {
	if f.Type != FrameError {
		return nil
	}
	var e ErrorFrame
	if f.Decode(&e) != nil {
		return &Error{Code: CodeInternal, Message: "malformed error frame"}
	}
	return &Error{Code: e.Code, Message: e.Message, Ref: e.Ref}
}

// Payloads of the server frames.
type (
	// Hello is the first frame of every socket.
	Hello struct {
		SessionID string        `json:"session_id"`
		User      *unhidra.User `json:"user"`
	}
	// Ack confirms a send frame; it comes before the message echo.
	Ack struct {
		ClientMsgID string `json:"client_msg_id"`
		MessageID   string `json:"message_id"`
		Seq         int64  `json:"seq"`
	}
	// MessageFrame is a message or message_updated frame.
	MessageFrame struct {
		ChannelID string           `json:"channel_id"`
		Seq       int64            `json:"seq"`
		Message   *unhidra.Message `json:"message"`
	}
	// MessageDeleted is a message_deleted frame.
	MessageDeleted struct {
		ChannelID string `json:"channel_id"`
		MessageID string `json:"message_id"`
		Seq       int64  `json:"seq"`
	}
	// Reaction is a reaction added or removed.
	Reaction struct {
		ChannelID string `json:"channel_id"`
		MessageID string `json:"message_id"`
		Emoji     string `json:"emoji"`
		UserID    string `json:"user_id"`
		Added     bool   `json:"added"`
		Seq       int64  `json:"seq"`
	}
	// MemberFrame is a member_joined (also a role change, with the new
	// role) or member_left frame.
	MemberFrame struct {
		ChannelID string `json:"channel_id"`
		UserID    string `json:"user_id"`
		Role      string `json:"role,omitempty"`
		Seq       int64  `json:"seq"`
	}
	// ChannelUpdated is a rename, topic or purpose change, or an archive.
	ChannelUpdated struct {
		ChannelID string           `json:"channel_id"`
		Seq       int64            `json:"seq"`
		Channel   *unhidra.Channel `json:"channel"`
	}
	// Typing says a user is typing in a channel.
	Typing struct {
		ChannelID string `json:"channel_id"`
		UserID    string `json:"user_id"`
	}
	// Presence is a user's presence status.
	Presence struct {
		UserID string `json:"user_id"`
		Status string `json:"status"`
	}
	// ReadReceipt is a read frame: a user's read position in a channel.
	ReadReceipt struct {
		ChannelID string `json:"channel_id"`
		UserID    string `json:"user_id"`
		Seq       int64  `json:"seq"`
	}
	// Resumed ends the replay of a channel: events (From, To] were sent.
	Resumed struct {
		ChannelID string `json:"channel_id"`
		From      int64  `json:"from"`
		To        int64  `json:"to"`
	}
	// ResyncRequired says a channel's gap is too large to replay: reload
	// it over REST.
	ResyncRequired struct {
		ChannelID string `json:"channel_id"`
	}
	// ErrorFrame answers a client frame that failed; the socket stays open.
	ErrorFrame struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Ref     string `json:"ref,omitempty"`
	}
	// ToDevice is pairwise ciphertext for one client install; acknowledge
	// it with (*Conn).AckToDevice.
	ToDevice struct {
		ID         string `json:"id"`
		FromUser   string `json:"from_user"`
		FromClient string `json:"from_client"`
		Ciphertext string `json:"ciphertext"`
	}
)
