package wire

// Subprotocols (Sec-WebSocket-Protocol).
const (
	// Subprotocol is the protocol of API v1. A client must offer it; the
	// server answers it.
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
	CloseByAdmin         = 4010 // an administrator closed this socket; the session stays valid: reconnect and resume
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

// Channel event types: every durable change in a channel is one of these,
// with the channel's next gap-free seq (API.md "Channel events and seq").
// The frame of a channel event has the event's type.
const (
	TypeMessage        = "message"
	TypeMessageUpdated = "message_updated" // edits, pins, thread counts; tombstones on replay
	TypeMessageDeleted = "message_deleted"
	TypeReaction       = "reaction"
	TypeChannelUpdated = "channel_updated" // rename, topic, purpose, archive
	TypeMemberJoined   = "member_joined"   // also a role change, with the new role
	TypeMemberLeft     = "member_left"     // leave and removal
)

// Other server frame types. Typing (TypeTyping), read receipts (TypeRead)
// and presence (TypePresence) share their client frame's type.
const (
	TypeHello          = "hello"
	TypeAck            = "ack"
	TypeError          = "error"
	TypeResumed        = "resumed"
	TypeResyncRequired = "resync_required"
	TypePong           = "pong"
	TypeToDevice       = "to_device"
	TypeKeysChanged    = "keys_changed"
	TypeDeviceStatus   = "device_status"
)

// IsChannelEvent reports whether frames of type t carry a durable channel
// event: a channel_id and the event's gap-free seq. Other frames may carry
// a seq with another meaning (a read receipt's seq is a read position), so
// only these advance resume positions.
func IsChannelEvent(t string) bool {
	switch t {
	case TypeMessage, TypeMessageUpdated, TypeMessageDeleted, TypeReaction,
		TypeChannelUpdated, TypeMemberJoined, TypeMemberLeft:
		return true
	}
	return false
}

// Presence statuses.
const (
	StatusOnline  = "online"
	StatusAway    = "away"
	StatusDND     = "dnd"
	StatusOffline = "offline"
)

// Bounds on one client frame: what a single frame may ask of the server.
// The frame size limit (the gateway's MaxFrameBytes, 64 KiB) bounds the
// strings; these bound the work.
const (
	MaxPositions   = 10000 // channels in one resume
	MaxAckIDs      = 1000  // ids in one to_device_ack
	MaxTokenLength = 8192  // an access token in an auth frame
	MaxAttachments = 32    // attachments in one send
	MaxRefLength   = 128   // the client's correlation ref
)
