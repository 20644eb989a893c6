package e2ee

import (
	"crypto/ecdh"
	"errors"
	"math/big"
	"testing"
)

// The small-order constants of accept.go, checked from first principles.
func TestSmallOrderConstants(t *testing.T) {
	seen := map[string]bool{}
	for _, y := range edSmallOrderY {
		for _, sign := range []byte{0, 0x80} {
			enc := append([]byte{}, y[:]...)
			enc[31] |= sign
			if !edCanonical(enc) {
				continue
			}
			p, ok := edDecode(enc)
			if !ok {
				t.Fatalf("%x is not a curve point", enc)
			}
			if !p.mul(big.NewInt(8)).isIdentity() {
				t.Fatalf("%x is not of small order", enc)
			}
			seen[string(p.encode())] = true
			if CheckSigningPublic(enc) == nil {
				t.Fatalf("%x accepted", enc)
			}
		}
	}
	if len(seen) != 8 {
		t.Fatalf("%d small-order points, want the 8 of the 8-torsion", len(seen))
	}
	// Every y ≥ p is refused, whatever the sign bit.
	for i := range 19 {
		y := new(big.Int).Add(edP, big.NewInt(int64(i)))
		enc := leBytes(y)
		for _, sign := range []byte{0, 0x80} {
			enc[31] = enc[31]&0x7f | sign
			if err := CheckSigningPublic(enc); !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("y = p+%d accepted", i)
			}
		}
	}
	// The low-order X25519 u-coordinates give the all-zero output.
	k, _ := ecdh.X25519().NewPrivateKey(make([]byte, 32))
	for _, u := range x25519LowOrder {
		pub, err := ecdh.X25519().NewPublicKey(u[:])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.ECDH(pub); err == nil {
			t.Fatalf("u %x: not low order", u)
		}
		if CheckDHPublic(u[:]) == nil {
			t.Fatalf("u %x accepted", u)
		}
	}
	// A valid key passes both rules.
	s, _ := NewSigningKey(make([]byte, 32))
	d, _ := NewDHKey(make([]byte, 32))
	if CheckSigningPublic(s.pub[:]) != nil || CheckDHPublic(d.pub[:]) != nil {
		t.Fatal("valid keys refused")
	}
	if CheckKEMPublic(make([]byte, KEMPublicKeySize)) != nil {
		t.Fatal("the all-zero ML-KEM key is a valid encoding")
	}
	bad := make([]byte, KEMPublicKeySize)
	for i := range bad {
		bad[i] = 0xff
	}
	if CheckKEMPublic(bad) == nil {
		t.Fatal("unreduced ML-KEM key accepted")
	}
}
