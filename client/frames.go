package client

import (
	"encoding/json"
	"fmt"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/wire"
)

// Server → client frame types (API.md "Real-time"; the protocol is package
// wire).
const (
	FrameHello          = wire.TypeHello
	FrameAck            = wire.TypeAck
	FrameMessage        = wire.TypeMessage
	FrameMessageUpdated = wire.TypeMessageUpdated
	FrameMessageDeleted = wire.TypeMessageDeleted
	FrameReaction       = wire.TypeReaction
	FrameChannelUpdated = wire.TypeChannelUpdated
	FrameMemberJoined   = wire.TypeMemberJoined
	FrameMemberLeft     = wire.TypeMemberLeft
	FrameTyping         = wire.TypeTyping
	FramePresence       = wire.TypePresence
	FrameRead           = wire.TypeRead
	FrameDeviceStatus   = wire.TypeDeviceStatus
	FrameToDevice       = wire.TypeToDevice
	FrameKeysChanged    = wire.TypeKeysChanged
	FrameResumed        = wire.TypeResumed
	FrameResyncRequired = wire.TypeResyncRequired
	FrameError          = wire.TypeError
	FramePong           = wire.TypePong
)

// IsChannelEvent reports whether frames of type t carry a durable channel
// event, i.e. a channel_id and the event's gap-free seq. Other frames may
// carry a seq with another meaning (a read frame's seq is a read position),
// so only these advance resume positions.
func IsChannelEvent(t string) bool { return wire.IsChannelEvent(t) }

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
	h, err := wire.ParseHeader(b)
	if err != nil {
		return nil, err
	}
	return &Frame{Type: h.Type, ChannelID: h.ChannelID, Seq: h.Seq, Raw: append(json.RawMessage(nil), b...)}, nil
}

// Decode unmarshals the frame into v (one of the payload types below, or
// anything matching the JSON).
func (f *Frame) Decode(v any) error {
	if err := json.Unmarshal(f.Raw, v); err != nil {
		return fmt.Errorf("decode %s frame: %w", f.Type, err)
	}
	return nil
}

// IsChannelEvent reports whether f is a durable channel event.
func (f *Frame) IsChannelEvent() bool { return wire.IsChannelEvent(f.Type) }

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

// Payloads of the server frames: the protocol's own types.
type (
	Hello          = wire.Hello
	Ack            = wire.Ack
	MessageFrame   = wire.MessageFrame
	MessageDeleted = wire.MessageDeleted
	Reaction       = wire.Reaction
	MemberFrame    = wire.Member
	ChannelUpdated = wire.ChannelUpdated
	Typing         = wire.Typing
	// Presence carries one or more users' statuses, batched by the
	// server; Statuses lists them.
	Presence       = wire.Presence
	ReadReceipt    = wire.ReadReceipt
	Resumed        = wire.Resumed
	ResyncRequired = wire.ResyncRequired
	ErrorFrame     = wire.Error
	ToDevice       = wire.ToDevice
	KeysChanged    = wire.KeysChanged
)

// ToDevice returns the message of a to_device frame; acknowledge it with
// Conn.AckToDevice once it is handled, or it comes again.
func (f *Frame) ToDevice() (*ToDevice, error) {
	m, err := wire.ParseToDevice(f.Raw)
	if err != nil {
		return nil, err
	}
	return &m, nil
}
