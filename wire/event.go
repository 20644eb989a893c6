package wire

import (
	"encoding/binary"
	"errors"
)

// Event is a frame as it travels on the bus from the service that made it
// to every node's gateway: the frame bytes, written as they are to every
// socket, with the metadata that routes and orders it beside them, so that
// no gateway parses a frame back to learn what its sender already knew.
//
// Channel events (on ChannelEventsSubject) have a Seq; ephemeral frames
// (typing, read receipts, on ChannelEphemeralSubject) have Seq 0.
type Event struct {
	Type      string
	ChannelID string
	Seq       int64
	// MessageID is the message a message, message_updated,
	// message_deleted or reaction event is about.
	MessageID string
	// UserID is the member of member_joined and member_left, the reactor
	// of a reaction, and the user of a typing frame or read receipt.
	UserID string
	// At is when the event was stored, in unix microseconds; for a
	// message event, the message's created_at.
	At int64
	// Supersedes says the event changes the content of MessageID (an edit
	// or a delete): no earlier frame of that message may be replayed as it
	// was sent, so a gateway drops what it keeps of them.
	Supersedes bool
	Frame      []byte
}

// envelopeVersion leads every encoded Event, so the format can change
// while nodes of two versions share a bus.
const envelopeVersion = 1

// Flag bits of the envelope's flags byte.
const flagSupersedes = 1 << 0

// maxEnvelopeField bounds each string of the envelope when decoding: ids
// and type names are short, and a corrupt length must not allocate.
const maxEnvelopeField = 1 << 10

// ErrBadEnvelope is returned by ParseEvent for anything but an envelope
// written by Append.
var ErrBadEnvelope = errors.New("wire: malformed event envelope")

// Append encodes e (envelope, then the frame bytes) onto dst.
func (e *Event) Append(dst []byte) []byte {
	dst = append(dst, envelopeVersion)
	for _, s := range [...]string{e.Type, e.ChannelID, e.MessageID, e.UserID} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	dst = binary.AppendVarint(dst, e.Seq)
	dst = binary.AppendVarint(dst, e.At)
	var flags byte
	if e.Supersedes {
		flags |= flagSupersedes
	}
	dst = append(dst, flags)
	return append(dst, e.Frame...)
}

// ParseEvent decodes an envelope made by Append. The returned Frame
// aliases b: the bus never reuses a message's bytes, so it may be kept,
// read-only.
func ParseEvent(b []byte) (Event, error) {
	var e Event
	if len(b) == 0 || b[0] != envelopeVersion {
		return e, ErrBadEnvelope
	}
	b = b[1:]
	for _, dst := range [...]*string{&e.Type, &e.ChannelID, &e.MessageID, &e.UserID} {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > maxEnvelopeField || n > uint64(len(b)-k) {
			return Event{}, ErrBadEnvelope
		}
		*dst = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	for _, dst := range [...]*int64{&e.Seq, &e.At} {
		v, k := binary.Varint(b)
		if k <= 0 {
			return Event{}, ErrBadEnvelope
		}
		*dst = v
		b = b[k:]
	}
	if len(b) == 0 || b[0]&^flagSupersedes != 0 {
		return Event{}, ErrBadEnvelope
	}
	e.Supersedes = b[0]&flagSupersedes != 0
	e.Frame = b[1:]
	return e, nil
}
