package e2ee

// The deterministic test vectors of testdata/vectors: generated here from
// fixed seeds (go generate, or go test -run TestVectors -update), compared
// byte for byte with the committed files, and replayed from the committed
// files' inputs alone by the TestVector* consumers, as the TypeScript
// implementation's tests replay them. Every random input an operation
// reads is listed in the vector, in the order it is read.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/mlkem/mlkemtest"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors from this implementation")

// hexBytes is lower-case hex in JSON.
type hexBytes []byte

func (h hexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }
func (h *hexBytes) UnmarshalText(t []byte) error {
	b, err := hex.DecodeString(string(t))
	*h = b
	return err
}

func vectorPath(name string) string { return filepath.Join("testdata", "vectors", name+".json") }

func TestVectors(t *testing.T) {
	gens := []struct {
		name string
		gen  func(t *testing.T) any
	}{
		{"mlkem", func(t *testing.T) any { return genMLKEM(t) }},
		{"ed25519", func(t *testing.T) any { return genEd25519(t) }},
		{"x25519", func(t *testing.T) any { return genX25519(t) }},
		{"identity", func(t *testing.T) any { return genIdentity(t) }},
		{"handshake", func(t *testing.T) any { return genHandshake(t) }},
		{"ratchet", func(t *testing.T) any { return genRatchet(t) }},
		{"senderkey", func(t *testing.T) any { return genSenderKey(t) }},
		{"envelope", func(t *testing.T) any { return genEnvelope(t) }},
		{"file", func(t *testing.T) any { return genFile(t) }},
		{"backup", func(t *testing.T) any { return genBackup(t) }},
	}
	for _, g := range gens {
		t.Run(g.name, func(t *testing.T) {
			b, err := json.MarshalIndent(g.gen(t), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, '\n')
			path := vectorPath(g.name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			old, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go generate ./e2ee)", err)
			}
			if !bytes.Equal(old, b) {
				t.Fatalf("%s differs from what the implementation generates: the protocol changed; if deliberately, run go generate ./e2ee and say so in docs/protocol.md", path)
			}
		})
	}
}

func loadVectors[T any](t *testing.T, name string) T {
	t.Helper()
	var v T
	b, err := os.ReadFile(vectorPath(name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// ---- ML-KEM

type mlkemVectors struct {
	Description            string   `json:"description"`
	Seed                   string   `json:"seed"`
	EncapsulationKey       hexBytes `json:"encapsulation_key"`
	EncapsulationKeySHA256 string   `json:"encapsulation_key_sha256"`
	Randomness             string   `json:"randomness"`
	Ciphertext             hexBytes `json:"ciphertext"`
	CiphertextSHA256       string   `json:"ciphertext_sha256"`
	SharedSecret           string   `json:"shared_secret"`
}

func genMLKEM(t testing.TB) mlkemVectors {
	seed, m := seq(0x00, 0x3f), seq(0x40, 0x5f)
	k, _ := NewKEMKey(seed)
	pub := k.Public()
	ek, _ := mlkem.NewEncapsulationKey768(pub[:])
	ss, ct, err := mlkemtest.Encapsulate768(ek, m)
	if err != nil {
		t.Fatal(err)
	}
	he, hc := sha256.Sum256(pub[:]), sha256.Sum256(ct)
	return mlkemVectors{
		Description:      "ML-KEM-768 (FIPS 203): the key of the 64-byte seed d || z, and ML-KEM.Encaps_internal with 32 bytes of randomness m.",
		Seed:             hex.EncodeToString(seed),
		EncapsulationKey: pub[:], EncapsulationKeySHA256: hex.EncodeToString(he[:]),
		Randomness: hex.EncodeToString(m),
		Ciphertext: ct, CiphertextSHA256: hex.EncodeToString(hc[:]),
		SharedSecret: hex.EncodeToString(ss),
	}
}

// ---- Key acceptance

type ed25519Case struct {
	Name      string   `json:"name"`
	PublicKey hexBytes `json:"public_key"`
	Message   hexBytes `json:"message"`
	Signature hexBytes `json:"signature"`
	// Valid is the protocol's verdict; Error names the rule that refuses.
	Valid bool   `json:"valid"`
	Error string `json:"error,omitempty"`
	// Cofactorless and Cofactored are what a verifier using only that
	// equation (and no other check) would say, to show where libraries
	// differ.
	Cofactorless bool `json:"cofactorless_equation"`
	Cofactored   bool `json:"cofactored_equation"`
}

type ed25519Vectors struct {
	Description string        `json:"description"`
	Cases       []ed25519Case `json:"cases"`
}

// edScalar is the secret scalar of an Ed25519 seed (RFC 8032 §5.1.5).
func edScalar(seed []byte) *big.Int {
	h := sha512.Sum512(seed)
	h[0] &= 248
	h[31] &= 127
	h[31] |= 64
	return leInt(h[:32])
}

func edChallenge(r, a, m []byte) *big.Int {
	h := sha512.New()
	h.Write(r)
	h.Write(a)
	h.Write(m)
	return new(big.Int).Mod(leInt(h.Sum(nil)), edL)
}

// edEquations evaluates both verification equations with permissive
// decoding (y reduced mod p, S reduced mod L is NOT done: S ≥ L fails
// both, as every library refuses it).
func edEquations(pub, msg, sig []byte) (cofactorless, cofactored bool) {
	a, ok1 := edDecode(pub)
	r, ok2 := edDecode(sig[:32])
	s := leInt(sig[32:])
	if !ok1 || !ok2 || s.Cmp(edL) >= 0 {
		return false, false
	}
	k := edChallenge(sig[:32], pub, msg)
	lhs := edBase().mul(s)
	rhs := r.add(a.mul(k))
	neg := edPoint{new(big.Int).Sub(edP, lhs.x).Mod(new(big.Int).Sub(edP, lhs.x), edP), lhs.y}
	diff := rhs.add(neg)
	return diff.isIdentity(), diff.mul(big.NewInt(8)).isIdentity()
}

func genEd25519(t testing.TB) ed25519Vectors {
	v := ed25519Vectors{Description: "The protocol's Ed25519 acceptance rule (docs/protocol.md): public key canonical and not of small order; R canonical; S < L; the cofactorless equation [S]B = R + [k]A. Every case gives the verdict and what each bare equation would say."}
	add := func(name string, pub, msg, sig []byte) {
		var p SigningPublic
		var s Signature
		copy(p[:], pub)
		copy(s[:], sig)
		err := verify(p, msg, s)
		if len(pub) != 32 || len(sig) != 64 {
			t.Fatal("vector sizes")
		}
		less, cof := edEquations(pub, msg, sig)
		v.Cases = append(v.Cases, ed25519Case{Name: name, PublicKey: pub, Message: msg, Signature: sig,
			Valid: err == nil, Error: errName(err), Cofactorless: less, Cofactored: cof})
	}
	seed := unhex(t, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	k, _ := NewSigningKey(seed)
	pub := k.Public()
	msg := []byte("Unhidra acceptance vector")
	sig := k.sign(msg)
	add("valid signature (RFC 8032 key)", pub[:], msg, sig[:])
	add("changed message", pub[:], []byte("Unhidra acceptance vectoR"), sig[:])

	// S + L: the same point equation, a non-canonical scalar.
	s := new(big.Int).Add(leInt(sig[32:]), edL)
	bad := append(append([]byte{}, sig[:32]...), leBytes(s)...)
	add("S not below L (S + L)", pub[:], msg, bad)

	// The eight small-order points, each with R = A's encoding, S = 0 —
	// accepted by the bare equations whenever [k]A = A·(k mod order).
	// The one with R = identity and S = 0 is accepted by both equations.
	for _, y := range edSmallOrderY {
		for _, sign := range []byte{0, 0x80} {
			enc := append([]byte{}, y[:]...)
			enc[31] |= sign
			if !edCanonical(enc) {
				continue
			}
			id := append(edIdentity().encode(), make([]byte, 32)...)
			add(fmt.Sprintf("small-order key %x…%02x", enc[:4], enc[31]), enc, msg, id)
		}
	}
	// Non-canonical encodings of small points: y = p + 1 (the identity),
	// y = p (y ≡ 0), and x = 0 with the sign bit set.
	pPlus1 := leBytes(new(big.Int).Add(edP, big.NewInt(1)))
	pZero := leBytes(edP)
	negZero := edIdentity().encode()
	negZero[31] |= 0x80
	id := append(edIdentity().encode(), make([]byte, 32)...)
	add("non-canonical key y = p+1", pPlus1, msg, id)
	add("non-canonical key y = p", pZero, msg, id)
	add("non-canonical key x = 0 with sign bit", negZero, msg, id)
	add("non-canonical R y = p+1", pub[:], msg, append(pPlus1, sig[32:]...))

	// A torsion component in R: the cofactored equation accepts, the
	// cofactorless one (the protocol's) refuses.
	a := edScalar(seed)
	aPub := edBase().mul(a)
	if !bytes.Equal(aPub.encode(), pub[:]) {
		t.Fatal("scaffolding disagrees with crypto/ed25519")
	}
	t8, _ := edDecode(edSmallOrderY[3][:])
	if t8.mul(big.NewInt(4)).isIdentity() || !t8.mul(big.NewInt(8)).isIdentity() {
		t.Fatal("not a point of order 8")
	}
	nonce := sha512.Sum512([]byte("vector nonce"))
	r := new(big.Int).Mod(leInt(nonce[:]), edL)
	R := edBase().mul(r).add(t8).encode()
	kk := edChallenge(R, pub[:], msg)
	S := new(big.Int).Add(r, new(big.Int).Mul(kk, a))
	S.Mod(S, edL)
	add("torsion in R (cofactored only)", pub[:], msg, append(R, leBytes(S)...))

	// A torsion component in the key: allowed, and the cofactorless
	// equation holds exactly when [k]T = 0, i.e. k ≡ 0 mod 8.
	mixed := aPub.add(t8).encode()
	R = edBase().mul(r).encode()
	for i, want := 0, 2; want > 0; i++ {
		m := []byte(fmt.Sprint("mixed-order key ", i))
		kk := edChallenge(R, mixed, m)
		zero := new(big.Int).Mod(kk, big.NewInt(8)).Sign() == 0
		if (zero && want == 2) || (!zero && want == 1) {
			S := new(big.Int).Add(r, new(big.Int).Mul(kk, a))
			S.Mod(S, edL)
			name := "mixed-order key, k ≡ 0 mod 8 (valid)"
			if !zero {
				name = "mixed-order key, k ≢ 0 mod 8 (cofactored only)"
			}
			add(name, mixed, m, append(append([]byte{}, R...), leBytes(S)...))
			want--
		}
	}
	for _, c := range v.Cases {
		if got := ed25519.Verify(ed25519.PublicKey(c.PublicKey), c.Message, c.Signature); got && !c.Cofactorless {
			t.Fatalf("%s: crypto/ed25519 accepts what the cofactorless equation refuses", c.Name)
		}
	}
	return v
}

type x25519Case struct {
	Name      string   `json:"name"`
	PublicKey hexBytes `json:"public_key"`
	Valid     bool     `json:"valid"`
	Error     string   `json:"error,omitempty"`
}

type x25519Vectors struct {
	Description string       `json:"description"`
	Cases       []x25519Case `json:"cases"`
}

func genX25519(t testing.TB) x25519Vectors {
	v := x25519Vectors{Description: "The protocol's X25519 acceptance rule: 32 bytes, canonical u (top bit clear, u < p), not of low order."}
	add := func(name string, b []byte) {
		err := CheckDHPublic(b)
		v.Cases = append(v.Cases, x25519Case{Name: name, PublicKey: b, Valid: err == nil, Error: errName(err)})
	}
	alice, _ := NewDHKey(unhex(t, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
	pub := alice.Public()
	add("valid (RFC 7748 Alice)", pub[:])
	hi := append([]byte{}, pub[:]...)
	hi[31] |= 0x80
	add("top bit set", hi)
	for _, u := range x25519LowOrder {
		add(fmt.Sprintf("low order %x", u[:4]), u[:])
	}
	add("u = p", leBytes(edP))
	add("u = p + 1", leBytes(new(big.Int).Add(edP, big.NewInt(1))))
	add("u = 2^255 - 1", leBytes(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(1))))
	return v
}

// ---- Identities, client lists, safety numbers

type clientVec struct {
	UserID          string   `json:"user_id"`
	ClientID        string   `json:"client_id"`
	SigningSeed     hexBytes `json:"signing_seed"`
	IdentityPrivate hexBytes `json:"identity_private"`
	SigningKey      hexBytes `json:"signing_key"`
	IdentityKey     hexBytes `json:"identity_key"`
	IdentitySig     hexBytes `json:"identity_sig"`
}

func vecClient(d *detRand, user, client string) (*ClientKeys, clientVec) {
	seed, ik := d.bytes(32), d.bytes(32)
	k, err := GenerateClientKeys(script(seed, ik), user, client)
	if err != nil {
		panic(err)
	}
	id := k.Public()
	return k, clientVec{UserID: user, ClientID: client, SigningSeed: seed, IdentityPrivate: ik,
		SigningKey: id.SigningKey[:], IdentityKey: id.IdentityKey[:], IdentitySig: id.IdentitySig[:]}
}

// client rebuilds a client's keys from its vector and checks its outputs.
func (v clientVec) client(t *testing.T) *ClientKeys {
	t.Helper()
	sk, err := NewSigningKey(v.SigningSeed)
	if err != nil {
		t.Fatal(err)
	}
	ik, err := NewDHKey(v.IdentityPrivate)
	if err != nil {
		t.Fatal(err)
	}
	k := &ClientKeys{UserID: v.UserID, ClientID: v.ClientID, Signing: sk, Identity: ik}
	id := k.Public()
	if !bytes.Equal(id.SigningKey[:], v.SigningKey) || !bytes.Equal(id.IdentityKey[:], v.IdentityKey) || !bytes.Equal(id.IdentitySig[:], v.IdentitySig) {
		t.Fatalf("client %s/%s: public values differ", v.UserID, v.ClientID)
	}
	if err := id.Verify(); err != nil {
		t.Fatal(err)
	}
	return k
}

type identityVectors struct {
	Description       string      `json:"description"`
	Clients           []clientVec `json:"clients"`
	MasterSeeds       []hexBytes  `json:"master_seeds"`
	MasterKeys        []hexBytes  `json:"master_keys"`
	ClientListVersion uint64      `json:"client_list_version"`
	ClientListSig     hexBytes    `json:"client_list_sig"`
	SafetyNumber      string      `json:"safety_number"`
	SafetyQR          hexBytes    `json:"safety_qr"`
	ClientFingerprint string      `json:"client_fingerprint"`
	ClientQR          hexBytes    `json:"client_qr"`
}

func genIdentity(t testing.TB) identityVectors {
	d := newDetRand("vectors/identity")
	v := identityVectors{Description: "clients[0..1] are alice's (a1, a2), clients[2] is bob's (b1); master_seeds[0] is alice's, [1] bob's. The client list is alice's, signed by her master key, listing a1 and a2. The safety number and QR are between alice (a1, a2) and bob (b1), the QR shown by alice. The client fingerprint and client QR are a2's, the QR carrying alice's master key."}
	var keys []*ClientKeys
	for _, c := range [][2]string{{"alice", "a1"}, {"alice", "a2"}, {"bob", "b1"}} {
		k, cv := vecClient(d, c[0], c[1])
		keys = append(keys, k)
		v.Clients = append(v.Clients, cv)
	}
	var masters []*SigningKey
	for range 2 {
		s := d.bytes(32)
		m, _ := NewSigningKey(s)
		pub := m.Public()
		masters = append(masters, m)
		v.MasterSeeds = append(v.MasterSeeds, s)
		v.MasterKeys = append(v.MasterKeys, pub[:])
	}
	a1, a2, b1 := keys[0].Public(), keys[1].Public(), keys[2].Public()
	v.ClientListVersion = 1
	l, err := SignClientList(masters[0], "alice", 1, []ClientListEntry{{"a1", a1.SigningKey}, {"a2", a2.SigningKey}})
	if err != nil {
		t.Fatal(err)
	}
	v.ClientListSig = l.Sig[:]
	alice := &UserKeys{UserID: "alice", MasterKey: masters[0].Public(), Clients: []ClientIdentity{a1, a2}}
	bob := &UserKeys{UserID: "bob", MasterKey: masters[1].Public(), Clients: []ClientIdentity{b1}}
	v.SafetyNumber, _ = SafetyNumber(alice, bob)
	v.SafetyQR, _ = SafetyQR(alice, bob)
	v.ClientFingerprint = ClientFingerprint(&a2)
	v.ClientQR, _ = (&ClientQR{Client: a2, MasterKey: masters[0].Public()}).MarshalBinary()
	return v
}

func TestVectorIdentity(t *testing.T) {
	v := loadVectors[identityVectors](t, "identity")
	var ids []ClientIdentity
	for _, c := range v.Clients {
		k := c.client(t)
		ids = append(ids, k.Public())
	}
	var masters []SigningPublic
	for i, s := range v.MasterSeeds {
		m, _ := NewSigningKey(s)
		if pub := m.Public(); !bytes.Equal(pub[:], v.MasterKeys[i]) {
			t.Fatal("master key")
		}
		masters = append(masters, m.Public())
	}
	l := ClientList{UserID: "alice", Version: v.ClientListVersion, MasterKey: masters[0],
		Clients: []ClientListEntry{{"a1", ids[0].SigningKey}, {"a2", ids[1].SigningKey}}}
	copy(l.Sig[:], v.ClientListSig)
	if err := l.Verify(); err != nil {
		t.Fatal(err)
	}
	alice := &UserKeys{UserID: "alice", MasterKey: masters[0], Clients: ids[:2]}
	bob := &UserKeys{UserID: "bob", MasterKey: masters[1], Clients: ids[2:]}
	if n, _ := SafetyNumber(bob, alice); n != v.SafetyNumber {
		t.Fatalf("safety number %s", n)
	}
	if err := VerifySafetyQR(v.SafetyQR, bob, alice); err != nil {
		t.Fatal(err)
	}
	if ClientFingerprint(&ids[1]) != v.ClientFingerprint {
		t.Fatal("client fingerprint")
	}
	q, err := ParseClientQR(v.ClientQR)
	if err != nil || q.Matches(&ids[1], masters[0]) != nil {
		t.Fatalf("client QR: %v", err)
	}
}

// ---- Handshake

type prekeyVec struct {
	ID      uint32   `json:"id"`
	Private hexBytes `json:"private"`
	Public  hexBytes `json:"public"`
	Sig     hexBytes `json:"sig,omitempty"`
}

type handshakeCase struct {
	Name             string     `json:"name"`
	Alice            clientVec  `json:"alice"`
	Bob              clientVec  `json:"bob"`
	BobSignedPrekey  prekeyVec  `json:"bob_signed_prekey"`
	BobPQPrekey      prekeyVec  `json:"bob_pq_prekey"`
	BobOneTimePrekey *prekeyVec `json:"bob_one_time_prekey"`
	// Alice's randomness for Initiate, read in this order (Go reads no
	// KEM randomness outside tests: crypto/mlkem draws its own).
	EphemeralPrivate hexBytes `json:"ephemeral_private"`
	KEMRandomness    hexBytes `json:"kem_randomness"`
	RatchetPrivate   hexBytes `json:"ratchet_private"`
	// Intermediate values.
	BaseKey         hexBytes   `json:"base_key"`
	KEMCiphertext   hexBytes   `json:"kem_ciphertext"`
	KEMSharedSecret hexBytes   `json:"kem_shared_secret"`
	DH              []hexBytes `json:"dh"`
	Transcript      hexBytes   `json:"transcript"`
	SharedKey       hexBytes   `json:"shared_key"`
	// Bob's first reply reads a ratchet key.
	Plaintext           hexBytes `json:"plaintext"`
	PrekeyMessage       hexBytes `json:"prekey_message"`
	ReplyRatchetPrivate hexBytes `json:"reply_ratchet_private"`
	ReplyPlaintext      hexBytes `json:"reply_plaintext"`
	Reply               hexBytes `json:"reply"`
	Now                 int64    `json:"now"`
}

type handshakeVectors struct {
	Description string          `json:"description"`
	Cases       []handshakeCase `json:"cases"`
}

func genHandshakeCase(t testing.TB, name string, withOPK bool) handshakeCase {
	d := newDetRand("vectors/handshake/" + name)
	alice, av := vecClient(d, "alice", "a1")
	bob, bv := vecClient(d, "bob", "b1")
	c := handshakeCase{Name: name, Alice: av, Bob: bv, Now: t0.Unix()}
	spkPriv, pqSeed := d.bytes(32), d.bytes(64)
	spk, _ := NewDHKey(spkPriv)
	pq, _ := NewKEMKey(pqSeed)
	sp, pp := bob.SignPrekey(7, spk), bob.SignPQPrekey(8, pq)
	c.BobSignedPrekey = prekeyVec{ID: 7, Private: spkPriv, Public: sp.Key[:], Sig: sp.Sig[:]}
	c.BobPQPrekey = prekeyVec{ID: 8, Private: pqSeed, Public: pp.Key[:], Sig: pp.Sig[:]}
	b := &Bundle{ClientIdentity: bob.Public(), SignedPrekey: sp, PQPrekey: pp}
	var opk *DHKey
	if withOPK {
		priv := d.bytes(32)
		opk, _ = NewDHKey(priv)
		o := OneTimePrekeyOf(9, opk)
		b.OneTimePrekey = &o
		c.BobOneTimePrekey = &prekeyVec{ID: 9, Private: priv, Public: o.Key[:]}
	}
	c.EphemeralPrivate, c.KEMRandomness, c.RatchetPrivate = d.bytes(32), d.bytes(32), d.bytes(32)
	rnd := script(c.EphemeralPrivate, c.KEMRandomness, c.RatchetPrivate)
	s, err := initiate(rnd, alice, b, testEncapsulate)
	if err != nil || rnd.left() != 0 {
		t.Fatal(err, rnd.left())
	}
	c.BaseKey = clone(s.baseKey[:])
	ek, _ := NewDHKey(c.EphemeralPrivate)
	ekPQ, _ := mlkem.NewEncapsulationKey768(pp.Key[:])
	ss, ct, _ := mlkemtest.Encapsulate768(ekPQ, c.KEMRandomness)
	c.KEMCiphertext, c.KEMSharedSecret = ct, ss
	dh1, _ := alice.Identity.dh(sp.Key)
	dh2, _ := ek.dh(bob.Identity.Public())
	dh3, _ := ek.dh(sp.Key)
	c.DH = []hexBytes{dh1, dh2, dh3}
	if withOPK {
		dh4, _ := ek.dh(opk.Public())
		c.DH = append(c.DH, dh4)
	}
	var dhs [][]byte
	for _, x := range c.DH {
		dhs = append(dhs, x)
	}
	sk := sharedKey(s.ad, dhs, ss)
	c.Transcript, c.SharedKey = clone(s.ad[:]), sk[:]
	c.Plaintext = []byte("Hello Bob, this is the first message of " + name + ".")
	c.PrekeyMessage, err = s.Encrypt(script(), c.Plaintext)
	if err != nil {
		t.Fatal(err)
	}
	pm, _ := ParsePrekeyMessage(c.PrekeyMessage)
	bs, pt, err := Respond(bob, spk, pq, opk, pm, t0)
	if err != nil || !bytes.Equal(pt, c.Plaintext) {
		t.Fatal(err)
	}
	c.ReplyRatchetPrivate = d.bytes(32)
	c.ReplyPlaintext = []byte("Hi Alice.")
	c.Reply, _ = bs.Encrypt(script(c.ReplyRatchetPrivate), c.ReplyPlaintext)
	if pt, err := s.Decrypt(c.Reply, t0); err != nil || !bytes.Equal(pt, c.ReplyPlaintext) {
		t.Fatal(err)
	}
	return c
}

func genHandshake(t testing.TB) handshakeVectors {
	return handshakeVectors{
		Description: "X3DH + ML-KEM-768. dh lists DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B), DH3 = DH(EK_A, SPK_B) and, with a one-time prekey, DH4 = DH(EK_A, OPK_B). shared_key is SK. Initiate reads ephemeral_private, kem_randomness (the m of ML-KEM.Encaps_internal) and ratchet_private, in that order; Alice's first Encrypt reads nothing; Bob's first Encrypt reads reply_ratchet_private.",
		Cases: []handshakeCase{
			genHandshakeCase(t, "one-time prekey", true),
			genHandshakeCase(t, "no one-time prekey", false),
		},
	}
}

// replayHandshake sets up both sessions from a handshake case's inputs,
// checking every output on the way; it returns them after the reply.
func replayHandshake(t *testing.T, c handshakeCase) (alice, bob *Session) {
	t.Helper()
	ak, bk := c.Alice.client(t), c.Bob.client(t)
	spk, _ := NewDHKey(c.BobSignedPrekey.Private)
	pq, _ := NewKEMKey(c.BobPQPrekey.Private)
	b := &Bundle{ClientIdentity: bk.Public()}
	b.SignedPrekey.ID = c.BobSignedPrekey.ID
	copy(b.SignedPrekey.Key[:], c.BobSignedPrekey.Public)
	copy(b.SignedPrekey.Sig[:], c.BobSignedPrekey.Sig)
	b.PQPrekey.ID = c.BobPQPrekey.ID
	copy(b.PQPrekey.Key[:], c.BobPQPrekey.Public)
	copy(b.PQPrekey.Sig[:], c.BobPQPrekey.Sig)
	if spk.Public() != b.SignedPrekey.Key || pq.Public() != b.PQPrekey.Key {
		t.Fatal("prekey public keys")
	}
	var opk *DHKey
	if o := c.BobOneTimePrekey; o != nil {
		opk, _ = NewDHKey(o.Private)
		b.OneTimePrekey = &OneTimePrekey{ID: o.ID, Key: opk.Public()}
	}
	alice, err := initiate(script(c.EphemeralPrivate, c.KEMRandomness, c.RatchetPrivate), ak, b, testEncapsulate)
	if err != nil {
		t.Fatal(err)
	}
	// The root key after the first ratchet step is KDF_RK(SK, DH(ratchet key, SPK)).
	rkey, _ := NewDHKey(c.RatchetPrivate)
	out, _ := rkey.dh(b.SignedPrekey.Key)
	var sk [32]byte
	copy(sk[:], c.SharedKey)
	if rk, _ := kdfRK(sk, out); !bytes.Equal(alice.baseKey[:], c.BaseKey) || !bytes.Equal(alice.ad[:], c.Transcript) || rk != alice.rk {
		t.Fatal("base key, transcript or shared key")
	}
	m, _ := alice.Encrypt(script(), c.Plaintext)
	if !bytes.Equal(m, c.PrekeyMessage) {
		t.Fatal("prekey message")
	}
	pm, err := ParsePrekeyMessage(c.PrekeyMessage)
	if err != nil {
		t.Fatal(err)
	}
	bob, pt, err := Respond(bk, spk, pq, opk, pm, time.Unix(c.Now, 0))
	if err != nil || !bytes.Equal(pt, c.Plaintext) {
		t.Fatalf("respond: %v", err)
	}
	if r, _ := bob.Encrypt(script(c.ReplyRatchetPrivate), c.ReplyPlaintext); !bytes.Equal(r, c.Reply) {
		t.Fatal("reply")
	}
	if pt, err := alice.Decrypt(c.Reply, time.Unix(c.Now, 0)); err != nil || !bytes.Equal(pt, c.ReplyPlaintext) {
		t.Fatalf("reply: %v", err)
	}
	return alice, bob
}

func TestVectorHandshake(t *testing.T) {
	for _, c := range loadVectors[handshakeVectors](t, "handshake").Cases {
		t.Run(c.Name, func(t *testing.T) { replayHandshake(t, c) })
	}
}

// ---- Ratchet

type ratchetStep struct {
	Op        string   `json:"op"` // encrypt or decrypt
	Party     string   `json:"party"`
	ID        string   `json:"id,omitempty"`
	Rand      hexBytes `json:"rand,omitempty"`
	Plaintext hexBytes `json:"plaintext,omitempty"`
	Message   hexBytes `json:"message"`
	Now       int64    `json:"now,omitempty"`
	Error     string   `json:"error,omitempty"`
}

type ratchetCase struct {
	Name      string        `json:"name"`
	Handshake string        `json:"handshake"`
	Steps     []ratchetStep `json:"steps"`
}

type ratchetVectors struct {
	Description string        `json:"description"`
	Cases       []ratchetCase `json:"cases"`
}

// ratchetScript runs one scenario. Each entry is "a:id" (alice encrypts
// message id), "b<a:id" (bob decrypts it), and variants: "b<a:id!name"
// decrypts a changed copy expecting an error.
type ratchetGen struct {
	t        testing.TB
	d        *detRand
	sessions map[string]*Session
	sent     map[string][]byte
	steps    []ratchetStep
}

func (g *ratchetGen) encrypt(party, id string) {
	s := g.sessions[party]
	var rnd []byte
	if s.sendRatchet {
		rnd = g.d.bytes(32)
	}
	pt := []byte(fmt.Sprintf("message %s from %s", id, party))
	sc := script(rnd)
	m, err := s.Encrypt(sc, pt)
	if err != nil || sc.left() != 0 {
		g.t.Fatal(err)
	}
	g.sent[id] = m
	g.steps = append(g.steps, ratchetStep{Op: "encrypt", Party: party, ID: id, Rand: rnd, Plaintext: pt, Message: m})
}

func (g *ratchetGen) decrypt(party, id string, change func([]byte) []byte, now time.Time) {
	m := g.sent[id]
	if change != nil {
		m = change(bytes.Clone(m))
	}
	pt, err := g.sessions[party].Decrypt(m, now)
	st := ratchetStep{Op: "decrypt", Party: party, ID: id, Message: m, Now: now.Unix(), Error: errName(err)}
	if err == nil {
		st.Plaintext = pt
	}
	g.steps = append(g.steps, st)
}

func genRatchet(t testing.TB) ratchetVectors {
	hs := genHandshake(t)
	v := ratchetVectors{Description: "Each case starts from the sessions of the named handshake case after its reply decrypted. encrypt steps give the randomness read (a new ratchet key, when one is due) and the message; decrypt steps give the message (possibly changed), the time, and the plaintext or the error (docs/protocol.md error names)."}
	run := func(name string, body func(g *ratchetGen)) {
		d := newDetRand("vectors/ratchet/" + name)
		a, b := replayHandshakeGen(t, hs.Cases[0])
		g := &ratchetGen{t: t, d: d, sessions: map[string]*Session{"alice": a, "bob": b}, sent: map[string][]byte{}}
		body(g)
		v.Cases = append(v.Cases, ratchetCase{Name: name, Handshake: hs.Cases[0].Name, Steps: g.steps})
	}
	run("conversation", func(g *ratchetGen) {
		for turn := range 3 {
			for i := range 2 {
				id := fmt.Sprintf("a%d%d", turn, i)
				g.encrypt("alice", id)
				g.decrypt("bob", id, nil, t0)
			}
			id := fmt.Sprintf("b%d", turn)
			g.encrypt("bob", id)
			g.decrypt("alice", id, nil, t0)
		}
	})
	run("out of order, skipped and replayed", func(g *ratchetGen) {
		for i := range 5 {
			g.encrypt("alice", fmt.Sprint("a", i))
		}
		for _, i := range []int{3, 0, 4} {
			g.decrypt("bob", fmt.Sprint("a", i), nil, t0)
		}
		g.encrypt("bob", "b0")
		g.decrypt("alice", "b0", nil, t0)
		g.encrypt("alice", "a5") // a new chain; a1 and a2 wait in skipped keys
		g.decrypt("bob", "a5", nil, t0)
		g.decrypt("bob", "a1", nil, t0)
		g.decrypt("bob", "a3", nil, t0) // replay: duplicate
		g.decrypt("bob", "a2", nil, t0)
		g.decrypt("bob", "a2", nil, t0) // replay of a skipped key: duplicate
	})
	run("tampered and out of bounds", func(g *ratchetGen) {
		g.encrypt("alice", "a0")
		g.encrypt("alice", "a1")
		g.decrypt("bob", "a1", func(m []byte) []byte { m[len(m)-1] ^= 1; return m }, t0)          // tag
		g.decrypt("bob", "a1", func(m []byte) []byte { m[messageHeaderSize] ^= 1; return m }, t0) // ciphertext
		g.decrypt("bob", "a1", func(m []byte) []byte { m[40] ^= 1; return m }, t0)                // n: 1 → 257
		g.decrypt("bob", "a1", func(m []byte) []byte { m[39] = 0x10; return m }, t0)              // n far ahead
		g.decrypt("bob", "a1", func(m []byte) []byte { m[0] = 2; return m }, t0)                  // version
		g.decrypt("bob", "a1", nil, t0)
		// a0's skipped key expires after 30 days.
		g.decrypt("bob", "a0", nil, t0.Add(SkippedKeyMaxAge+time.Second))
	})
	return v
}

// replayHandshakeGen is replayHandshake for the generator (no checks).
func replayHandshakeGen(t testing.TB, c handshakeCase) (alice, bob *Session) {
	tt, ok := t.(*testing.T)
	if !ok {
		panic("generator needs *testing.T")
	}
	return replayHandshake(tt, c)
}

func TestVectorRatchet(t *testing.T) {
	hs := loadVectors[handshakeVectors](t, "handshake")
	for _, c := range loadVectors[ratchetVectors](t, "ratchet").Cases {
		t.Run(c.Name, func(t *testing.T) {
			var h handshakeCase
			for _, x := range hs.Cases {
				if x.Name == c.Handshake {
					h = x
				}
			}
			a, b := replayHandshake(t, h)
			s := map[string]*Session{"alice": a, "bob": b}
			for i, st := range c.Steps {
				switch st.Op {
				case "encrypt":
					sc := script(st.Rand)
					m, err := s[st.Party].Encrypt(sc, st.Plaintext)
					if err != nil || sc.left() != 0 || !bytes.Equal(m, st.Message) {
						t.Fatalf("step %d (%s encrypts %s): %v", i, st.Party, st.ID, err)
					}
				case "decrypt":
					pt, err := s[st.Party].Decrypt(st.Message, time.Unix(st.Now, 0))
					if errName(err) != st.Error || !bytes.Equal(pt, st.Plaintext) {
						t.Fatalf("step %d (%s decrypts %s): %q, %v; want %q, %s", i, st.Party, st.ID, pt, err, st.Plaintext, st.Error)
					}
				}
			}
		})
	}
}

// ---- Sender keys

type senderStep struct {
	Op           string   `json:"op"` // encrypt, distribute, decrypt, rotate
	Member       string   `json:"member,omitempty"`
	ID           string   `json:"id,omitempty"`
	Rand         hexBytes `json:"rand,omitempty"`
	Plaintext    hexBytes `json:"plaintext,omitempty"`
	Message      hexBytes `json:"message,omitempty"`
	Distribution hexBytes `json:"distribution,omitempty"`
	Now          int64    `json:"now,omitempty"`
	Error        string   `json:"error,omitempty"`
}

type senderKeyVectors struct {
	Description string       `json:"description"`
	GroupID     string       `json:"group_id"`
	Sender      clientVec    `json:"sender"`
	Rand        hexBytes     `json:"rand"`
	Created     int64        `json:"created"`
	Steps       []senderStep `json:"steps"`
}

func genSenderKey(t testing.TB) senderKeyVectors {
	d := newDetRand("vectors/senderkey")
	owner, ov := vecClient(d, "alice", "a1")
	v := senderKeyVectors{
		Description: "rand is read by NewSenderKey: chain id (4) || chain key (32) || signing seed (32); a rotate step's rand likewise. distribute gives a member the distribution of the current key, at its current iteration. decrypt steps give the plaintext or the error.",
		GroupID:     "channel-1", Sender: ov, Rand: d.bytes(68), Created: t0.Unix(),
	}
	k, err := NewSenderKey(script(v.Rand), owner, v.GroupID, t0)
	if err != nil {
		t.Fatal(err)
	}
	id := owner.Public()
	members := map[string]*InboundSenderKey{}
	sent := map[string][]byte{}
	var steps []senderStep
	distribute := func(m string) {
		b, _ := k.Distribution().MarshalBinary()
		dist, _ := ParseSenderKeyDistribution(b)
		members[m], _ = NewInboundSenderKey(dist, &id)
		steps = append(steps, senderStep{Op: "distribute", Member: m, Distribution: b})
	}
	encrypt := func(id string) {
		pt := []byte("group message " + id)
		m, _ := k.Encrypt(pt)
		sent[id] = m
		steps = append(steps, senderStep{Op: "encrypt", ID: id, Plaintext: pt, Message: m})
	}
	decrypt := func(member, id string, change func([]byte) []byte) {
		m := sent[id]
		if change != nil {
			m = change(bytes.Clone(m))
		}
		pt, err := members[member].Decrypt(m, t0)
		st := senderStep{Op: "decrypt", Member: member, ID: id, Message: m, Now: t0.Unix(), Error: errName(err)}
		if err == nil {
			st.Plaintext = pt
		}
		steps = append(steps, st)
	}
	distribute("bob")
	distribute("carol")
	for i := range 4 {
		encrypt(fmt.Sprint("e", i))
	}
	for _, i := range []int{2, 0, 3, 1, 0} {
		decrypt("bob", fmt.Sprint("e", i), nil)
	}
	decrypt("carol", "e3", nil)
	decrypt("carol", "e1", func(m []byte) []byte { m[len(m)-1] ^= 1; return m }) // signature
	decrypt("carol", "e1", func(m []byte) []byte { m[12] ^= 1; return m })       // ciphertext
	decrypt("carol", "e1", nil)
	// carol is removed: rotate, distribute to bob only.
	r := d.bytes(68)
	k, _ = k.Rotate(script(r), owner, t0)
	steps = append(steps, senderStep{Op: "rotate", Rand: r})
	distribute("bob")
	encrypt("e4")
	decrypt("bob", "e4", nil)
	decrypt("carol", "e4", nil)
	v.Steps = steps
	return v
}

func TestVectorSenderKey(t *testing.T) {
	v := loadVectors[senderKeyVectors](t, "senderkey")
	owner := v.Sender.client(t)
	id := owner.Public()
	k, err := NewSenderKey(script(v.Rand), owner, v.GroupID, time.Unix(v.Created, 0))
	if err != nil {
		t.Fatal(err)
	}
	members := map[string]*InboundSenderKey{}
	for i, st := range v.Steps {
		switch st.Op {
		case "distribute":
			b, _ := k.Distribution().MarshalBinary()
			d, err := ParseSenderKeyDistribution(st.Distribution)
			if err != nil || !bytes.Equal(b, st.Distribution) {
				t.Fatalf("step %d: distribution %v", i, err)
			}
			if members[st.Member], err = NewInboundSenderKey(d, &id); err != nil {
				t.Fatal(err)
			}
		case "encrypt":
			if m, _ := k.Encrypt(st.Plaintext); !bytes.Equal(m, st.Message) {
				t.Fatalf("step %d: message %s", i, st.ID)
			}
		case "rotate":
			if k, err = k.Rotate(script(st.Rand), owner, time.Unix(v.Created, 0)); err != nil {
				t.Fatal(err)
			}
		case "decrypt":
			pt, err := members[st.Member].Decrypt(st.Message, time.Unix(st.Now, 0))
			if errName(err) != st.Error || !bytes.Equal(pt, st.Plaintext) {
				t.Fatalf("step %d (%s decrypts %s): %v, want %s", i, st.Member, st.ID, err, st.Error)
			}
		}
	}
}

// ---- Envelope

type envelopeCase struct {
	Name           string   `json:"name"`
	Envelope       hexBytes `json:"envelope"`
	GroupProtocol  byte     `json:"group_protocol,omitempty"`
	SenderUserID   string   `json:"sender_user_id,omitempty"`
	SenderClientID string   `json:"sender_client_id,omitempty"`
	Body           hexBytes `json:"body,omitempty"`
	Error          string   `json:"error,omitempty"`
}

type envelopeVectors struct {
	Description string         `json:"description"`
	Cases       []envelopeCase `json:"cases"`
}

func genEnvelope(t testing.TB) envelopeVectors {
	hs := genHandshake(t)
	sk := genSenderKey(t)
	var gm []byte
	for _, s := range sk.Steps {
		if s.Op == "encrypt" {
			gm = s.Message
			break
		}
	}
	v := envelopeVectors{Description: "Envelopes and what a decoder makes of them: the fields, or the error."}
	add := func(name string, b []byte) {
		e, err := ParseEnvelope(b)
		c := envelopeCase{Name: name, Envelope: b, Error: errName(err)}
		if err == nil {
			c.GroupProtocol, c.SenderUserID, c.SenderClientID, c.Body = e.GroupProtocol, e.SenderUserID, e.SenderClientID, e.Body
		}
		v.Cases = append(v.Cases, c)
	}
	mk := func(gp byte, body []byte) []byte {
		b, _ := (&Envelope{GroupProtocol: gp, SenderUserID: "alice", SenderClientID: "a1", Body: body}).MarshalBinary()
		return b
	}
	add("pairwise prekey message", mk(GroupPairwise, hs.Cases[0].PrekeyMessage))
	add("pairwise message", mk(GroupPairwise, hs.Cases[0].Reply))
	add("sender-key message", mk(GroupSenderKeys, gm))
	add("MLS (reserved)", mk(GroupMLS, gm))
	add("unknown group protocol", mk(7, gm))
	v2 := mk(GroupSenderKeys, gm)
	v2[0] = 2
	add("version 2", v2)
	add("sender-key body in a pairwise envelope", mk(GroupPairwise, gm))
	bad := mk(GroupSenderKeys, gm)
	bad[2] = 0
	add("empty sender id", bad)
	add("truncated", mk(GroupSenderKeys, gm)[:20])
	return v
}

func TestVectorEnvelope(t *testing.T) {
	for _, c := range loadVectors[envelopeVectors](t, "envelope").Cases {
		e, err := ParseEnvelope(c.Envelope)
		if errName(err) != c.Error {
			t.Fatalf("%s: %v, want %s", c.Name, err, c.Error)
		}
		if err == nil && (e.GroupProtocol != c.GroupProtocol || e.SenderUserID != c.SenderUserID || !bytes.Equal(e.Body, c.Body)) {
			t.Fatalf("%s: fields", c.Name)
		}
	}
}

// ---- Files

type fileCase struct {
	Name       string   `json:"name"`
	Key        hexBytes `json:"key"`
	Salt       hexBytes `json:"salt,omitempty"`
	ChunkSize  int      `json:"chunk_size,omitempty"`
	Plaintext  hexBytes `json:"plaintext,omitempty"`
	Ciphertext hexBytes `json:"ciphertext"`
	Error      string   `json:"error,omitempty"`
}

type fileVectors struct {
	Description string     `json:"description"`
	Cases       []fileCase `json:"cases"`
}

func genFile(t testing.TB) fileVectors {
	d := newDetRand("vectors/file")
	key := d.bytes(32)
	var fk FileKey
	copy(fk[:], key)
	v := fileVectors{Description: "STREAM over ChaCha20-Poly1305. salt is the randomness NewFileWriter reads. Cases with an error are changed ciphertexts of the case before them."}
	var last []byte
	for _, c := range []struct {
		name string
		size int
	}{{"empty", 0}, {"one short chunk", 100}, {"exactly two chunks", 2048}, {"two and a half chunks", 2560}} {
		salt, pt := d.bytes(16), d.bytes(c.size)
		ct, err := EncryptFile(script(salt), fk, pt, 1024)
		if err != nil {
			t.Fatal(err)
		}
		v.Cases = append(v.Cases, fileCase{Name: c.name, Key: key, Salt: salt, ChunkSize: 1024, Plaintext: pt, Ciphertext: ct})
		last = ct
	}
	h, n := FileHeaderSize, 1024+16
	for _, c := range []struct {
		name string
		ct   []byte
	}{
		{"truncated after chunk 1", last[:h+2*n]},
		{"chunks 0 and 1 swapped", append(append(append(bytes.Clone(last[:h]), last[h+n:h+2*n]...), last[h:h+n]...), last[h+2*n:]...)},
		{"final chunk removed after chunk 0", append(bytes.Clone(last[:h+n]), last[h+2*n:]...)},
		{"a byte appended", append(bytes.Clone(last), 0)},
		{"a ciphertext byte changed", flip(last, h+n+1)},
	} {
		_, err := DecryptFile(fk, c.ct)
		v.Cases = append(v.Cases, fileCase{Name: c.name, Key: key, Ciphertext: c.ct, Error: errName(err)})
	}
	return v
}

func TestVectorFile(t *testing.T) {
	for _, c := range loadVectors[fileVectors](t, "file").Cases {
		var k FileKey
		copy(k[:], c.Key)
		pt, err := DecryptFile(k, c.Ciphertext)
		if errName(err) != c.Error {
			t.Fatalf("%s: %v, want %s", c.Name, err, c.Error)
		}
		if c.Error != "" {
			continue
		}
		if !bytes.Equal(pt, c.Plaintext) {
			t.Fatalf("%s: plaintext", c.Name)
		}
		if ct, _ := EncryptFile(script(c.Salt), k, c.Plaintext, c.ChunkSize); !bytes.Equal(ct, c.Ciphertext) {
			t.Fatalf("%s: ciphertext", c.Name)
		}
	}
}

// ---- Backup

type backupVectors struct {
	Description     string   `json:"description"`
	RecoveryKey     hexBytes `json:"recovery_key"`
	RecoveryKeyText string   `json:"recovery_key_text"`
	BackupKey       hexBytes `json:"backup_key"`
	KeyCheck        hexBytes `json:"key_check"`
	Sequence        uint64   `json:"sequence"`
	Nonce           hexBytes `json:"nonce"`
	Plaintext       string   `json:"plaintext"`
	Backup          *Backup  `json:"backup"`
	WrongKey        hexBytes `json:"wrong_key"`
	WrongKeyError   string   `json:"wrong_key_error"`
}

func genBackup(t testing.TB) backupVectors {
	d := newDetRand("vectors/backup")
	var rk RecoveryKey
	copy(rk[:], d.bytes(32))
	enc, check := rk.backupKeys()
	sk := genSenderKey(t)
	c := BackupContents{MasterKey: d.bytes(32), SenderKeys: [][]byte{sk.Steps[0].Distribution}}
	pt, _ := c.Marshal()
	nonce := d.bytes(24)
	b, err := SealBackup(script(nonce), rk, 42, pt)
	if err != nil {
		t.Fatal(err)
	}
	var wrong RecoveryKey
	copy(wrong[:], d.bytes(32))
	_, _, err = OpenBackup(wrong, b)
	return backupVectors{
		Description: "The key backup: the recovery key, its text, the derived keys, and the Backup JSON of PUT /api/v1/keys/backup (auth_data and data base64). The plaintext is a BackupContents JSON document.",
		RecoveryKey: rk[:], RecoveryKeyText: rk.String(), BackupKey: enc, KeyCheck: check,
		Sequence: 42, Nonce: nonce, Plaintext: string(pt), Backup: b,
		WrongKey: wrong[:], WrongKeyError: errName(err),
	}
}

func TestVectorBackup(t *testing.T) {
	v := loadVectors[backupVectors](t, "backup")
	rk, err := ParseRecoveryKey(v.RecoveryKeyText)
	if err != nil || !bytes.Equal(rk[:], v.RecoveryKey) {
		t.Fatalf("recovery key text: %v", err)
	}
	seq, pt, err := OpenBackup(rk, v.Backup)
	if err != nil || seq != v.Sequence || string(pt) != v.Plaintext {
		t.Fatalf("open: %v", err)
	}
	if _, err := ParseBackupContents(pt); err != nil {
		t.Fatal(err)
	}
	b, _ := SealBackup(script(v.Nonce), rk, v.Sequence, pt)
	if !bytes.Equal(b.Data, v.Backup.Data) || !bytes.Equal(b.AuthData, v.Backup.AuthData) {
		t.Fatal("seal")
	}
	var w RecoveryKey
	copy(w[:], v.WrongKey)
	if _, _, err := OpenBackup(w, v.Backup); errName(err) != v.WrongKeyError {
		t.Fatalf("wrong key: %v", err)
	}
}

// ---- Acceptance vectors, consumed

func TestVectorEd25519(t *testing.T) {
	for _, c := range loadVectors[ed25519Vectors](t, "ed25519").Cases {
		var p SigningPublic
		var s Signature
		copy(p[:], c.PublicKey)
		copy(s[:], c.Signature)
		err := verify(p, c.Message, s)
		if (err == nil) != c.Valid || errName(err) != c.Error {
			t.Fatalf("%s: %v, want valid=%v %s", c.Name, err, c.Valid, c.Error)
		}
	}
}

func TestVectorX25519(t *testing.T) {
	for _, c := range loadVectors[x25519Vectors](t, "x25519").Cases {
		err := CheckDHPublic(c.PublicKey)
		if (err == nil) != c.Valid || errName(err) != c.Error {
			t.Fatalf("%s: %v", c.Name, err)
		}
	}
}
