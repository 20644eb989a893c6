package wire

import (
	"encoding/json"
	"fmt"

	"github.com/unhidra/unhidra"
)

// Server frames: the payload of each frame the server sends, as the
// server encodes it and a client decodes it. Every frame is a JSON object
// whose "type" is the Type field.

type (
	// Hello is the first frame of every socket.
	Hello struct {
		Type         string        `json:"type"`
		SessionID    string        `json:"session_id"`
		ConnectionID string        `json:"connection_id"`
		User         *unhidra.User `json:"user"`
	}
	// Ack confirms a send frame; on the sender's socket it comes before the
	// message echo.
	Ack struct {
		Type        string `json:"type"`
		ClientMsgID string `json:"client_msg_id"`
		MessageID   string `json:"message_id"`
		Seq         int64  `json:"seq"`
	}
	// Error answers a client frame that failed; the socket stays open. Ref
	// is the send's client_msg_id or the frame's ref.
	Error struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Ref     string `json:"ref,omitempty"`
	}
	// MessageFrame is a message or message_updated event: the message as it
	// is at that event (a tombstone once deleted, see docs/api.md).
	MessageFrame struct {
		Type      string           `json:"type"`
		ChannelID string           `json:"channel_id"`
		Seq       int64            `json:"seq"`
		Message   *unhidra.Message `json:"message"`
	}
	// MessageDeleted is a message_deleted event.
	MessageDeleted struct {
		Type      string `json:"type"`
		ChannelID string `json:"channel_id"`
		MessageID string `json:"message_id"`
		Seq       int64  `json:"seq"`
	}
	// Reaction is a reaction event: a user's emoji added or removed.
	Reaction struct {
		Type      string `json:"type"`
		ChannelID string `json:"channel_id"`
		MessageID string `json:"message_id"`
		Emoji     string `json:"emoji,omitempty"` // standard channels
		// ReactionID and Ciphertext are an encrypted channel's reaction:
		// the emoji is inside the ciphertext (absent when it was removed).
		ReactionID string `json:"reaction_id,omitempty"`
		Ciphertext string `json:"ciphertext,omitempty"`
		UserID     string `json:"user_id"`
		Added      bool   `json:"added"`
		Seq        int64  `json:"seq"`
	}
	// ChannelUpdated is a rename, topic or purpose change, or an archive;
	// Channel carries no per-user fields.
	ChannelUpdated struct {
		Type      string           `json:"type"`
		ChannelID string           `json:"channel_id"`
		Seq       int64            `json:"seq"`
		Channel   *unhidra.Channel `json:"channel"`
	}
	// Member is a member_joined (also a role change, with the new role) or
	// member_left event.
	Member struct {
		Type      string `json:"type"`
		ChannelID string `json:"channel_id"`
		UserID    string `json:"user_id"`
		Role      string `json:"role,omitempty"`
		Seq       int64  `json:"seq"`
	}
	// Typing says a user is typing in a channel (ephemeral).
	Typing struct {
		Type      string `json:"type"`
		ChannelID string `json:"channel_id"`
		UserID    string `json:"user_id"`
	}
	// ReadReceipt is a read frame: a user's read position in a channel
	// (ephemeral; Seq is a position, not an event).
	ReadReceipt struct {
		Type      string `json:"type"`
		ChannelID string `json:"channel_id"`
		UserID    string `json:"user_id"`
		Seq       int64  `json:"seq"`
	}
	// Presence carries the statuses of one or more users, batched per
	// socket over a short interval: the ids of the users now in each status
	// (an empty status is left out). A user appears at most once, with
	// their latest status. Ids grouped by status, rather than an object
	// per user, because a mass connect sends every member's status to every
	// member: the frame's size is what it costs.
	Presence struct {
		Type    string   `json:"type"`
		Online  []string `json:"online,omitempty"`
		Away    []string `json:"away,omitempty"`
		DND     []string `json:"dnd,omitempty"`
		Offline []string `json:"offline,omitempty"`
	}
	// Resumed ends the replay of a channel: events (From, To] were sent.
	Resumed struct {
		Type      string `json:"type"`
		ChannelID string `json:"channel_id"`
		From      int64  `json:"from"`
		To        int64  `json:"to"`
	}
	// ResyncRequired says a channel's gap is too large to replay: reload it
	// over REST.
	ResyncRequired struct {
		Type      string `json:"type"`
		ChannelID string `json:"channel_id"`
	}
	// ToDevice is pairwise ciphertext for one client install; it is
	// acknowledged with to_device_ack.
	ToDevice struct {
		Type       string `json:"type"`
		ID         string `json:"id"`
		FromUser   string `json:"from_user"`
		FromClient string `json:"from_client"`
		Ciphertext string `json:"ciphertext"`
	}
	// KeysChanged says a user's end-to-end keys changed (a client
	// registered, removed or given another identity key, a master key
	// replaced): sent on every channel of that user, ephemeral, so clients
	// fetch the user's keys again and warn about what they cannot verify.
	// ClientID names the client concerned, empty for the master key.
	KeysChanged struct {
		Type      string `json:"type"`
		ChannelID string `json:"channel_id"`
		UserID    string `json:"user_id"`
		ClientID  string `json:"client_id,omitempty"`
	}
)

// ServerFrame pairs a server frame type with the struct the server
// encodes for it. Payload is the struct's zero value, or nil for a frame
// with no field but its type (pong).
type ServerFrame struct {
	Type    string
	Payload any
}

// ServerFrames lists every server frame type with its payload, for tools
// that describe the protocol (the web client's TypeScript types): the
// channel events, the other server frames, then those that share a client
// frame's type, each group in the order of its constants. device_status
// has no payload yet, and is not listed until it has.
func ServerFrames() []ServerFrame {
	return []ServerFrame{
		{TypeMessage, MessageFrame{}},
		{TypeMessageUpdated, MessageFrame{}},
		{TypeMessageDeleted, MessageDeleted{}},
		{TypeReaction, Reaction{}},
		{TypeChannelUpdated, ChannelUpdated{}},
		{TypeMemberJoined, Member{}},
		{TypeMemberLeft, Member{}},
		{TypeHello, Hello{}},
		{TypeAck, Ack{}},
		{TypeError, Error{}},
		{TypeResumed, Resumed{}},
		{TypeResyncRequired, ResyncRequired{}},
		{TypePong, nil},
		{TypeToDevice, ToDevice{}},
		{TypeKeysChanged, KeysChanged{}},
		{TypeTyping, Typing{}},
		{TypeRead, ReadReceipt{}},
		{TypePresence, Presence{}},
	}
}

// Encode marshals a frame. The frames of this package contain nothing
// json.Marshal can refuse, so an error here is a programming error.
func Encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("wire: encode: " + err.Error())
	}
	return b
}

// NewHello is the first frame of a socket.
func NewHello(connectionID, sessionID string, user *unhidra.User) []byte {
	return Encode(Hello{TypeHello, sessionID, connectionID, user})
}

// NewAck confirms a send.
func NewAck(clientMsgID, messageID string, seq int64) []byte {
	return Encode(Ack{TypeAck, clientMsgID, messageID, seq})
}

// NewError reports a refused frame.
func NewError(code, message, ref string) []byte {
	return Encode(Error{TypeError, code, message, ref})
}

// NewResumed follows a channel's replay.
func NewResumed(channelID string, from, to int64) []byte {
	return Encode(Resumed{TypeResumed, channelID, from, to})
}

// NewResyncRequired asks the client to reload a channel over REST.
func NewResyncRequired(channelID string) []byte {
	return Encode(ResyncRequired{TypeResyncRequired, channelID})
}

// NewToDevice is a to_device frame.
func NewToDevice(id, fromUser, fromClient, ciphertext string) []byte {
	return Encode(ToDevice{TypeToDevice, id, fromUser, fromClient, ciphertext})
}

// NewKeysChanged is a keys_changed frame for one channel of userID.
func NewKeysChanged(channelID, userID, clientID string) []byte {
	return Encode(KeysChanged{TypeKeysChanged, channelID, userID, clientID})
}

// Pong answers a ping frame.
func Pong() []byte { return []byte(`{"type":"pong"}`) }

// Statuses returns each user's status in the frame.
func (p *Presence) Statuses() map[string]string {
	out := make(map[string]string, len(p.Online)+len(p.Away)+len(p.DND)+len(p.Offline))
	for _, g := range [...]struct {
		status string
		ids    []string
	}{{StatusOnline, p.Online}, {StatusAway, p.Away}, {StatusDND, p.DND}, {StatusOffline, p.Offline}} {
		for _, id := range g.ids {
			out[id] = g.status
		}
	}
	return out
}

// AppendPresence appends a presence frame for the users of statuses (user
// id → status) to dst. A mass connect builds one per batch of users, so it
// appends into a reused buffer rather than going through reflection; the
// output decodes as Presence, and is what Encode gives for it when each
// group is in the order of ids.
func AppendPresence(dst []byte, ids []string, statuses map[string]string) []byte {
	dst = append(dst, `{"type":"presence"`...)
	for _, st := range [...]string{StatusOnline, StatusAway, StatusDND, StatusOffline} {
		first := true
		for _, id := range ids {
			if statuses[id] != st {
				continue
			}
			if first {
				dst = append(dst, `,"`...)
				dst = append(dst, st...)
				dst = append(dst, `":[`...)
				first = false
			} else {
				dst = append(dst, ',')
			}
			dst = appendString(dst, id)
		}
		if !first {
			dst = append(dst, ']')
		}
	}
	return append(dst, '}')
}

// appendString appends s as a JSON string. Ids and statuses are plain
// ASCII, for which this is a copy between quotes; anything else goes
// through encoding/json.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// ParseToDevice decodes a to_device frame, as a client receives it: the
// type, an id and a ciphertext are required.
func ParseToDevice(frame []byte) (ToDevice, error) {
	var m ToDevice
	if err := json.Unmarshal(frame, &m); err != nil {
		return ToDevice{}, fmt.Errorf("parse to_device frame: %w", err)
	}
	if m.Type != TypeToDevice || m.ID == "" || m.Ciphertext == "" {
		return ToDevice{}, fmt.Errorf("parse to_device frame: not a to_device frame with an id and a ciphertext")
	}
	return m, nil
}

// Header is what a client reads of every server frame to route it: the
// type, and for channel events and channel-scoped frames the channel and
// seq (for a read receipt the seq is the read position).
type Header struct {
	Type      string `json:"type"`
	ChannelID string `json:"channel_id"`
	Seq       int64  `json:"seq"`
}

// ParseHeader reads the routing fields of a server frame.
func ParseHeader(frame []byte) (Header, error) {
	var h Header
	if err := json.Unmarshal(frame, &h); err != nil {
		return h, fmt.Errorf("parse frame: %w", err)
	}
	if h.Type == "" {
		return h, fmt.Errorf("parse frame: no type")
	}
	return h, nil
}
