package e2ee

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"

	"golang.org/x/crypto/chacha20poly1305"
)

// HKDF info labels (docs/protocol.md "Labels"). Every key the protocol
// derives has its own.
const (
	labelHandshake     = "UnhidraHandshake"
	labelTranscript    = "UnhidraTranscript"
	labelRatchet       = "UnhidraRatchet"
	labelMessageKey    = "UnhidraMessageKey"
	labelSenderKeyMsg  = "UnhidraSenderKeyMessageKey"
	labelSenderKeyAD   = "UnhidraSenderKey"
	labelSenderKeySig  = "UnhidraSenderKeySig"
	labelSenderKeyCert = "UnhidraSenderKeyCert"
	labelFile          = "UnhidraFile"
	labelBackupKey     = "UnhidraBackupKey"
	labelBackupCheck   = "UnhidraBackupCheck"
	labelBackupAD      = "UnhidraBackup"
	labelRecoveryKey   = "UnhidraRecoveryKey"
	labelSafetyNumber  = "UnhidraSafetyNumber"
	labelClientCode    = "UnhidraClientFingerprint"
)

// hkdfSHA256 is HKDF-SHA256 (RFC 5869); an empty salt means HashLen zero
// bytes, as the RFC says.
func hkdfSHA256(secret, salt []byte, info string, n int) []byte {
	out, err := hkdf.Key(sha256.New, secret, salt, info, n)
	if err != nil {
		panic("e2ee: hkdf: " + err.Error()) // only for n > 255*32
	}
	return out
}

// kdfRK is the root-key step: HKDF(salt = root key, ikm = DH output,
// info = "UnhidraRatchet") → 64 bytes: new root key, chain key.
func kdfRK(rk [32]byte, dhOut []byte) (newRK, ck [32]byte) {
	out := hkdfSHA256(dhOut, rk[:], labelRatchet, 64)
	copy(newRK[:], out[:32])
	copy(ck[:], out[32:])
	return
}

// kdfCK is the chain step of the Double Ratchet and of sender keys:
// message key = HMAC-SHA256(ck, 0x01), next chain key = HMAC-SHA256(ck, 0x02).
func kdfCK(ck [32]byte) (next, mk [32]byte) {
	m := hmac.New(sha256.New, ck[:])
	m.Write([]byte{0x01})
	m.Sum(mk[:0])
	m.Reset()
	m.Write([]byte{0x02})
	m.Sum(next[:0])
	return
}

// messageAEAD expands a message key into a ChaCha20-Poly1305 key and nonce:
// HKDF(salt = empty, ikm = message key, info = label) → 44 bytes: key (32),
// nonce (12). A message key is used once, so the nonce is never repeated
// under its key.
func messageAEAD(mk [32]byte, label string) (key, nonce []byte) {
	out := hkdfSHA256(mk[:], nil, label, 44)
	return out[:32], out[32:]
}

func seal(key, nonce, plaintext, ad []byte) []byte {
	a, err := chacha20poly1305.New(key)
	if err != nil {
		panic("e2ee: chacha20poly1305: " + err.Error())
	}
	return a.Seal(nil, nonce, plaintext, ad)
}

func open(key, nonce, ciphertext, ad []byte) ([]byte, error) {
	a, err := chacha20poly1305.New(key)
	if err != nil {
		panic("e2ee: chacha20poly1305: " + err.Error())
	}
	p, err := a.Open(nil, nonce, ciphertext, ad)
	if err != nil {
		return nil, errf(ErrDecrypt, "authentication failed")
	}
	return p, nil
}

// PadBlock is the padding granularity of message plaintexts: what the
// server sees of a message's length is rounded up to a multiple of it.
const PadBlock = 32

// pad appends 0x80 and then zero bytes up to the next multiple of PadBlock
// (ISO/IEC 7816-4 padding); there is always at least the 0x80 byte.
func pad(p []byte) []byte {
	n := (len(p)/PadBlock + 1) * PadBlock
	out := make([]byte, n)
	copy(out, p)
	out[len(p)] = 0x80
	return out
}

// unpad inverts pad and refuses anything pad would not have produced.
func unpad(p []byte) ([]byte, error) {
	if len(p) == 0 || len(p)%PadBlock != 0 {
		return nil, errf(ErrInvalidMessage, "bad padding")
	}
	i := len(p) - 1
	for i >= 0 && p[i] == 0 {
		i--
	}
	if i < 0 || p[i] != 0x80 || len(p)-i > PadBlock {
		return nil, errf(ErrInvalidMessage, "bad padding")
	}
	return p[:i], nil
}
