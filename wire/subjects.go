package wire

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/unhidra/unhidra"
)

// Bus subjects. The services publish after the durable commit; every
// node's gateway subscribes with the wildcard forms and fans out to its own
// sockets. Subjects are dot-separated tokens (package bus); ids never
// contain a dot.
//
//   - ChannelEventsSubject: an Event (Append) for each durable channel
//     event, in seq order per channel as far as one publisher can tell
//     (the gateway still reorders and fills gaps from the store).
//   - ChannelEphemeralSubject: an Event with Seq 0 for frames that are not
//     channel events: typing, read receipts.
//   - UserSubject: a Control message about one user, so that every node's
//     sockets of that user follow membership and session changes at once.
//   - PresenceSubject: a PresenceUpdate, one user's status as computed by
//     the node that holds their sockets.
const (
	prefixChannelEvents = "chan."
	prefixEphemeral     = "eph."
	prefixUser          = "user."
	prefixPresence      = "presence."
)

// Device subjects, reserved for the devices that join as participants:
// device.<id>.status carries a device's connection status between the node
// that holds its connection and the others, device.<id>.cmd a command on
// its way to whichever node holds the device (JetStream, kept for the
// command's TTL, so a command sent while the device is away waits for it),
// device.<id>.ack the device's acknowledgement on its way back. Nothing
// else may publish under "device.".
const (
	prefixDevice     = "device."
	suffixDeviceStat = ".status"
	suffixDeviceCmd  = ".cmd"
	suffixDeviceAck  = ".ack"
)

// Device subject builders and wildcards.
func DeviceStatusSubject(deviceID string) string  { return prefixDevice + deviceID + suffixDeviceStat }
func DeviceCommandSubject(deviceID string) string { return prefixDevice + deviceID + suffixDeviceCmd }
func DeviceAckSubject(deviceID string) string     { return prefixDevice + deviceID + suffixDeviceAck }

const (
	AllDeviceStatus   = prefixDevice + "*" + suffixDeviceStat
	AllDeviceCommands = prefixDevice + "*" + suffixDeviceCmd
	AllDeviceAcks     = prefixDevice + "*" + suffixDeviceAck
)

// Subject builders.
func ChannelEventsSubject(channelID string) string    { return prefixChannelEvents + channelID }
func ChannelEphemeralSubject(channelID string) string { return prefixEphemeral + channelID }
func UserSubject(userID string) string                { return prefixUser + userID }
func PresenceSubject(userID string) string            { return prefixPresence + userID }

// Wildcards matching every subject of each kind.
const (
	AllChannelEvents    = prefixChannelEvents + ">"
	AllChannelEphemeral = prefixEphemeral + ">"
	AllUsers            = prefixUser + ">"
	AllPresence         = prefixPresence + ">"
)

// SubjectID returns the id a subject of one of the kinds above names, and
// whether subject is of that kind (kind is one of the All… wildcards).
func SubjectID(kind, subject string) (string, bool) {
	prefix := strings.TrimSuffix(kind, ">")
	id, ok := strings.CutPrefix(subject, prefix)
	return id, ok && id != ""
}

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
	// ControlToDevice: to-device messages IDs (at most MaxAckIDs) wait for
	// the user's client ClientID; the sockets of that client read them
	// from the store and send them as to_device frames. Ids only: the
	// ciphertext never travels on the bus.
	ControlToDevice = "to_device"
)

// Control is published on UserSubject.
type Control struct {
	Type        string   `json:"type"`
	ChannelID   string   `json:"channel_id,omitempty"`
	Seq         int64    `json:"seq,omitempty"`
	SessionID   string   `json:"session_id,omitempty"`
	KeepSession string   `json:"keep_session,omitempty"`
	ClientID    string   `json:"client_id,omitempty"`
	IDs         []string `json:"ids,omitempty"`
}

// Encode returns the message's bytes for the bus.
func (m Control) Encode() []byte { return Encode(m) }

// ParseControl decodes a Control message. A to_device notice must name a
// client and carry 1 to MaxAckIDs ids, each an id (unhidra.CheckID), so a
// gateway never reads the store for a malformed one.
func ParseControl(b []byte) (Control, error) {
	var m Control
	if err := json.Unmarshal(b, &m); err != nil {
		return Control{}, err
	}
	if len(m.IDs) == 0 {
		m.IDs = nil
	}
	if m.Type == ControlToDevice {
		if m.ClientID == "" || len(m.IDs) == 0 || len(m.IDs) > MaxAckIDs {
			return Control{}, errors.New("wire: to_device notice without a client or with no or too many ids")
		}
		for _, id := range m.IDs {
			if unhidra.CheckID("id", id) != nil {
				return Control{}, errors.New("wire: to_device notice with a malformed id")
			}
		}
	}
	return m, nil
}

// PresenceUpdate is published on PresenceSubject when a user's status on a
// node changes.
type PresenceUpdate struct {
	UserID string `json:"user_id"`
	Status string `json:"status"`
}

// Encode returns the message's bytes for the bus.
func (p PresenceUpdate) Encode() []byte { return Encode(p) }

// ParsePresenceUpdate decodes a PresenceUpdate and checks its status.
func ParsePresenceUpdate(b []byte) (PresenceUpdate, error) {
	var p PresenceUpdate
	if err := json.Unmarshal(b, &p); err != nil {
		return p, err
	}
	switch p.Status {
	case StatusOnline, StatusAway, StatusDND, StatusOffline:
	default:
		return PresenceUpdate{}, errors.New("wire: unknown presence status")
	}
	return p, nil
}
