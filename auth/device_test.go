package auth

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// FuzzDeviceToken: whatever a client sends as a device token, deviceID
// never panics and accepts only a token this service issued for that
// account; a token issued is accepted for its account alone.
func FuzzDeviceToken(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	s := &Service{cfg: Config{DeviceKey: []byte("0123456789abcdef0123456789abcdef"), DeviceTokenTTL: 90 * 24 * time.Hour,
		Now: func() time.Time { return now }}}
	s.now = s.cfg.Now
	good := s.issueDeviceToken("alice")
	f.Add(good)
	f.Add("")
	f.Add(deviceTokenPrefix)
	f.Add(good[:len(good)-1] + "A")
	f.Fuzz(func(t *testing.T, tok string) {
		if s.deviceID("bob", tok) != "" {
			t.Fatalf("accepted alice's token for bob: %q", tok)
		}
		if s.deviceID("alice", tok) == "" {
			return
		}
		// Accepted: then it is exactly the encoding of a token this key
		// issued, with no other spelling of the same bytes.
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, deviceTokenPrefix))
		if err != nil || deviceTokenPrefix+base64.RawURLEncoding.EncodeToString(b) != tok {
			t.Fatalf("accepted a non-canonical token %q", tok)
		}
	})
}

// TestDeviceTokenHasOneSpelling: a token whose last character differs
// only in bits the encoding ignores is not the token.
func TestDeviceTokenHasOneSpelling(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := &Service{cfg: Config{DeviceKey: []byte("0123456789abcdef0123456789abcdef"), DeviceTokenTTL: time.Hour}}
	s.now = func() time.Time { return now }
	tok := s.issueDeviceToken("alice")
	if s.deviceID("alice", tok) == "" {
		t.Fatal("a fresh token is refused")
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	for i := range 64 {
		if i == last || i>>4 != last>>4 {
			continue
		}
		if alt := tok[:len(tok)-1] + alphabet[i:i+1]; s.deviceID("alice", alt) != "" {
			t.Fatalf("another spelling %q is accepted", alt)
		}
	}
}
