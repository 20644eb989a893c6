// Package webauthntest is a software passkey authenticator for tests: it
// answers the options a relying party hands to navigator.credentials.create
// and .get with what a browser would send back (attestation "none",
// ES256 keys, discoverable credentials), from an origin the test chooses.
// Knobs let a test play a misbehaving authenticator: no user verification,
// a counter that goes backwards, a wrong origin.
//
// The browser tests use Chromium's own virtual authenticator; this one
// serves the Go tests, which need no browser.
package webauthntest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// Authenticator holds credentials, like a security key or a phone.
type Authenticator struct {
	// Origin is the origin the "browser" reports in clientDataJSON, e.g.
	// http://localhost.
	Origin string
	// NoUserVerification clears the UV flag, as an authenticator that did
	// not check a PIN or biometric.
	NoUserVerification bool

	mu    sync.Mutex
	creds []*Credential
}

// Credential is one passkey the authenticator holds.
type Credential struct {
	ID         []byte
	RPID       string
	UserHandle []byte
	Key        *ecdsa.PrivateKey
	// Counter is the signature counter; each assertion increments it
	// first. A test may set it back to play a cloned authenticator.
	Counter uint32
}

// New returns an authenticator whose "browser" runs at origin.
func New(origin string) *Authenticator { return &Authenticator{Origin: origin} }

// Credentials returns the credentials held, oldest first.
func (a *Authenticator) Credentials() []*Credential {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*Credential(nil), a.creds...)
}

var b64 = base64.RawURLEncoding

// creationOptions is the part of PublicKeyCredentialCreationOptions used.
type creationOptions struct {
	Challenge string `json:"challenge"`
	RP        struct {
		ID string `json:"id"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	Exclude []struct {
		ID string `json:"id"`
	} `json:"excludeCredentials"`
}

// requestOptions is the part of PublicKeyCredentialRequestOptions used.
type requestOptions struct {
	Challenge string `json:"challenge"`
	RPID      string `json:"rpId"`
	Allow     []struct {
		ID string `json:"id"`
	} `json:"allowCredentials"`
}

// unwrap accepts either the options themselves or {"publicKey": options}.
func unwrap(options []byte) []byte {
	var w struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if json.Unmarshal(options, &w) == nil && len(w.PublicKey) > 0 {
		return w.PublicKey
	}
	return options
}

const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

func (a *Authenticator) flags() byte {
	f := byte(flagUP)
	if !a.NoUserVerification {
		f |= flagUV
	}
	return f
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	cd, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return cd
}

// Create answers creation options with a new credential, as the JSON of a
// PublicKeyCredential (its toJSON form).
func (a *Authenticator) Create(options []byte) ([]byte, error) {
	var o creationOptions
	if err := json.Unmarshal(unwrap(options), &o); err != nil {
		return nil, fmt.Errorf("creation options: %w", err)
	}
	user, err := b64.DecodeString(o.User.ID)
	if err != nil || o.Challenge == "" || o.RP.ID == "" {
		return nil, errors.New("creation options lack challenge, rp.id or user.id")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ex := range o.Exclude {
		for _, c := range a.creds {
			if b64.EncodeToString(c.ID) == ex.ID {
				return nil, errors.New("InvalidStateError: this authenticator already holds an excluded credential")
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	cred := &Credential{ID: id, RPID: o.RP.ID, UserHandle: user, Key: key}

	pub, err := key.PublicKey.ECDH()
	if err != nil {
		return nil, err
	}
	raw := pub.Bytes() // 0x04 || X || Y
	cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:65]})
	if err != nil {
		return nil, err
	}
	rpHash := sha256.Sum256([]byte(o.RP.ID))
	auth := append([]byte{}, rpHash[:]...)
	auth = append(auth, a.flags()|flagAT)
	auth = binary.BigEndian.AppendUint32(auth, cred.Counter)
	auth = append(auth, make([]byte, 16)...) // AAGUID: zero
	auth = binary.BigEndian.AppendUint16(auth, uint16(len(id)))
	auth = append(auth, id...)
	auth = append(auth, cose...)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": auth})
	if err != nil {
		return nil, err
	}
	a.creds = append(a.creds, cred)
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(id), "rawId": b64.EncodeToString(id), "type": "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(a.clientData("webauthn.create", o.Challenge)),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"internal"},
		},
		"clientExtensionResults": map[string]any{"credProps": map[string]any{"rk": true}},
	})
}

// Get answers request options with an assertion by the newest credential
// for the RP ID (or the newest one allowed), as the JSON of a
// PublicKeyCredential.
func (a *Authenticator) Get(options []byte) ([]byte, error) {
	var o requestOptions
	if err := json.Unmarshal(unwrap(options), &o); err != nil {
		return nil, fmt.Errorf("request options: %w", err)
	}
	a.mu.Lock()
	var cred *Credential
	for i := len(a.creds) - 1; i >= 0 && cred == nil; i-- {
		c := a.creds[i]
		if c.RPID != o.RPID {
			continue
		}
		if len(o.Allow) == 0 {
			cred = c
		}
		for _, al := range o.Allow {
			if b64.EncodeToString(c.ID) == al.ID {
				cred = c
			}
		}
	}
	a.mu.Unlock()
	if cred == nil {
		return nil, errors.New("NotAllowedError: no credential for this relying party")
	}
	return a.Assert(cred, o.Challenge, o.RPID)
}

// Assert signs an assertion by cred for challenge and rpID.
func (a *Authenticator) Assert(cred *Credential, challenge, rpID string) ([]byte, error) {
	a.mu.Lock()
	cred.Counter++
	counter := cred.Counter
	a.mu.Unlock()
	rpHash := sha256.Sum256([]byte(rpID))
	auth := append([]byte{}, rpHash[:]...)
	auth = append(auth, a.flags())
	auth = binary.BigEndian.AppendUint32(auth, counter)
	cd := a.clientData("webauthn.get", challenge)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, auth...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, cred.Key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(cred.ID), "rawId": b64.EncodeToString(cred.ID), "type": "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"authenticatorData": b64.EncodeToString(auth),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(cred.UserHandle),
		},
		"clientExtensionResults": map[string]any{},
	})
}
