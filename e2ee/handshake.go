package e2ee

import (
	"crypto/mlkem"
	"crypto/sha256"
	"io"
	"time"
)

// Version is the protocol version every message, envelope and state of this
// package starts with.
const Version = 1

// Message types (the second byte of every message).
const (
	TypeMessage               = 0x01 // a Double Ratchet message
	TypePrekeyMessage         = 0x02 // a handshake plus the first ratchet message(s)
	TypeSenderKeyMessage      = 0x03 // a group message under a sender key
	TypeSenderKeyDistribution = 0x04 // a sender key, sent over a pairwise session
	TypeSenderKeyRequest      = 0x05 // a request for a sender key
	TypeApplication           = 0x06 // application bytes over a pairwise session
)

const flagOneTimePrekey = 0x01

// PrekeyMessage opens a session: the initiator's identity, which of the
// responder's prekeys it used, its ephemeral (base) key, the ML-KEM
// ciphertext and the first Double Ratchet message. Until the initiator has
// decrypted a reply, every message it sends is a PrekeyMessage with the same
// handshake fields, so the session is set up by whichever arrives first.
type PrekeyMessage struct {
	Sender           ClientIdentity
	SignedPrekeyID   uint32
	HasOneTimePrekey bool
	OneTimePrekeyID  uint32
	PQPrekeyID       uint32
	BaseKey          DHPublic
	KEMCiphertext    []byte
	// Message is the enclosed Double Ratchet message (TypeMessage).
	Message []byte
}

// MarshalBinary encodes the message (docs/protocol.md "PrekeyMessage").
func (m *PrekeyMessage) MarshalBinary() ([]byte, error) {
	var w writer
	w.u8(Version)
	w.u8(TypePrekeyMessage)
	var flags byte
	if m.HasOneTimePrekey {
		flags |= flagOneTimePrekey
	}
	w.u8(flags)
	w.identity(&m.Sender)
	w.u32(m.SignedPrekeyID)
	if m.HasOneTimePrekey {
		w.u32(m.OneTimePrekeyID)
	}
	w.u32(m.PQPrekeyID)
	w.raw(m.BaseKey[:])
	w.raw(m.KEMCiphertext)
	w.raw(m.Message)
	return w.b, nil
}

// ParsePrekeyMessage decodes a PrekeyMessage. It checks the layout only;
// Respond checks the keys and signatures.
func ParsePrekeyMessage(b []byte) (*PrekeyMessage, error) {
	r := reader{b: b}
	if err := r.header(TypePrekeyMessage); err != nil {
		return nil, err
	}
	flags := r.u8()
	if flags&^flagOneTimePrekey != 0 {
		return nil, errf(ErrInvalidMessage, "reserved prekey message flags")
	}
	m := &PrekeyMessage{Sender: r.identity(), SignedPrekeyID: r.u32()}
	if flags&flagOneTimePrekey != 0 {
		m.HasOneTimePrekey = true
		m.OneTimePrekeyID = r.u32()
	}
	m.PQPrekeyID = r.u32()
	m.BaseKey = r.array32()
	m.KEMCiphertext = clone(r.take(KEMCiphertextSize))
	m.Message = r.rest()
	if r.err != nil {
		return nil, r.err
	}
	if _, err := parseMessage(m.Message); err != nil {
		return nil, err
	}
	return m, nil
}

// header reads and checks the version and type bytes.
func (r *reader) header(typ byte) error {
	v, t := r.u8(), r.u8()
	if r.err != nil {
		return r.err
	}
	if v != Version {
		return errf(ErrUnsupportedVersion, "version %d", v)
	}
	if t != typ {
		return errf(ErrInvalidMessage, "type %#x, want %#x", t, typ)
	}
	return nil
}

// MessageType returns the type byte of a pairwise message or payload
// (TypeMessage, TypePrekeyMessage, …) after checking the version.
func MessageType(b []byte) (byte, error) {
	if len(b) < 2 {
		return 0, errf(ErrInvalidMessage, "too short")
	}
	if b[0] != Version {
		return 0, errf(ErrUnsupportedVersion, "version %d", b[0])
	}
	return b[1], nil
}

// handshake is the material both sides hash into the transcript.
type handshake struct {
	initiator, responder *ClientIdentity
	spkID                uint32
	spk                  DHPublic
	hasOPK               bool
	opkID                uint32
	opk                  DHPublic
	pqID                 uint32
	pq                   *KEMPublic
	baseKey              DHPublic
	kemCT                []byte
}

// transcript is th = SHA-256(context("UnhidraTranscript", …)): it binds
// both identities, every prekey used, the base key and the KEM ciphertext,
// and is the associated data of every message of the session.
func (h *handshake) transcript() [32]byte {
	var opkID, opk []byte
	if h.hasOPK {
		opkID, opk = u32(h.opkID), h.opk[:]
	}
	a, b := h.initiator, h.responder
	return sha256.Sum256(context(labelTranscript,
		[]byte{Version},
		[]byte(a.UserID), []byte(a.ClientID), a.SigningKey[:], a.IdentityKey[:],
		[]byte(b.UserID), []byte(b.ClientID), b.SigningKey[:], b.IdentityKey[:],
		u32(h.spkID), h.spk[:], opkID, opk, u32(h.pqID), h.pq[:],
		h.baseKey[:], h.kemCT))
}

// sharedKey is SK = HKDF(salt = 32 zero bytes, ikm = 32×0xFF || DH1 || DH2
// || DH3 [|| DH4] || SS, info = context("UnhidraHandshake", th)).
func sharedKey(th [32]byte, dhs [][]byte, ss []byte) [32]byte {
	ikm := make([]byte, 32, 32*6)
	for i := range ikm {
		ikm[i] = 0xff
	}
	for _, d := range dhs {
		ikm = append(ikm, d...)
	}
	ikm = append(ikm, ss...)
	var sk [32]byte
	copy(sk[:], hkdfSHA256(ikm, make([]byte, 32), string(context(labelHandshake, th[:])), 32))
	return sk
}

// Initiate starts a session with the client whose bundle was fetched from
// the key directory (X3DH with the ML-KEM step of PQXDH). It verifies the
// bundle first; the caller must also have checked that the bundle's
// identity is in the user's signed client list, or show it as unverified.
// rand (nil: crypto/rand) supplies the 32-byte ephemeral key and then the
// 32-byte first ratchet key; the ML-KEM encapsulation draws its own
// randomness. Until a reply decrypts, Encrypt returns PrekeyMessages.
func Initiate(rand io.Reader, self *ClientKeys, peer *Bundle) (*Session, error) {
	return initiate(rand, self, peer, systemEncapsulate)
}

func initiate(rand io.Reader, self *ClientKeys, peer *Bundle, encaps encapsulator) (*Session, error) {
	if err := peer.Verify(); err != nil {
		return nil, err
	}
	local := self.Public()
	if peer.IdentityKey == local.IdentityKey || peer.SigningKey == local.SigningKey {
		return nil, errf(ErrInvalidKey, "peer is this client")
	}
	ek, err := GenerateDHKey(rand)
	if err != nil {
		return nil, err
	}
	pqKey, err := mlkem.NewEncapsulationKey768(peer.PQPrekey.Key[:])
	if err != nil {
		return nil, errf(ErrInvalidKey, "PQ prekey")
	}
	ss, ct, err := encaps(rand, pqKey)
	if err != nil {
		return nil, err
	}
	dh1, err := self.Identity.dh(peer.SignedPrekey.Key)
	if err != nil {
		return nil, err
	}
	dh2, err := ek.dh(peer.IdentityKey)
	if err != nil {
		return nil, err
	}
	dh3, err := ek.dh(peer.SignedPrekey.Key)
	if err != nil {
		return nil, err
	}
	dhs := [][]byte{dh1, dh2, dh3}
	h := handshake{
		initiator: &local, responder: &peer.ClientIdentity,
		spkID: peer.SignedPrekey.ID, spk: peer.SignedPrekey.Key,
		pqID: peer.PQPrekey.ID, pq: &peer.PQPrekey.Key,
		baseKey: ek.Public(), kemCT: ct,
	}
	if opk := peer.OneTimePrekey; opk != nil {
		dh4, err := ek.dh(opk.Key)
		if err != nil {
			return nil, err
		}
		dhs = append(dhs, dh4)
		h.hasOPK, h.opkID, h.opk = true, opk.ID, opk.Key
	}
	th := h.transcript()
	// The first sending chain, with a ratchet key of its own: the
	// ephemeral key is forgotten as soon as SK is derived.
	rk0, err := GenerateDHKey(rand)
	if err != nil {
		return nil, err
	}
	out, err := rk0.dh(peer.SignedPrekey.Key)
	if err != nil {
		return nil, err
	}
	s := &Session{
		local:     local,
		remote:    peer.ClientIdentity,
		initiator: true,
		ad:        th,
		baseKey:   ek.Public(),
		dhs:       rk0,
		dhr:       peer.SignedPrekey.Key,
		hasDHr:    true,
		hasCKs:    true,
		pending: &pendingPrekey{
			spkID: h.spkID, hasOPK: h.hasOPK, opkID: h.opkID, pqID: h.pqID, kemCT: ct,
		},
	}
	s.rk, s.cks = kdfRK(sharedKey(th, dhs, ss), out)
	return s, nil
}

// Respond accepts a PrekeyMessage: the caller looked up the private keys
// the message names (m.SignedPrekeyID, m.PQPrekeyID and, when
// m.HasOneTimePrekey, m.OneTimePrekeyID; opk is nil otherwise) and passes
// them in. It returns the new session and the plaintext of the enclosed
// message. The caller then saves the session, deletes the one-time prekey
// for good, and remembers m.BaseKey, so that a replay of the same prekey
// message (which opens again while the signed prekey lives) is refused.
// now is the time skipped message keys are stamped with.
func Respond(self *ClientKeys, spk *DHKey, pq *KEMKey, opk *DHKey, m *PrekeyMessage, now time.Time) (*Session, []byte, error) {
	if err := m.Sender.Verify(); err != nil {
		return nil, nil, err
	}
	local := self.Public()
	if m.Sender.IdentityKey == local.IdentityKey || m.Sender.SigningKey == local.SigningKey {
		return nil, nil, errf(ErrInvalidKey, "peer is this client")
	}
	if spk == nil || pq == nil || (opk == nil) == m.HasOneTimePrekey {
		return nil, nil, errf(ErrMissingPrekey, "prekeys do not match the message")
	}
	dh1, err := spk.dh(m.Sender.IdentityKey)
	if err != nil {
		return nil, nil, err
	}
	dh2, err := self.Identity.dh(m.BaseKey)
	if err != nil {
		return nil, nil, err
	}
	dh3, err := spk.dh(m.BaseKey)
	if err != nil {
		return nil, nil, err
	}
	dhs := [][]byte{dh1, dh2, dh3}
	pqPub := pq.Public()
	h := handshake{
		initiator: &m.Sender, responder: &local,
		spkID: m.SignedPrekeyID, spk: spk.Public(),
		pqID: m.PQPrekeyID, pq: &pqPub,
		baseKey: m.BaseKey, kemCT: m.KEMCiphertext,
	}
	if opk != nil {
		dh4, err := opk.dh(m.BaseKey)
		if err != nil {
			return nil, nil, err
		}
		dhs = append(dhs, dh4)
		h.hasOPK, h.opkID, h.opk = true, m.OneTimePrekeyID, opk.Public()
	}
	ss, err := pq.dk.Decapsulate(m.KEMCiphertext)
	if err != nil {
		return nil, nil, errf(ErrInvalidMessage, "KEM ciphertext")
	}
	th := h.transcript()
	s := &Session{
		local:   local,
		remote:  m.Sender,
		ad:      th,
		baseKey: m.BaseKey,
		dhs:     spk,
		rk:      sharedKey(th, dhs, ss),
	}
	pt, err := s.decryptMessage(m.Message, now)
	if err != nil {
		return nil, nil, err
	}
	return s, pt, nil
}
