package unhidra

import (
	"encoding/json"
	"time"
)

// Channel event types: every durable change in a channel is one of these,
// with the channel's next gap-free seq (API.md "Channel events and seq").
const (
	EventMessage        = "message"
	EventMessageUpdated = "message_updated" // edits and pins
	EventMessageDeleted = "message_deleted"
	EventReaction       = "reaction"
	EventChannelUpdated = "channel_updated" // rename, topic, purpose, archive
	EventMemberJoined   = "member_joined"
	EventMemberLeft     = "member_left" // leave, removal, and role changes are member_joined with the new role
)

// Event is one durable channel event. Frame is exactly the WebSocket frame
// sent to clients: a JSON object with top-level "type", "channel_id" and
// "seq". It is stored as is, so a replay from the store sends the same bytes
// as the live delivery did.
type Event struct {
	ChannelID string          `json:"channel_id"`
	Seq       int64           `json:"seq"`
	Type      string          `json:"type"`
	Frame     json.RawMessage `json:"frame"`
	CreatedAt time.Time       `json:"created_at"`
}

// Bus subjects. The services publish after the durable commit; every node's
// gateway subscribes with the wildcard forms and fans out to its own sockets.
//
//   - ChannelEventsSubject: the Frame of each durable channel event, in seq
//     order per channel as far as the publisher can tell (the gateway still
//     reorders and fills gaps from the store).
//   - ChannelEphemeralSubject: frames that are not channel events and carry no
//     event seq: typing, read receipts.
//   - UserSubject: control messages about one user (a ControlMessage), so
//     that every node's sockets of that user follow membership and session
//     changes at once.
//   - PresenceSubject: a presence frame for one user; delivered to sockets
//     of users who share a channel with them.
func ChannelEventsSubject(channelID string) string    { return "chan." + channelID }
func ChannelEphemeralSubject(channelID string) string { return "eph." + channelID }
func UserSubject(userID string) string                { return "user." + userID }
func PresenceSubject(userID string) string            { return "presence." + userID }

// Wildcards matching every subject of each kind.
const (
	AllChannelEvents    = "chan.>"
	AllChannelEphemeral = "eph.>"
	AllUsers            = "user.>"
	AllPresence         = "presence.>"
)

// Control message types on UserSubject.
const (
	// ControlSubscribe: the user became a member of ChannelID; every socket
	// of the user starts hearing it from the event Seq (their member_joined)
	// on. Creating a channel emits one member_joined per initial member, the
	// first with seq 1.
	ControlSubscribe = "subscribe"
	// ControlUnsubscribe: the user left or was removed from ChannelID; their
	// sockets get the events up to and including Seq (their own
	// member_left) and nothing after.
	ControlUnsubscribe = "unsubscribe"
	// ControlSessionRevoked: SessionID was revoked (logout, revoke); its
	// sockets close with 4001.
	ControlSessionRevoked = "session_revoked"
	// ControlSessionsRevoked: every session of the user except KeepSession
	// was revoked (password change, revoke-all, account disabled when
	// KeepSession is empty); those sockets close with 4001.
	ControlSessionsRevoked = "sessions_revoked"
)

// ControlMessage is published on UserSubject.
type ControlMessage struct {
	Type        string `json:"type"`
	ChannelID   string `json:"channel_id,omitempty"`
	Seq         int64  `json:"seq,omitempty"`
	SessionID   string `json:"session_id,omitempty"`
	KeepSession string `json:"keep_session,omitempty"`
}
