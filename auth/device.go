package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"
)

// Device tokens let a client that has logged in to an account before be
// judged, at its next login, only by its own failures (OWASP's "device
// cookies" against slow brute force and lock-out): however many networks an
// attacker fails from, a returning device is never slowed by them.
//
// A token is "uhd_" + base64url(issued | id | mac): issued is the Unix
// second it was made (8 bytes), id 16 random bytes naming the device, and
// mac HMAC-SHA256 under the server's device key over the account name,
// issued and id. It is an HMAC rather than a stored hash because it grants
// nothing (no session, no access: only a backoff of its own), so it needs
// no revocation list, and verifying it costs no database read before the
// backoff decision. The account name (the lower-cased username) binds it:
// usernames never change on this server. Rotating the key (deleting its file)
// voids every device token; their clients fall back to the network rules.

const deviceTokenPrefix = "uhd_"

// DefaultDeviceTokenTTL is how long a device token counts after the login
// that issued it; every successful login issues a fresh one.
const DefaultDeviceTokenTTL = 90 * 24 * time.Hour

func (s *Service) deviceMAC(account string, issued, id []byte) []byte {
	m := hmac.New(sha256.New, s.cfg.DeviceKey)
	m.Write([]byte("unhidra device token v1\x00"))
	m.Write([]byte(account))
	m.Write([]byte{0})
	m.Write(issued)
	m.Write(id)
	return m.Sum(nil)
}

// issueDeviceToken returns a new device token for account, or "" when
// device tokens are off (no key).
func (s *Service) issueDeviceToken(account string) string {
	if len(s.cfg.DeviceKey) == 0 {
		return ""
	}
	issued := binary.BigEndian.AppendUint64(nil, uint64(s.now().Unix()))
	id := make([]byte, 16)
	rand.Read(id) // never fails since Go 1.24
	b := append(append(issued, id...), s.deviceMAC(account, issued, id)...)
	return deviceTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// deviceID returns the id of tok if it is a live device token of account,
// and "" for anything else: no token, another account's, an expired or a
// forged one, or a token made under another key.
func (s *Service) deviceID(account, tok string) string {
	if len(s.cfg.DeviceKey) == 0 || !strings.HasPrefix(tok, deviceTokenPrefix) || len(tok) > 128 {
		return ""
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok[len(deviceTokenPrefix):])
	if err != nil || len(b) != 8+16+sha256.Size {
		return ""
	}
	issued, id, mac := b[:8], b[8:24], b[24:]
	if !hmac.Equal(mac, s.deviceMAC(account, issued, id)) {
		return ""
	}
	at := time.Unix(int64(binary.BigEndian.Uint64(issued)), 0)
	if now := s.now(); at.After(now.Add(time.Minute)) || now.Sub(at) > s.cfg.DeviceTokenTTL {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(id)
}
