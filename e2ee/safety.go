package e2ee

import (
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// SafetyNumberIterations is how many SHA-512 iterations make a user's
// fingerprint: they raise the cost of searching for keys whose safety
// number collides with someone's.
const SafetyNumberIterations = 5200

// UserKeys are a user's keys as this client knows them: the master key and
// the identities of the clients in the user's verified client list.
type UserKeys struct {
	UserID    string
	MasterKey SigningPublic
	Clients   []ClientIdentity
}

// fingerprint is the 64-byte iterated hash of a context: d = SHA-512 of
// the context, then h = SHA-512(h || d) SafetyNumberIterations times from
// an empty h. Hashing the digest rather than the context keeps each
// iteration two SHA-512 blocks however many clients a user has.
func fingerprint(label string, fields [][]byte) []byte {
	d := sha512.Sum512(context(label, fields...))
	buf := make([]byte, 0, 128)
	var h [64]byte
	for i := range SafetyNumberIterations {
		buf = buf[:0]
		if i > 0 {
			buf = append(buf, h[:]...)
		}
		h = sha512.Sum512(append(buf, d[:]...))
	}
	return h[:]
}

func (u *UserKeys) fingerprint() ([]byte, error) {
	if err := checkID(u.UserID); err != nil {
		return nil, err
	}
	if err := CheckSigningPublic(u.MasterKey[:]); err != nil {
		return nil, err
	}
	clients := slices.Clone(u.Clients)
	slices.SortFunc(clients, func(a, b ClientIdentity) int { return strings.Compare(a.ClientID, b.ClientID) })
	fields := [][]byte{{0, 1}, []byte(u.UserID), u.MasterKey[:]}
	for i, c := range clients {
		if c.UserID != u.UserID || (i > 0 && clients[i-1].ClientID == c.ClientID) {
			return nil, errf(ErrInvalidMessage, "client list of %s", u.UserID)
		}
		fields = append(fields, []byte(c.ClientID), c.SigningKey[:], c.IdentityKey[:])
	}
	return fingerprint(labelSafetyNumber, fields), nil
}

// digits30 writes the first 30 bytes of h as 30 decimal digits: six 5-byte
// big-endian numbers, each mod 100000, zero-padded to 5 digits.
func digits30(h []byte) string {
	var b strings.Builder
	for i := range 6 {
		var c [8]byte
		copy(c[3:], h[5*i:5*i+5])
		fmt.Fprintf(&b, "%05d", binary.BigEndian.Uint64(c[:])%100000)
	}
	return b.String()
}

// SafetyNumber is the 60-digit code two users compare: the 30 digits of
// the user whose id sorts first, then the other's. It is the same on both
// sides, and changes when either user's master key or set of clients
// changes. Show it as 12 groups of 5 digits.
func SafetyNumber(a, b *UserKeys) (string, error) {
	if a.UserID == b.UserID {
		return "", errf(ErrInvalidMessage, "a safety number needs two users")
	}
	fa, err := a.fingerprint()
	if err != nil {
		return "", err
	}
	fb, err := b.fingerprint()
	if err != nil {
		return "", err
	}
	if a.UserID > b.UserID {
		fa, fb = fb, fa
	}
	return digits30(fa) + digits30(fb), nil
}

// QR payload kinds.
const (
	qrSafety = 0x01
	qrClient = 0x02
)

// SafetyQR is the QR code payload the local user shows: version, kind,
// the local user's id and first 32 fingerprint bytes, then the remote's.
func SafetyQR(local, remote *UserKeys) ([]byte, error) {
	if local.UserID == remote.UserID {
		return nil, errf(ErrInvalidMessage, "a safety number needs two users")
	}
	fl, err := local.fingerprint()
	if err != nil {
		return nil, err
	}
	fr, err := remote.fingerprint()
	if err != nil {
		return nil, err
	}
	var w writer
	w.u8(Version)
	w.u8(qrSafety)
	w.str8(local.UserID)
	w.raw(fl[:32])
	w.str8(remote.UserID)
	w.raw(fr[:32])
	return w.b, nil
}

// VerifySafetyQR checks a payload scanned from the remote user's screen:
// it must carry the remote user's fingerprint first and the local user's
// second, both as this client computes them. ErrMismatch means the two
// clients see different keys: do not mark the user verified.
func VerifySafetyQR(payload []byte, local, remote *UserKeys) error {
	r := reader{b: payload}
	v, kind := r.u8(), r.u8()
	shownBy, fShown := r.id(), r.take(32)
	scanner, fScanner := r.id(), r.take(32)
	if err := r.done(); err != nil {
		return err
	}
	if v != Version || kind != qrSafety {
		return errf(ErrUnsupportedVersion, "QR payload %d/%d", v, kind)
	}
	fl, err := local.fingerprint()
	if err != nil {
		return err
	}
	fr, err := remote.fingerprint()
	if err != nil {
		return err
	}
	if shownBy != remote.UserID || scanner != local.UserID || !equal(fShown, fr[:32]) || !equal(fScanner, fl[:32]) {
		return errf(ErrMismatch, "safety number QR code")
	}
	return nil
}

// ClientFingerprint is a 30-digit code of one client's keys, for verifying
// one's own new client: the new client shows its code, an existing client
// compares it with the code of the identity the directory gave it (or scans
// ClientQR), then signs a client list that includes it.
func ClientFingerprint(id *ClientIdentity) string {
	return digits30(fingerprint(labelClientCode, [][]byte{{0, 1}, []byte(id.UserID), []byte(id.ClientID), id.SigningKey[:], id.IdentityKey[:]}))
}

// ClientQR is the QR payload of a client's keys and of the master key it
// knows for its user (all zero when it knows none yet).
type ClientQR struct {
	Client    ClientIdentity // IdentitySig is not carried: the scanner has it from the directory
	MasterKey SigningPublic
}

// MarshalBinary encodes the payload: version, kind, user id, client id,
// signing key, identity key, master key.
func (q *ClientQR) MarshalBinary() ([]byte, error) {
	var w writer
	w.u8(Version)
	w.u8(qrClient)
	w.str8(q.Client.UserID)
	w.str8(q.Client.ClientID)
	w.raw(q.Client.SigningKey[:])
	w.raw(q.Client.IdentityKey[:])
	w.raw(q.MasterKey[:])
	return w.b, nil
}

// ParseClientQR decodes a scanned client QR payload.
func ParseClientQR(b []byte) (*ClientQR, error) {
	r := reader{b: b}
	v, kind := r.u8(), r.u8()
	q := &ClientQR{Client: ClientIdentity{UserID: r.id(), ClientID: r.id(), SigningKey: r.array32(), IdentityKey: r.array32()}}
	q.MasterKey = r.array32()
	if err := r.done(); err != nil {
		return nil, err
	}
	if v != Version || kind != qrClient {
		return nil, errf(ErrUnsupportedVersion, "QR payload %d/%d", v, kind)
	}
	return q, nil
}

// Matches reports whether the scanned payload names exactly the given
// identity and master key; anything else is ErrMismatch.
func (q *ClientQR) Matches(id *ClientIdentity, master SigningPublic) error {
	if q.Client.UserID != id.UserID || q.Client.ClientID != id.ClientID ||
		!equal(q.Client.SigningKey[:], id.SigningKey[:]) || !equal(q.Client.IdentityKey[:], id.IdentityKey[:]) ||
		!equal(q.MasterKey[:], master[:]) {
		return errf(ErrMismatch, "client QR code")
	}
	return nil
}
