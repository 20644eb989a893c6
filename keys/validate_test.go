package keys

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/unhidra/unhidra"
)

// FuzzDecodeKey: the base64 decoders never panic, refuse with
// invalid_argument, and accept only the one canonical spelling of a value
// of the size asked for.
func FuzzDecodeKey(f *testing.F) {
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(make([]byte, 32)), base64.StdEncoding.EncodeToString(make([]byte, 64)),
		base64.StdEncoding.EncodeToString(make([]byte, 1184)), "", "AAAA", "AAA=", "AAB=", "AA==", "AB==",
		"AAAA\n", "AA AA", "-_-_", strings.Repeat("A", 43) + "=", strings.Repeat("A", 44), "\x00\x00\x00\x00", "é",
	} {
		f.Add(s, 32)
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, size int) {
		size = max(0, min(size, 2048))
		for _, fn := range []func() ([]byte, error){
			func() ([]byte, error) { return decodeKey("k", s, size) },
			func() ([]byte, error) { return decodeBase64("k", s, size) },
		} {
			b, err := fn()
			if err != nil {
				if unhidra.ErrorCode(err) != unhidra.EInvalid || unhidra.ErrorMessage(err) == "" {
					t.Fatalf("%q: %v", s, err)
				}
				continue
			}
			if len(b) > size || base64.StdEncoding.EncodeToString(b) != s {
				t.Fatalf("accepted %q as %d bytes (at most %d), which re-encode as %q", s, len(b), size, base64.StdEncoding.EncodeToString(b))
			}
		}
		if b, err := decodeKey("k", s, size); err == nil && len(b) != size {
			t.Fatalf("decodeKey(%q, %d) = %d bytes", s, size, len(b))
		}
	})
}

// FuzzCheckClientID: an accepted client id is 1 to 64 bytes of the
// documented characters, so it is a valid id everywhere.
func FuzzCheckClientID(f *testing.F) {
	for _, s := range []string{"laptop-1", "A_b-9", "", "a.b", "a/b", "a\x00", strings.Repeat("x", 64), strings.Repeat("x", 65), "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := CheckClientID("client_id", s); err != nil {
			if unhidra.ErrorCode(err) != unhidra.EInvalid {
				t.Fatal(err)
			}
			return
		}
		if len(s) == 0 || len(s) > MaxClientIDLength || unhidra.CheckID("id", s) != nil || strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
			t.Fatalf("accepted %q", s)
		}
	})
}

func TestFingerprint(t *testing.T) {
	if Fingerprint(nil) != "" {
		t.Fatal("fingerprint of no key")
	}
	fp := Fingerprint(make([]byte, 32))
	if len(fp) != 16 || strings.Contains(base64.StdEncoding.EncodeToString(make([]byte, 32)), fp) {
		t.Fatalf("fingerprint %q", fp)
	}
}
