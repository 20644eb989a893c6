package e2ee

import (
	"encoding/binary"
	"io"
	"math"
	"slices"
	"time"
)

// Limits of sender keys (docs/protocol.md "Limits").
const (
	// MaxSenderKeySkip is the most iterations one group message may skip.
	MaxSenderKeySkip = 1000
	// MaxSenderKeySkipped is the most skipped message keys an inbound
	// sender key keeps (oldest deleted first), each for SkippedKeyMaxAge.
	MaxSenderKeySkipped = 2000
	// SenderKeyMaxAge and SenderKeyMaxMessages are when NeedsRotation says
	// a sender key is due for rotation; members leaving or being removed
	// make it due at once (the caller rotates then).
	SenderKeyMaxAge      = 7 * 24 * time.Hour
	SenderKeyMaxMessages = 10000
)

// SenderKey is a client's outbound key for one group (channel): a chain
// key ratcheted forward once per message and an Ed25519 key that signs
// every message, so members, who all hold the chain key, cannot forge
// messages from one another. One encryption serves every member.
//
// It keeps the chain key at which it started (the base), so it can answer
// a member's key request for any message of the chain: a stolen SenderKey
// opens the chain's messages since its creation, a window that rotation
// (NeedsRotation, Rotate) bounds.
type SenderKey struct {
	groupID, userID, clientID string
	chainID                   uint32
	baseCK                    [32]byte // chain key at iteration 0
	iteration                 uint32   // next message's iteration
	ck                        [32]byte
	signing                   *SigningKey
	cert                      Signature
	created                   int64
	generation                uint64
}

// NewSenderKey makes a new sender key of the client for the group. rand
// (nil: crypto/rand) supplies 4 bytes of chain id, the 32-byte chain key and
// the 32-byte signing seed, in that order.
func NewSenderKey(rand io.Reader, owner *ClientKeys, groupID string, now time.Time) (*SenderKey, error) {
	if err := checkID(groupID); err != nil {
		return nil, err
	}
	b, err := readRand(rand, 4+32)
	if err != nil {
		return nil, err
	}
	sk, err := GenerateSigningKey(rand)
	if err != nil {
		return nil, err
	}
	k := &SenderKey{
		groupID: groupID, userID: owner.UserID, clientID: owner.ClientID,
		chainID: binary.BigEndian.Uint32(b), signing: sk, created: now.Unix(),
	}
	copy(k.baseCK[:], b[4:])
	k.ck = k.baseCK
	k.cert = owner.Signing.sign(senderKeyCertBytes(groupID, owner.UserID, owner.ClientID, k.chainID, sk.Public()))
	return k, nil
}

// Rotate makes the sender key that replaces k (another chain id). The
// caller distributes it to the current members only and deletes k once
// nothing more is sent with it.
func (k *SenderKey) Rotate(rand io.Reader, owner *ClientKeys, now time.Time) (*SenderKey, error) {
	n, err := NewSenderKey(rand, owner, k.groupID, now)
	if err != nil {
		return nil, err
	}
	if n.chainID == k.chainID {
		n.chainID++
		n.cert = owner.Signing.sign(senderKeyCertBytes(n.groupID, n.userID, n.clientID, n.chainID, n.signing.Public()))
	}
	return n, nil
}

// GroupID, ChainID and Iteration describe the key; Iteration is the next
// message's.
func (k *SenderKey) GroupID() string   { return k.groupID }
func (k *SenderKey) ChainID() uint32   { return k.chainID }
func (k *SenderKey) Iteration() uint32 { return k.iteration }

// Generation counts the key's changes (see Session.Generation).
func (k *SenderKey) Generation() uint64 { return k.generation }

// NeedsRotation reports whether the key is older than SenderKeyMaxAge or
// has sent SenderKeyMaxMessages messages.
func (k *SenderKey) NeedsRotation(now time.Time) bool {
	return now.Unix()-k.created >= int64(SenderKeyMaxAge/time.Second) || k.iteration >= SenderKeyMaxMessages
}

// Distribution returns the key as members receive it: from the next
// message on.
func (k *SenderKey) Distribution() *SenderKeyDistribution {
	d, _ := k.DistributionAt(k.iteration)
	return d
}

// DistributionAt returns the key from the given iteration on, for a member
// who asks for it (SenderKeyRequest) after missing the first distribution.
func (k *SenderKey) DistributionAt(iteration uint32) (*SenderKeyDistribution, error) {
	if iteration > k.iteration {
		return nil, errf(ErrInvalidMessage, "iteration %d not reached", iteration)
	}
	ck := k.baseCK
	for range iteration {
		ck, _ = kdfCK(ck)
	}
	return &SenderKeyDistribution{
		GroupID: k.groupID, UserID: k.userID, ClientID: k.clientID,
		ChainID: k.chainID, Iteration: iteration, ChainKey: ck,
		SigningKey: k.signing.Public(), Cert: k.cert,
	}, nil
}

func senderKeyCertBytes(group, user, client string, chainID uint32, pub SigningPublic) []byte {
	return context(labelSenderKeyCert, []byte(group), []byte(user), []byte(client), u32(chainID), pub[:])
}

func senderKeyAD(group, user, client string, pub SigningPublic, header []byte) []byte {
	return append(context(labelSenderKeyAD, []byte(group), []byte(user), []byte(client), pub[:]), header...)
}

func senderKeySigBytes(group, user, client string, signed []byte) []byte {
	return context(labelSenderKeySig, []byte(group), []byte(user), []byte(client), signed)
}

const senderKeyHeaderSize = 2 + 4 + 4

// Encrypt encrypts one group message: a SenderKeyMessage every member
// decrypts with the same key.
func (k *SenderKey) Encrypt(plaintext []byte) ([]byte, error) {
	if k.iteration == math.MaxUint32 {
		return nil, errf(ErrExhausted, "sender key")
	}
	next, mk := kdfCK(k.ck)
	var w writer
	w.u8(Version)
	w.u8(TypeSenderKeyMessage)
	w.u32(k.chainID)
	w.u32(k.iteration)
	header := w.b
	key, nonce := messageAEAD(mk, labelSenderKeyMsg)
	w.raw(seal(key, nonce, pad(plaintext), senderKeyAD(k.groupID, k.userID, k.clientID, k.signing.Public(), header)))
	sig := k.signing.sign(senderKeySigBytes(k.groupID, k.userID, k.clientID, w.b))
	w.raw(sig[:])
	k.ck, k.iteration = next, k.iteration+1
	k.generation++
	return w.b, nil
}

// SenderKeyMessage is the routing part of a group message: which chain of
// the sender, which iteration. ParseSenderKeyMessage reads it so the caller
// can find the InboundSenderKey.
type SenderKeyMessage struct {
	ChainID, Iteration uint32
	signed             []byte // everything before the signature
	ciphertext         []byte
	sig                Signature
}

// ParseSenderKeyMessage decodes a group message's layout.
func ParseSenderKeyMessage(b []byte) (*SenderKeyMessage, error) {
	r := reader{b: b}
	if err := r.header(TypeSenderKeyMessage); err != nil {
		return nil, err
	}
	m := &SenderKeyMessage{ChainID: r.u32(), Iteration: r.u32()}
	rest := r.rest()
	if r.err != nil {
		return nil, r.err
	}
	if len(rest) < PadBlock+16+SignatureSize {
		return nil, errf(ErrInvalidMessage, "sender key message too short")
	}
	if m.Iteration == math.MaxUint32 {
		return nil, errf(ErrInvalidMessage, "iteration out of range")
	}
	m.ciphertext = rest[:len(rest)-SignatureSize]
	copy(m.sig[:], rest[len(rest)-SignatureSize:])
	m.signed = b[: len(b)-SignatureSize : len(b)-SignatureSize]
	return m, nil
}

// SenderKeyDistribution carries a sender key to a member, always inside a
// pairwise session. Cert is the sender client's signature over the group,
// the ids, the chain id and the signing key, so a distribution forwarded by
// another client (the recipient's own, the key backup) is still checked
// against the sender's identity.
type SenderKeyDistribution struct {
	GroupID, UserID, ClientID string
	ChainID, Iteration        uint32
	ChainKey                  [32]byte
	SigningKey                SigningPublic
	Cert                      Signature
}

// MarshalBinary encodes the distribution (docs/protocol.md).
func (d *SenderKeyDistribution) MarshalBinary() ([]byte, error) {
	var w writer
	w.u8(Version)
	w.u8(TypeSenderKeyDistribution)
	w.str8(d.GroupID)
	w.str8(d.UserID)
	w.str8(d.ClientID)
	w.u32(d.ChainID)
	w.u32(d.Iteration)
	w.raw(d.ChainKey[:])
	w.raw(d.SigningKey[:])
	w.raw(d.Cert[:])
	return w.b, nil
}

// ParseSenderKeyDistribution decodes a distribution; Verify checks it.
func ParseSenderKeyDistribution(b []byte) (*SenderKeyDistribution, error) {
	r := reader{b: b}
	if err := r.header(TypeSenderKeyDistribution); err != nil {
		return nil, err
	}
	d := &SenderKeyDistribution{GroupID: r.id(), UserID: r.id(), ClientID: r.id(), ChainID: r.u32(), Iteration: r.u32()}
	d.ChainKey, d.SigningKey, d.Cert = r.array32(), r.array32(), r.array64()
	if err := r.done(); err != nil {
		return nil, err
	}
	return d, nil
}

// Verify checks that the distribution is the sender's: its ids are the
// identity's and the identity's signing key made Cert.
func (d *SenderKeyDistribution) Verify(sender *ClientIdentity) error {
	if d.UserID != sender.UserID || d.ClientID != sender.ClientID {
		return errf(ErrBadSignature, "sender key of another client")
	}
	if err := checkID(d.GroupID); err != nil {
		return err
	}
	if err := CheckSigningPublic(d.SigningKey[:]); err != nil {
		return err
	}
	if err := verify(sender.SigningKey, senderKeyCertBytes(d.GroupID, d.UserID, d.ClientID, d.ChainID, d.SigningKey), d.Cert); err != nil {
		return errf(ErrBadSignature, "sender key certificate: %v", err)
	}
	return nil
}

// InboundSenderKey is a member's copy of another client's sender key.
type InboundSenderKey struct {
	groupID, userID, clientID string
	chainID                   uint32
	signingKey                SigningPublic
	cert                      Signature
	baseIteration             uint32 // the earliest iteration this copy can open
	baseCK                    [32]byte
	iteration                 uint32 // the next iteration not yet seen
	ck                        [32]byte
	skipped                   []senderSkipped
	generation                uint64
}

type senderSkipped struct {
	iteration uint32
	mk        [32]byte
	stored    int64
}

// NewInboundSenderKey accepts a distribution after verifying it against the
// sender's identity (from a pairwise session, or the directory for a
// forwarded one).
func NewInboundSenderKey(d *SenderKeyDistribution, sender *ClientIdentity) (*InboundSenderKey, error) {
	if err := d.Verify(sender); err != nil {
		return nil, err
	}
	return &InboundSenderKey{
		groupID: d.GroupID, userID: d.UserID, clientID: d.ClientID, chainID: d.ChainID,
		signingKey: d.SigningKey, cert: d.Cert,
		baseIteration: d.Iteration, baseCK: d.ChainKey, iteration: d.Iteration, ck: d.ChainKey,
	}, nil
}

// GroupID, UserID, ClientID and ChainID say whose key this is.
func (k *InboundSenderKey) GroupID() string  { return k.groupID }
func (k *InboundSenderKey) UserID() string   { return k.userID }
func (k *InboundSenderKey) ClientID() string { return k.clientID }
func (k *InboundSenderKey) ChainID() uint32  { return k.chainID }

// FirstIteration is the earliest message this copy can open.
func (k *InboundSenderKey) FirstIteration() uint32 { return k.baseIteration }

// Generation counts the key's changes (see Session.Generation).
func (k *InboundSenderKey) Generation() uint64 { return k.generation }

// Decrypt verifies and decrypts a group message of this chain. A message of
// another chain, or from before FirstIteration, is ErrWrongSession (the key
// is missing: ask for it with a SenderKeyRequest); a replay is ErrDuplicate.
func (k *InboundSenderKey) Decrypt(msg []byte, now time.Time) ([]byte, error) {
	m, err := ParseSenderKeyMessage(msg)
	if err != nil {
		return nil, err
	}
	if m.ChainID != k.chainID {
		return nil, errf(ErrWrongSession, "sender key chain %d, have %d", m.ChainID, k.chainID)
	}
	if err := verify(k.signingKey, senderKeySigBytes(k.groupID, k.userID, k.clientID, m.signed), m.sig); err != nil {
		return nil, errf(ErrDecrypt, "group message signature: %v", err)
	}
	c := k.clone()
	limit := now.Add(-SkippedKeyMaxAge).Unix()
	c.skipped = slices.DeleteFunc(c.skipped, func(s senderSkipped) bool { return s.stored < limit })
	var mk [32]byte
	if m.Iteration < c.baseIteration && !slices.ContainsFunc(c.skipped, func(s senderSkipped) bool { return s.iteration == m.Iteration }) {
		return nil, errf(ErrWrongSession, "iteration %d is before the key held (%d): request it", m.Iteration, c.baseIteration)
	}
	if m.Iteration < c.iteration {
		i := slices.IndexFunc(c.skipped, func(s senderSkipped) bool { return s.iteration == m.Iteration })
		if i < 0 {
			return nil, errf(ErrDuplicate, "iteration %d", m.Iteration)
		}
		mk = c.skipped[i].mk
		c.skipped = slices.Delete(c.skipped, i, i+1)
	} else {
		if uint64(m.Iteration)-uint64(c.iteration) > MaxSenderKeySkip {
			return nil, errf(ErrTooManySkipped, "%d iterations", m.Iteration-c.iteration)
		}
		for c.iteration < m.Iteration {
			var s senderSkipped
			c.ck, s.mk = kdfCK(c.ck)
			s.iteration, s.stored = c.iteration, now.Unix()
			c.skipped = append(c.skipped, s)
			c.iteration++
		}
		c.ck, mk = kdfCK(c.ck)
		c.iteration++
		c.trim()
	}
	key, nonce := messageAEAD(mk, labelSenderKeyMsg)
	padded, err := open(key, nonce, m.ciphertext, senderKeyAD(k.groupID, k.userID, k.clientID, k.signingKey, m.signed[:senderKeyHeaderSize]))
	if err != nil {
		return nil, err
	}
	pt, err := unpad(padded)
	if err != nil {
		return nil, err
	}
	c.generation++
	*k = *c
	return pt, nil
}

func (k *InboundSenderKey) clone() *InboundSenderKey {
	c := *k
	c.skipped = slices.Clone(k.skipped)
	return &c
}

func (k *InboundSenderKey) trim() {
	if over := len(k.skipped) - MaxSenderKeySkipped; over > 0 {
		k.skipped = slices.Delete(k.skipped, 0, over)
	}
}

// Merge extends the copy back to an earlier iteration with a distribution
// of the same chain (the answer to a key request): the messages between
// d.Iteration and FirstIteration become readable. The distribution must be
// consistent with the chain key already held.
func (k *InboundSenderKey) Merge(d *SenderKeyDistribution, now time.Time) error {
	if d.GroupID != k.groupID || d.UserID != k.userID || d.ClientID != k.clientID || d.ChainID != k.chainID ||
		d.SigningKey != k.signingKey || d.Cert != k.cert {
		return errf(ErrWrongSession, "distribution of another chain")
	}
	if d.Iteration >= k.baseIteration {
		return nil
	}
	if k.baseIteration-d.Iteration > MaxSenderKeySkipped {
		return errf(ErrTooManySkipped, "%d iterations", k.baseIteration-d.Iteration)
	}
	c := k.clone()
	ck := d.ChainKey
	var added []senderSkipped
	for i := d.Iteration; i < k.baseIteration; i++ {
		var s senderSkipped
		ck, s.mk = kdfCK(ck)
		s.iteration, s.stored = i, now.Unix()
		added = append(added, s)
	}
	if !equal(ck[:], k.baseCK[:]) {
		return errf(ErrDecrypt, "distribution does not lead to the chain key held")
	}
	c.skipped = append(added, c.skipped...)
	c.baseIteration, c.baseCK = d.Iteration, d.ChainKey
	c.trim()
	c.generation++
	*k = *c
	return nil
}

// Export returns the chain from the given iteration on, to forward to the
// user's own other clients or to put in the key backup. The iteration is
// clamped to what this copy holds: not before FirstIteration, not after the
// next unseen one.
func (k *InboundSenderKey) Export(iteration uint32) *SenderKeyDistribution {
	iteration = min(max(iteration, k.baseIteration), k.iteration)
	ck := k.baseCK
	for range iteration - k.baseIteration {
		ck, _ = kdfCK(ck)
	}
	return &SenderKeyDistribution{
		GroupID: k.groupID, UserID: k.userID, ClientID: k.clientID, ChainID: k.chainID,
		Iteration: iteration, ChainKey: ck, SigningKey: k.signingKey, Cert: k.cert,
	}
}

// SenderKeyRequest asks a sender (or one's own other clients) for a sender
// key, from an iteration on, over a pairwise session.
type SenderKeyRequest struct {
	GroupID, UserID, ClientID string
	ChainID, Iteration        uint32
}

// MarshalBinary encodes the request (docs/protocol.md).
func (q *SenderKeyRequest) MarshalBinary() ([]byte, error) {
	var w writer
	w.u8(Version)
	w.u8(TypeSenderKeyRequest)
	w.str8(q.GroupID)
	w.str8(q.UserID)
	w.str8(q.ClientID)
	w.u32(q.ChainID)
	w.u32(q.Iteration)
	return w.b, nil
}

// ParseSenderKeyRequest decodes a request.
func ParseSenderKeyRequest(b []byte) (*SenderKeyRequest, error) {
	r := reader{b: b}
	if err := r.header(TypeSenderKeyRequest); err != nil {
		return nil, err
	}
	q := &SenderKeyRequest{GroupID: r.id(), UserID: r.id(), ClientID: r.id(), ChainID: r.u32(), Iteration: r.u32()}
	if err := r.done(); err != nil {
		return nil, err
	}
	return q, nil
}

// MarshalBinary encodes the outbound key's state (docs/protocol.md
// "Sender key state"); it holds secret keys.
func (k *SenderKey) MarshalBinary() ([]byte, error) {
	var w writer
	w.u8(stateVersion)
	w.u8(stateSenderKey)
	w.u64(k.generation)
	w.str8(k.groupID)
	w.str8(k.userID)
	w.str8(k.clientID)
	w.u32(k.chainID)
	w.raw(k.baseCK[:])
	w.u32(k.iteration)
	w.raw(k.ck[:])
	w.raw(k.signing.seed[:])
	w.raw(k.cert[:])
	w.u64(uint64(k.created))
	return w.b, nil
}

// UnmarshalSenderKey decodes what SenderKey.MarshalBinary wrote.
func UnmarshalSenderKey(b []byte) (*SenderKey, error) {
	r := reader{b: b}
	if err := r.stateHeader(stateSenderKey); err != nil {
		return nil, err
	}
	k := &SenderKey{generation: r.u64(), groupID: r.id(), userID: r.id(), clientID: r.id(), chainID: r.u32()}
	k.baseCK, k.iteration, k.ck = r.array32(), r.u32(), r.array32()
	seed := r.take(KeySize)
	k.cert = r.array64()
	k.created = int64(r.u64())
	if err := r.done(); err != nil {
		return nil, err
	}
	k.signing, _ = NewSigningKey(seed)
	return k, nil
}

// MarshalBinary encodes the inbound key's state; it holds secret keys.
func (k *InboundSenderKey) MarshalBinary() ([]byte, error) {
	var w writer
	w.u8(stateVersion)
	w.u8(stateInboundSenderKey)
	w.u64(k.generation)
	w.str8(k.groupID)
	w.str8(k.userID)
	w.str8(k.clientID)
	w.u32(k.chainID)
	w.raw(k.signingKey[:])
	w.raw(k.cert[:])
	w.u32(k.baseIteration)
	w.raw(k.baseCK[:])
	w.u32(k.iteration)
	w.raw(k.ck[:])
	w.u16(uint16(len(k.skipped)))
	for _, s := range k.skipped {
		w.u32(s.iteration)
		w.raw(s.mk[:])
		w.u64(uint64(s.stored))
	}
	return w.b, nil
}

// UnmarshalInboundSenderKey decodes what InboundSenderKey.MarshalBinary wrote.
func UnmarshalInboundSenderKey(b []byte) (*InboundSenderKey, error) {
	r := reader{b: b}
	if err := r.stateHeader(stateInboundSenderKey); err != nil {
		return nil, err
	}
	k := &InboundSenderKey{generation: r.u64(), groupID: r.id(), userID: r.id(), clientID: r.id(), chainID: r.u32()}
	k.signingKey, k.cert = r.array32(), r.array64()
	k.baseIteration, k.baseCK, k.iteration, k.ck = r.u32(), r.array32(), r.u32(), r.array32()
	n := int(r.u16())
	if n > MaxSenderKeySkipped {
		return nil, errf(ErrInvalidMessage, "too many skipped keys")
	}
	for range n {
		s := senderSkipped{iteration: r.u32(), mk: r.array32(), stored: int64(r.u64())}
		if r.err != nil {
			return nil, r.err
		}
		k.skipped = append(k.skipped, s)
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	if k.iteration < k.baseIteration {
		return nil, errf(ErrInvalidMessage, "iteration before base")
	}
	return k, nil
}
