package e2ee

import (
	"crypto/ed25519"
	"crypto/mlkem"
)

// The key acceptance rules of docs/protocol.md ("Key acceptance rules").
// Ed25519 libraries disagree on what they accept (non-canonical encodings,
// small-order keys, the cofactored or cofactorless equation), so the
// protocol fixes one rule and checks it explicitly rather than relying on
// a library's default.

// fieldPrime is p = 2^255 - 19, little-endian.
var fieldPrime = [32]byte{
	0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
}

// groupOrder is L = 2^252 + 27742317777372353535851937790883648493,
// little-endian.
var groupOrder = [32]byte{
	0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
}

// edSmallOrderY are the y-coordinates (little-endian, sign bit clear) of
// the eight points of the Ed25519 curve whose order divides 8: y = 1 (the
// identity), y = p-1 (order 2), y = 0 (order 4, both signs of x) and the
// two y of the order-8 points (both signs of x each).
var edSmallOrderY = [][32]byte{
	{0x00},
	{0x01},
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
		0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
	{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
		0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
}

// x25519LowOrder are the u-coordinates (little-endian, canonical) of the
// Curve25519 points, on the curve or its twist, of order dividing 8: X25519
// with any of them gives the all-zero output.
var x25519LowOrder = [][32]byte{
	{0x00},
	{0x01},
	{0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
		0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
	{0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
		0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
}

// lessLE reports whether the little-endian number a is less than b.
func lessLE(a, b *[32]byte) bool {
	for i := 31; i >= 0; i-- {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// edCanonical: the encoding's y (sign bit cleared) is below p, and the sign
// bit is clear when x = 0 (y = 1 or y = p-1), the only points whose x has
// one encoding.
func edCanonical(b []byte) bool {
	var y [32]byte
	copy(y[:], b)
	sign := y[31] >> 7
	y[31] &= 0x7f
	if !lessLE(&y, &fieldPrime) {
		return false
	}
	if sign == 1 && (y == edSmallOrderY[1] || y == edSmallOrderY[2]) {
		return false
	}
	return true
}

// CheckSigningPublic applies the Ed25519 public-key rule: 32 bytes, a
// canonical encoding, and not one of the eight points of small order. That
// the bytes decode to a curve point at all is established by the signature
// that always comes with such a key (a key is never accepted without one).
func CheckSigningPublic(b []byte) error {
	if len(b) != KeySize {
		return errf(ErrInvalidKey, "Ed25519 public key must be %d bytes", KeySize)
	}
	if !edCanonical(b) {
		return errf(ErrInvalidKey, "non-canonical Ed25519 public key")
	}
	var y [32]byte
	copy(y[:], b)
	y[31] &= 0x7f
	for _, s := range edSmallOrderY {
		if y == s {
			return errf(ErrInvalidKey, "small-order Ed25519 public key")
		}
	}
	return nil
}

// verify checks an Ed25519 signature under the protocol's rule: the key
// passes CheckSigningPublic, R is a canonical encoding, S < L, and the
// cofactorless equation [S]B = R + [k]A holds (crypto/ed25519.Verify, which
// also compares R byte for byte).
func verify(pub SigningPublic, msg []byte, sig Signature) error {
	if err := CheckSigningPublic(pub[:]); err != nil {
		return err
	}
	if !edCanonical(sig[:32]) {
		return errf(ErrBadSignature, "non-canonical R")
	}
	var s [32]byte
	copy(s[:], sig[32:])
	if !lessLE(&s, &groupOrder) {
		return errf(ErrBadSignature, "S not below the group order")
	}
	if !ed25519.Verify(pub[:], msg, sig[:]) {
		return errf(ErrBadSignature, "does not verify")
	}
	return nil
}

// CheckDHPublic applies the X25519 public-key rule: 32 bytes, a canonical
// u-coordinate (the top bit clear and u < p), and not of low order.
func CheckDHPublic(b []byte) error {
	if len(b) != KeySize {
		return errf(ErrInvalidKey, "X25519 public key must be %d bytes", KeySize)
	}
	var u [32]byte
	copy(u[:], b)
	if !lessLE(&u, &fieldPrime) {
		return errf(ErrInvalidKey, "non-canonical X25519 public key")
	}
	for _, s := range x25519LowOrder {
		if u == s {
			return errf(ErrInvalidKey, "low-order X25519 public key")
		}
	}
	return nil
}

// CheckKEMPublic applies the ML-KEM-768 rule: 1184 bytes that pass the
// FIPS 203 encapsulation-key check (every coefficient reduced mod q).
func CheckKEMPublic(b []byte) error {
	if _, err := mlkem.NewEncapsulationKey768(b); err != nil {
		return errf(ErrInvalidKey, "ML-KEM-768 encapsulation key")
	}
	return nil
}
