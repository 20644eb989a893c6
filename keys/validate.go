package keys

import (
	"encoding/base64"

	"github.com/unhidra/unhidra"
)

// CheckClientID checks a client-chosen client id: 1 to MaxClientIDLength
// characters of [A-Za-z0-9_-].
func CheckClientID(field, id string) error {
	if id == "" || len(id) > MaxClientIDLength {
		return unhidra.Errorf(unhidra.EInvalid, "%s must be 1 to %d characters of A-Z, a-z, 0-9, '_' and '-'", field, MaxClientIDLength)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return unhidra.Errorf(unhidra.EInvalid, "%s must be 1 to %d characters of A-Z, a-z, 0-9, '_' and '-'", field, MaxClientIDLength)
		}
	}
	return nil
}

// decodeBase64 decodes standard base64 (padded) in its canonical spelling
// only: no line breaks, no non-zero padding bits, so one value has one
// encoding. It refuses more than maxBytes decoded bytes before decoding.
func decodeBase64(field, s string, maxBytes int) ([]byte, error) {
	if len(s) > base64.StdEncoding.EncodedLen(maxBytes) {
		return nil, unhidra.Errorf(unhidra.EInvalid, "%s is larger than %d bytes", field, maxBytes)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return nil, unhidra.Errorf(unhidra.EInvalid, "%s must be standard base64", field)
	}
	if len(b) > maxBytes {
		return nil, unhidra.Errorf(unhidra.EInvalid, "%s is larger than %d bytes", field, maxBytes)
	}
	return b, nil
}

// decodeKey decodes a key or signature of exactly size bytes.
func decodeKey(field, s string, size int) ([]byte, error) {
	if s == "" {
		return nil, unhidra.Errorf(unhidra.EInvalid, "%s is required", field)
	}
	if len(s) != base64.StdEncoding.EncodedLen(size) {
		return nil, unhidra.Errorf(unhidra.EInvalid, "%s must be %d bytes in standard base64 (%d characters)", field, size, base64.StdEncoding.EncodedLen(size))
	}
	b, err := decodeBase64(field, s, size)
	if err != nil {
		return nil, err
	}
	if len(b) != size {
		return nil, unhidra.Errorf(unhidra.EInvalid, "%s must be %d bytes", field, size)
	}
	return b, nil
}

// PreKeyInput is a one-time X25519 prekey as uploaded.
type PreKeyInput struct {
	ID  uint32 `json:"id"`
	Key string `json:"key" doc:"X25519 public key, 32 bytes, standard base64"`
}

// SignedPreKeyInput is a signed prekey as uploaded.
type SignedPreKeyInput struct {
	ID  uint32 `json:"id"`
	Key string `json:"key" doc:"public key, standard base64: X25519 (32 bytes), or ML-KEM-768 (1184 bytes) for post-quantum prekeys"`
	Sig string `json:"sig" doc:"Ed25519 signature by the client's signing key, 64 bytes, standard base64"`
}

func (in *SignedPreKeyInput) decode(field string, keySize int) (*unhidra.SignedPreKey, error) {
	if in == nil {
		return nil, nil
	}
	k, err := decodeKey(field+".key", in.Key, keySize)
	if err != nil {
		return nil, err
	}
	sig, err := decodeKey(field+".sig", in.Sig, unhidra.Ed25519SigSize)
	if err != nil {
		return nil, err
	}
	return &unhidra.SignedPreKey{ID: in.ID, Key: k, Sig: sig}, nil
}
