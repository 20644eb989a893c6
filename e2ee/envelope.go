package e2ee

// Group protocols of an Envelope. The byte is there so that MLS can be
// added without a new envelope version; a v1 decoder refuses GroupMLS.
const (
	GroupPairwise   = 0x00 // to-device ciphertext: a Double Ratchet Message or PrekeyMessage
	GroupSenderKeys = 0x01 // a channel message: a SenderKeyMessage
	GroupMLS        = 0x02 // reserved for MLS (RFC 9420)
)

// Envelope is the outer layer of every ciphertext the server stores or
// relays (a channel message's ciphertext field, a to-device message):
// version, group protocol, the sending client, and the protocol's message.
// The sender ids in the clear let the recipient pick the session or sender
// key; they are authenticated inside (associated data, signatures), so a
// server that rewrites them makes decryption fail.
type Envelope struct {
	GroupProtocol  byte
	SenderUserID   string
	SenderClientID string
	Body           []byte
}

// MarshalBinary encodes the envelope (docs/protocol.md "Envelope").
func (e *Envelope) MarshalBinary() ([]byte, error) {
	if err := checkID(e.SenderUserID); err != nil {
		return nil, err
	}
	if err := checkID(e.SenderClientID); err != nil {
		return nil, err
	}
	var w writer
	w.u8(Version)
	w.u8(e.GroupProtocol)
	w.str8(e.SenderUserID)
	w.str8(e.SenderClientID)
	w.raw(e.Body)
	return w.b, nil
}

// ParseEnvelope decodes an envelope and checks that its body has the
// layout its group protocol implies.
func ParseEnvelope(b []byte) (*Envelope, error) {
	r := reader{b: b}
	v, gp := r.u8(), r.u8()
	if r.err != nil {
		return nil, r.err
	}
	if v != Version {
		return nil, errf(ErrUnsupportedVersion, "envelope version %d", v)
	}
	e := &Envelope{GroupProtocol: gp, SenderUserID: r.id(), SenderClientID: r.id()}
	e.Body = r.rest()
	if r.err != nil {
		return nil, r.err
	}
	switch gp {
	case GroupPairwise:
		t, err := MessageType(e.Body)
		if err != nil {
			return nil, err
		}
		switch t {
		case TypeMessage:
			_, err = parseMessage(e.Body)
		case TypePrekeyMessage:
			_, err = ParsePrekeyMessage(e.Body)
		default:
			err = errf(ErrInvalidMessage, "pairwise envelope of type %#x", t)
		}
		if err != nil {
			return nil, err
		}
	case GroupSenderKeys:
		if _, err := ParseSenderKeyMessage(e.Body); err != nil {
			return nil, err
		}
	case GroupMLS:
		return nil, errf(ErrUnsupportedVersion, "MLS envelopes are not supported by protocol version %d", Version)
	default:
		return nil, errf(ErrUnsupportedVersion, "group protocol %#x", gp)
	}
	return e, nil
}

// MarshalApplication wraps application bytes (a client's own content
// format) for a pairwise session, beside the sender-key payloads: every
// pairwise plaintext starts with version and type.
func MarshalApplication(body []byte) []byte {
	return append([]byte{Version, TypeApplication}, body...)
}

// ParseApplication unwraps what MarshalApplication made.
func ParseApplication(b []byte) ([]byte, error) {
	r := reader{b: b}
	if err := r.header(TypeApplication); err != nil {
		return nil, err
	}
	return r.rest(), nil
}
