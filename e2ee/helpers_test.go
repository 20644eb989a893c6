package e2ee

import (
	"crypto/mlkem"
	"crypto/mlkem/mlkemtest"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"
)

// detRand is a deterministic byte stream for tests: SHA-256(label ||
// counter) blocks. It is not the randomness of any vector (vectors list
// their random inputs explicitly); it only picks them.
type detRand struct {
	label string
	n     uint64
	buf   []byte
}

func newDetRand(label string) *detRand { return &detRand{label: label} }

func (d *detRand) Read(p []byte) (int, error) {
	for len(d.buf) < len(p) {
		h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(d.label), d.n))
		d.n++
		d.buf = append(d.buf, h[:]...)
	}
	copy(p, d.buf)
	d.buf = d.buf[len(p):]
	return len(p), nil
}

func (d *detRand) bytes(n int) []byte {
	b := make([]byte, n)
	d.Read(b)
	return b
}

// scripted serves exactly the given bytes: a read past them fails, and
// left() reports what was not consumed. It proves the documented order
// and amount of random reads.
type scripted struct{ b []byte }

func script(parts ...[]byte) *scripted {
	s := &scripted{}
	for _, p := range parts {
		s.b = append(s.b, p...)
	}
	return s
}

func (s *scripted) Read(p []byte) (int, error) {
	if len(p) > len(s.b) {
		return 0, fmt.Errorf("scripted randomness: %d bytes asked, %d left", len(p), len(s.b))
	}
	copy(p, s.b)
	s.b = s.b[len(p):]
	return len(p), nil
}

func (s *scripted) left() int { return len(s.b) }

// testEncapsulate is derandomized ML-KEM encapsulation (FIPS 203
// ML-KEM.Encaps_internal) reading its 32 bytes of randomness from rand.
func testEncapsulate(rand io.Reader, ek *mlkem.EncapsulationKey768) ([]byte, []byte, error) {
	m := make([]byte, 32)
	if _, err := io.ReadFull(rand, m); err != nil {
		return nil, nil, err
	}
	return mlkemtest.Encapsulate768(ek, m)
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// party is one client with its prekeys.
type party struct {
	keys *ClientKeys
	spk  *DHKey
	pq   *KEMKey
	opks map[uint32]*DHKey
	next uint32
}

func newParty(t testing.TB, r io.Reader, user, client string) *party {
	t.Helper()
	k, err := GenerateClientKeys(r, user, client)
	if err != nil {
		t.Fatal(err)
	}
	spk, _ := GenerateDHKey(r)
	pq, _ := GenerateKEMKey(r)
	return &party{keys: k, spk: spk, pq: pq, opks: map[uint32]*DHKey{}, next: 100}
}

func (p *party) bundle(withOPK bool) *Bundle {
	b := &Bundle{
		ClientIdentity: p.keys.Public(),
		SignedPrekey:   p.keys.SignPrekey(1, p.spk),
		PQPrekey:       p.keys.SignPQPrekey(2, p.pq),
	}
	if withOPK {
		k, _ := GenerateDHKey(nil)
		p.next++
		p.opks[p.next] = k
		o := OneTimePrekeyOf(p.next, k)
		b.OneTimePrekey = &o
	}
	return b
}

// respond handles a first prekey message as a client would.
func (p *party) respond(t testing.TB, msg []byte) (*Session, []byte) {
	t.Helper()
	pm, err := ParsePrekeyMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	var opk *DHKey
	if pm.HasOneTimePrekey {
		opk = p.opks[pm.OneTimePrekeyID]
	}
	s, pt, err := Respond(p.keys, p.spk, p.pq, opk, pm, t0)
	if err != nil {
		t.Fatal(err)
	}
	delete(p.opks, pm.OneTimePrekeyID)
	return s, pt
}

// pair sets up an established session between two new clients.
func pair(t testing.TB, r io.Reader) (a, b *Session) {
	t.Helper()
	alice := newParty(t, r, "alice", "a1")
	bob := newParty(t, r, "bob", "b1")
	a, err := initiate(r, alice.keys, bob.bundle(true), testEncapsulate)
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.Encrypt(r, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	b, pt := bob.respond(t, m)
	if string(pt) != "hello" {
		t.Fatalf("first message %q", pt)
	}
	m, _ = b.Encrypt(r, []byte("hi"))
	if pt, err := a.Decrypt(m, t0); err != nil || string(pt) != "hi" {
		t.Fatalf("reply: %q %v", pt, err)
	}
	return a, b
}

func mustEncrypt(t testing.TB, s *Session, r io.Reader, pt string) []byte {
	t.Helper()
	m, err := s.Encrypt(r, []byte(pt))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustDecrypt(t testing.TB, s *Session, m []byte, want string) {
	t.Helper()
	pt, err := s.Decrypt(m, t0)
	if err != nil {
		t.Fatalf("decrypt %q: %v", want, err)
	}
	if string(pt) != want {
		t.Fatalf("decrypted %q, want %q", pt, want)
	}
}

// errName is the vectors' name of an error, one per sentinel.
func errName(err error) string {
	for _, e := range []struct {
		err  error
		name string
	}{
		{ErrInvalidMessage, "invalid_message"}, {ErrUnsupportedVersion, "unsupported_version"},
		{ErrInvalidKey, "invalid_key"}, {ErrBadSignature, "bad_signature"}, {ErrDecrypt, "decrypt"},
		{ErrDuplicate, "duplicate"}, {ErrTooManySkipped, "too_many_skipped"}, {ErrWrongSession, "wrong_session"},
		{ErrMissingPrekey, "missing_prekey"}, {ErrTruncated, "truncated"}, {ErrWrongRecoveryKey, "wrong_recovery_key"},
		{ErrMismatch, "mismatch"}, {ErrExhausted, "exhausted"},
	} {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	if err == nil {
		return ""
	}
	return "other: " + err.Error()
}

func osReadVector(name string) ([]byte, error) { return os.ReadFile(vectorPath(name)) }

func hexDecode(s string) ([]byte, error) { return hex.DecodeString(s) }
