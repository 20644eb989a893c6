package e2ee

// Known-answer tests of every primitive the protocol uses, with the
// published vectors transcribed from the RFCs (RFC 7748 §5.2 and §6.1,
// RFC 8032 §7.1, RFC 8439 §2.8.2, RFC 5869 Appendix A) and, for ML-KEM,
// the accumulated vectors of C2SP CCTV plus a fixed-seed vector.

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/mlkem"
	"crypto/mlkem/mlkemtest"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/hex"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func seq(from, to byte) []byte {
	var b []byte
	for c := int(from); c <= int(to); c++ {
		b = append(b, byte(c))
	}
	return b
}

func TestRFC7748(t *testing.T) {
	x := ecdh.X25519()
	// §5.2: X25519(scalar, u). The second u has its top bit set, which
	// X25519 ignores (the protocol's own rule refuses such keys).
	for _, v := range []struct{ k, u, out string }{
		{"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
			"e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
			"c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
		{"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
			"e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
			"95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
	} {
		k, err := x.NewPrivateKey(unhex(t, v.k))
		if err != nil {
			t.Fatal(err)
		}
		u := unhex(t, v.u)
		u[31] &= 0x7f // RFC 7748 §5: mask the top bit before use
		pub, err := x.NewPublicKey(u)
		if err != nil {
			t.Fatal(err)
		}
		out, err := k.ECDH(pub)
		if err != nil || hex.EncodeToString(out) != v.out {
			t.Fatalf("X25519: %x %v", out, err)
		}
	}
	if CheckDHPublic(unhex(t, "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493")) == nil {
		t.Fatal("a u with the top bit set passed the protocol's rule")
	}
	// §5.2 iterated: k = u = 9; k, u = X25519(k, u), k.
	k, u := make([]byte, 32), make([]byte, 32)
	k[0], u[0] = 9, 9
	for i := 1; i <= 1000; i++ {
		priv, _ := x.NewPrivateKey(k)
		pub, _ := x.NewPublicKey(u)
		out, err := priv.ECDH(pub)
		if err != nil {
			t.Fatal(err)
		}
		k, u = out, k
		switch i {
		case 1:
			if hex.EncodeToString(k) != "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079" {
				t.Fatalf("1 iteration: %x", k)
			}
		case 1000:
			if hex.EncodeToString(k) != "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51" {
				t.Fatalf("1000 iterations: %x", k)
			}
		}
	}
	// §6.1: Diffie-Hellman, through the package's own key type.
	alice, _ := NewDHKey(unhex(t, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
	bob, _ := NewDHKey(unhex(t, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
	if hex.EncodeToString(alice.pub[:]) != "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a" ||
		hex.EncodeToString(bob.pub[:]) != "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f" {
		t.Fatal("public keys")
	}
	for _, s := range []struct {
		k   *DHKey
		pub DHPublic
	}{{alice, bob.Public()}, {bob, alice.Public()}} {
		out, err := s.k.dh(s.pub)
		if err != nil || hex.EncodeToString(out) != "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742" {
			t.Fatalf("shared secret %x %v", out, err)
		}
	}
}

func TestRFC8032(t *testing.T) {
	for _, v := range []struct{ seed, pub, msg, sig string }{
		{"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
			"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
			"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
		{"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
			"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
			"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
		{"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
			"fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
			"6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
	} {
		k, err := NewSigningKey(unhex(t, v.seed))
		if err != nil {
			t.Fatal(err)
		}
		pub := k.Public()
		if hex.EncodeToString(pub[:]) != v.pub {
			t.Fatalf("public key %x", pub)
		}
		msg := unhex(t, v.msg)
		sig := k.sign(msg)
		if hex.EncodeToString(sig[:]) != v.sig {
			t.Fatalf("signature %x", sig)
		}
		if err := verify(pub, msg, sig); err != nil {
			t.Fatal(err)
		}
		if !ed25519.Verify(pub[:], msg, sig[:]) {
			t.Fatal("crypto/ed25519 disagrees")
		}
	}
}

func TestRFC8439(t *testing.T) {
	// §2.8.2: AEAD_CHACHA20_POLY1305.
	key := seq(0x80, 0x9f)
	nonce := unhex(t, "070000004041424344454647")
	aad := unhex(t, "50515253c0c1c2c3c4c5c6c7")
	pt := []byte("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.")
	want := "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116" +
		"1ae10b594f09e26a7e902ecbd0600691"
	ct := seal(key, nonce, pt, aad)
	if hex.EncodeToString(ct) != want {
		t.Fatalf("ciphertext %x", ct)
	}
	got, err := open(key, nonce, ct, aad)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatal(err)
	}
	ct[len(ct)-1] ^= 1
	if _, err := open(key, nonce, ct, aad); err == nil {
		t.Fatal("changed tag accepted")
	}
}

func TestRFC5869(t *testing.T) {
	for _, v := range []struct {
		name            string
		ikm, salt, info []byte
		l               int
		prk, okm        string
	}{
		{"A.1", bytes.Repeat([]byte{0x0b}, 22), seq(0x00, 0x0c), seq(0xf0, 0xf9), 42,
			"077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
			"3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
		{"A.2", seq(0x00, 0x4f), seq(0x60, 0xaf), seq(0xb0, 0xff), 82,
			"06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
			"b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"},
		{"A.3", bytes.Repeat([]byte{0x0b}, 22), nil, nil, 42,
			"19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
			"8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
	} {
		t.Run(v.name, func(t *testing.T) {
			prk, _ := hkdf.Extract(sha256.New, v.ikm, v.salt)
			if hex.EncodeToString(prk) != v.prk {
				t.Fatalf("PRK %x", prk)
			}
			okm := hkdfSHA256(v.ikm, v.salt, string(v.info), v.l)
			if hex.EncodeToString(okm) != v.okm {
				t.Fatalf("OKM %x", okm)
			}
		})
	}
}

// TestMLKEMAccumulated runs the accumulated ML-KEM-768 vectors of C2SP
// CCTV (also used by Go's own crypto/mlkem tests): seeds and randomness from
// a SHAKE-128 stream, every output hashed into another SHAKE-128, for 100
// key pairs including decapsulation of random (invalid) ciphertexts.
func TestMLKEMAccumulated(t *testing.T) {
	s, o := sha3.NewSHAKE128(), sha3.NewSHAKE128()
	seed, msg, ct1 := make([]byte, KEMSeedSize), make([]byte, 32), make([]byte, KEMCiphertextSize)
	for range 100 {
		s.Read(seed)
		k, err := NewKEMKey(seed)
		if err != nil {
			t.Fatal(err)
		}
		ek := k.dk.EncapsulationKey()
		o.Write(ek.Bytes())
		s.Read(msg)
		ss, ct, err := mlkemtest.Encapsulate768(ek, msg)
		if err != nil {
			t.Fatal(err)
		}
		o.Write(ct)
		o.Write(ss)
		if got, _ := k.dk.Decapsulate(ct); !bytes.Equal(got, ss) {
			t.Fatal("decapsulation")
		}
		s.Read(ct1)
		ss1, _ := k.dk.Decapsulate(ct1)
		o.Write(ss1)
	}
	sum := make([]byte, 32)
	o.Read(sum)
	if got := hex.EncodeToString(sum); got != "1114b1b6699ed191734fa339376afa7e285c9e6acf6ff0177d346696ce564415" {
		t.Fatalf("accumulated %s", got)
	}
}

// TestMLKEMFixedSeed pins one key pair and encapsulation from fixed inputs
// (seed 0x00..0x3f, randomness 0x40..0x5f): a regression vector the
// TypeScript implementation checks too (testdata/vectors/mlkem.json).
func TestMLKEMFixedSeed(t *testing.T) {
	v := genMLKEM(t)
	k, _ := NewKEMKey(unhex(t, v.Seed))
	pub := k.Public()
	if h := sha256.Sum256(pub[:]); hex.EncodeToString(h[:]) != v.EncapsulationKeySHA256 {
		t.Fatal("encapsulation key")
	}
	ek, _ := mlkem.NewEncapsulationKey768(pub[:])
	ss, ct, _ := mlkemtest.Encapsulate768(ek, unhex(t, v.Randomness))
	if h := sha256.Sum256(ct); hex.EncodeToString(h[:]) != v.CiphertextSHA256 || hex.EncodeToString(ss) != v.SharedSecret {
		t.Fatal("encapsulation")
	}
	if got, _ := k.dk.Decapsulate(ct); !bytes.Equal(got, ss) {
		t.Fatal("decapsulation")
	}
}
