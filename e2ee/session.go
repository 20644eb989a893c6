package e2ee

import (
	"io"
	"math"
	"slices"
	"time"
)

// Limits of the Double Ratchet (docs/protocol.md "Limits").
const (
	// MaxSkip is the most message keys one message may make a receiving
	// chain skip (messages lost or still on their way). A message further
	// ahead is refused with ErrTooManySkipped.
	MaxSkip = 1000
	// MaxSkippedKeys is the most skipped message keys a session keeps; past
	// it the oldest are deleted (their messages then fail with ErrDuplicate).
	MaxSkippedKeys = 2000
	// SkippedKeyMaxAge is how long a skipped message key is kept.
	SkippedKeyMaxAge = 30 * 24 * time.Hour
	// maxPreviousChains is how many earlier remote ratchet keys a session
	// remembers, so a replayed message of an old chain is reported as
	// ErrDuplicate rather than attempted as a new ratchet step.
	maxPreviousChains = 8
)

// Session is one Double Ratchet session between two client installs. It is
// not safe for concurrent use. Encrypt and Decrypt change it only when they
// succeed; the caller saves it (MarshalBinary) before it sends what Encrypt
// returned or shows what Decrypt returned, atomically, and never saves an
// older state over a newer one (Generation only grows). Reusing a state
// after its successor was used would reuse message keys.
type Session struct {
	local, remote ClientIdentity
	initiator     bool
	ad            [32]byte // the handshake transcript th
	baseKey       DHPublic // the initiator's ephemeral key
	dhs           *DHKey
	dhr           DHPublic
	hasDHr        bool
	rk            [32]byte
	cks, ckr      [32]byte
	hasCKs        bool
	hasCKr        bool
	ns, nr, pn    uint32
	sendRatchet   bool // the next Encrypt makes a new ratchet key first
	pending       *pendingPrekey
	skipped       []skippedKey
	prevRemote    []DHPublic
	generation    uint64
}

// pendingPrekey is the handshake an initiator repeats in every message
// until its first reply decrypts.
type pendingPrekey struct {
	spkID  uint32
	hasOPK bool
	opkID  uint32
	pqID   uint32
	kemCT  []byte
}

type skippedKey struct {
	dh     DHPublic
	n      uint32
	mk     [32]byte
	stored int64 // Unix seconds
}

// Local and Remote return the two identities; Remote is authenticated by
// the handshake (the caller checks it against the user's client list).
func (s *Session) Local() ClientIdentity  { return s.local }
func (s *Session) Remote() ClientIdentity { return s.remote }

// Initiator reports whether this side started the session.
func (s *Session) Initiator() bool { return s.initiator }

// BaseKey is the initiator's ephemeral key, which names the session: a
// PrekeyMessage with another base key is for another session.
func (s *Session) BaseKey() DHPublic { return s.baseKey }

// Generation counts the session's changes; a store refuses to save a state
// whose generation is not above the saved one.
func (s *Session) Generation() uint64 { return s.generation }

// Established reports whether the peer is known to have the session (a
// message from it decrypted); until then Encrypt returns PrekeyMessages.
func (s *Session) Established() bool { return s.pending == nil }

// SkippedKeys is how many skipped message keys the session holds.
func (s *Session) SkippedKeys() int { return len(s.skipped) }

func (s *Session) clone() *Session {
	c := *s
	c.skipped = slices.Clone(s.skipped)
	c.prevRemote = slices.Clone(s.prevRemote)
	if s.pending != nil {
		p := *s.pending
		c.pending = &p
	}
	return &c
}

// message is a parsed Double Ratchet message.
type message struct {
	header     []byte // version, type, dh, pn, n: the first 42 bytes
	dh         DHPublic
	pn, n      uint32
	ciphertext []byte
}

const messageHeaderSize = 2 + 32 + 4 + 4

func parseMessage(b []byte) (*message, error) {
	r := reader{b: b}
	if err := r.header(TypeMessage); err != nil {
		return nil, err
	}
	m := &message{dh: r.array32(), pn: r.u32(), n: r.u32()}
	m.ciphertext = r.rest()
	if r.err != nil {
		return nil, r.err
	}
	if m.n == math.MaxUint32 {
		return nil, errf(ErrInvalidMessage, "message number out of range")
	}
	if len(m.ciphertext) < PadBlock+16 {
		return nil, errf(ErrInvalidMessage, "ciphertext too short")
	}
	m.header = b[:messageHeaderSize:messageHeaderSize]
	return m, nil
}

func (s *Session) aad(header []byte) []byte {
	return append(s.ad[:], header...)
}

// Encrypt encrypts one message. rand (nil: crypto/rand) supplies the 32
// bytes of a new ratchet key when one is due (the first message, and the
// first after each message received with a new ratchet key). Until the
// session is Established the result is a PrekeyMessage, else a Message.
func (s *Session) Encrypt(rand io.Reader, plaintext []byte) ([]byte, error) {
	c := s.clone()
	if c.sendRatchet {
		k, err := GenerateDHKey(rand)
		if err != nil {
			return nil, err
		}
		out, err := k.dh(c.dhr)
		if err != nil {
			return nil, err
		}
		c.dhs = k
		c.rk, c.cks = kdfRK(c.rk, out)
		c.hasCKs, c.sendRatchet = true, false
	}
	if !c.hasCKs {
		return nil, errf(ErrInvalidMessage, "no sending chain")
	}
	if c.ns == math.MaxUint32 {
		return nil, errf(ErrExhausted, "sending chain")
	}
	var mk [32]byte
	c.cks, mk = kdfCK(c.cks)
	var w writer
	w.u8(Version)
	w.u8(TypeMessage)
	pub := c.dhs.Public()
	w.raw(pub[:])
	w.u32(c.pn)
	w.u32(c.ns)
	c.ns++
	key, nonce := messageAEAD(mk, labelMessageKey)
	msg := append(w.b, seal(key, nonce, pad(plaintext), c.aad(w.b))...)
	if p := c.pending; p != nil {
		pm := PrekeyMessage{
			Sender: c.local, SignedPrekeyID: p.spkID, HasOneTimePrekey: p.hasOPK, OneTimePrekeyID: p.opkID,
			PQPrekeyID: p.pqID, BaseKey: c.baseKey, KEMCiphertext: p.kemCT, Message: msg,
		}
		msg, _ = pm.MarshalBinary()
	}
	c.generation++
	*s = *c
	return msg, nil
}

// Decrypt decrypts a Message or a PrekeyMessage of this session (same base
// key; any other is ErrWrongSession). A replayed message is ErrDuplicate, a
// changed one ErrDecrypt; neither changes the session. now stamps skipped
// keys and expires those older than SkippedKeyMaxAge.
func (s *Session) Decrypt(msg []byte, now time.Time) ([]byte, error) {
	t, err := MessageType(msg)
	if err != nil {
		return nil, err
	}
	if t == TypePrekeyMessage {
		pm, err := ParsePrekeyMessage(msg)
		if err != nil {
			return nil, err
		}
		if s.initiator || pm.BaseKey != s.baseKey || !pm.Sender.Equal(&s.remote) {
			return nil, errf(ErrWrongSession, "prekey message of another session")
		}
		msg = pm.Message
	}
	return s.decryptMessage(msg, now)
}

func (s *Session) decryptMessage(b []byte, now time.Time) ([]byte, error) {
	m, err := parseMessage(b)
	if err != nil {
		return nil, err
	}
	c := s.clone()
	c.expire(now)
	mk, err := c.messageKey(m, now)
	if err != nil {
		return nil, err
	}
	key, nonce := messageAEAD(mk, labelMessageKey)
	padded, err := open(key, nonce, m.ciphertext, c.aad(m.header))
	if err != nil {
		return nil, err
	}
	pt, err := unpad(padded)
	if err != nil {
		return nil, err
	}
	c.pending = nil
	c.generation++
	*s = *c
	return pt, nil
}

// messageKey finds or derives the message key of m, advancing c's chains.
func (c *Session) messageKey(m *message, now time.Time) ([32]byte, error) {
	for i, k := range c.skipped {
		if k.dh == m.dh && k.n == m.n {
			c.skipped = slices.Delete(c.skipped, i, i+1)
			return k.mk, nil
		}
	}
	if !c.hasDHr || m.dh != c.dhr {
		if slices.Contains(c.prevRemote, m.dh) {
			return [32]byte{}, errf(ErrDuplicate, "message of an earlier chain")
		}
		if c.hasCKr {
			if err := c.skipTo(m.pn, now); err != nil {
				return [32]byte{}, err
			}
		}
		if err := c.ratchet(m.dh); err != nil {
			return [32]byte{}, err
		}
	} else if m.n < c.nr {
		return [32]byte{}, errf(ErrDuplicate, "message %d of the current chain", m.n)
	}
	if err := c.skipTo(m.n, now); err != nil {
		return [32]byte{}, err
	}
	var mk [32]byte
	c.ckr, mk = kdfCK(c.ckr)
	c.nr++
	return mk, nil
}

// ratchet is the receiving half of a DH ratchet step; the sending half
// happens at the next Encrypt, with a fresh key.
func (c *Session) ratchet(dh DHPublic) error {
	out, err := c.dhs.dh(dh)
	if err != nil {
		return err
	}
	if c.hasDHr {
		c.prevRemote = append(c.prevRemote, c.dhr)
		if len(c.prevRemote) > maxPreviousChains {
			c.prevRemote = slices.Delete(c.prevRemote, 0, len(c.prevRemote)-maxPreviousChains)
		}
	}
	c.pn, c.ns, c.nr = c.ns, 0, 0
	c.dhr, c.hasDHr = dh, true
	c.rk, c.ckr = kdfRK(c.rk, out)
	c.hasCKr = true
	c.hasCKs, c.sendRatchet = false, true
	return nil
}

// skipTo stores the message keys of the receiving chain up to (not
// including) message until.
func (c *Session) skipTo(until uint32, now time.Time) error {
	if uint64(until) > uint64(c.nr)+MaxSkip {
		return errf(ErrTooManySkipped, "%d message keys", uint64(until)-uint64(c.nr))
	}
	for c.nr < until {
		var mk [32]byte
		c.ckr, mk = kdfCK(c.ckr)
		c.skipped = append(c.skipped, skippedKey{dh: c.dhr, n: c.nr, mk: mk, stored: now.Unix()})
		c.nr++
	}
	if over := len(c.skipped) - MaxSkippedKeys; over > 0 {
		c.skipped = slices.Delete(c.skipped, 0, over)
	}
	return nil
}

func (c *Session) expire(now time.Time) {
	limit := now.Add(-SkippedKeyMaxAge).Unix()
	c.skipped = slices.DeleteFunc(c.skipped, func(k skippedKey) bool { return k.stored < limit })
}

// MarshalBinary encodes the session state (docs/protocol.md "Session
// state"). It holds secret keys: store it encrypted at rest or with 0600
// permissions.
func (s *Session) MarshalBinary() ([]byte, error) {
	var w writer
	w.u8(stateVersion)
	w.u8(stateSession)
	w.u64(s.generation)
	var flags byte
	for i, b := range []bool{s.initiator, s.hasDHr, s.hasCKs, s.hasCKr, s.sendRatchet, s.pending != nil, s.pending != nil && s.pending.hasOPK} {
		if b {
			flags |= 1 << i
		}
	}
	w.u8(flags)
	w.identity(&s.local)
	w.identity(&s.remote)
	w.raw(s.ad[:])
	w.raw(s.baseKey[:])
	w.raw(s.dhs.Bytes())
	w.raw(s.dhr[:])
	w.raw(s.rk[:])
	w.raw(s.cks[:])
	w.raw(s.ckr[:])
	w.u32(s.ns)
	w.u32(s.nr)
	w.u32(s.pn)
	if p := s.pending; p != nil {
		w.u32(p.spkID)
		w.u32(p.opkID)
		w.u32(p.pqID)
		w.raw(p.kemCT)
	}
	w.u16(uint16(len(s.skipped)))
	for _, k := range s.skipped {
		w.raw(k.dh[:])
		w.u32(k.n)
		w.raw(k.mk[:])
		w.u64(uint64(k.stored))
	}
	w.u8(byte(len(s.prevRemote)))
	for _, k := range s.prevRemote {
		w.raw(k[:])
	}
	return w.b, nil
}

// State encodings start with stateVersion and a kind byte.
const (
	stateVersion          = 1
	stateSession          = 0x10
	stateSenderKey        = 0x11
	stateInboundSenderKey = 0x12
)

func (r *reader) stateHeader(kind byte) error {
	v, k := r.u8(), r.u8()
	if r.err != nil {
		return r.err
	}
	if v != stateVersion {
		return errf(ErrUnsupportedVersion, "state version %d", v)
	}
	if k != kind {
		return errf(ErrInvalidMessage, "state kind %#x, want %#x", k, kind)
	}
	return nil
}

// UnmarshalSession decodes what Session.MarshalBinary wrote.
func UnmarshalSession(b []byte) (*Session, error) {
	r := reader{b: b}
	if err := r.stateHeader(stateSession); err != nil {
		return nil, err
	}
	s := &Session{generation: r.u64()}
	flags := r.u8()
	if flags>>7 != 0 {
		return nil, errf(ErrInvalidMessage, "reserved state flags")
	}
	bit := func(i int) bool { return flags&(1<<i) != 0 }
	s.initiator, s.hasDHr, s.hasCKs, s.hasCKr, s.sendRatchet = bit(0), bit(1), bit(2), bit(3), bit(4)
	s.local, s.remote = r.identity(), r.identity()
	s.ad, s.baseKey = r.array32(), r.array32()
	dhs := r.take(KeySize)
	s.dhr, s.rk, s.cks, s.ckr = r.array32(), r.array32(), r.array32(), r.array32()
	s.ns, s.nr, s.pn = r.u32(), r.u32(), r.u32()
	if bit(5) {
		s.pending = &pendingPrekey{spkID: r.u32(), hasOPK: bit(6), opkID: r.u32(), pqID: r.u32(), kemCT: clone(r.take(KEMCiphertextSize))}
	} else if bit(6) {
		return nil, errf(ErrInvalidMessage, "state flags")
	}
	n := int(r.u16())
	if n > MaxSkippedKeys {
		return nil, errf(ErrInvalidMessage, "too many skipped keys")
	}
	for range n {
		k := skippedKey{dh: r.array32(), n: r.u32(), mk: r.array32(), stored: int64(r.u64())}
		if r.err != nil {
			return nil, r.err
		}
		s.skipped = append(s.skipped, k)
	}
	n = int(r.u8())
	if n > maxPreviousChains {
		return nil, errf(ErrInvalidMessage, "too many previous chains")
	}
	for range n {
		s.prevRemote = append(s.prevRemote, r.array32())
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	s.dhs, _ = NewDHKey(dhs)
	return s, nil
}
