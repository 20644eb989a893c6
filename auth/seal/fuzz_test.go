package seal

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzOpen: Open never panics, and accepts only the blobs Seal made with
// the same key, purpose and id, and no altered copy of one.
func FuzzOpen(f *testing.F) {
	k, err := NewKey(bytes.Repeat([]byte{0x42}, KeySize))
	if err != nil {
		f.Fatal(err)
	}
	good := k.Seal("token-signing-key", "kid", []byte("plaintext"))
	f.Add(good, "token-signing-key", "kid")
	f.Add(good[:Overhead], "token-signing-key", "kid")
	f.Add([]byte{}, "", "")
	f.Add([]byte{version}, "device-token-key", "device-token-key")
	f.Add(k.Seal("", "", nil), "", "")
	f.Fuzz(func(t *testing.T, blob []byte, purpose, id string) {
		pt, err := k.Open(purpose, id, blob)
		if err != nil {
			if !errors.Is(err, ErrOpen) || pt != nil {
				t.Fatalf("Open = %q, %v", pt, err)
			}
			return
		}
		// What opens is authenticated: any changed byte makes it fail.
		// (The seeds are sealed anew in each fuzz worker, so which blob
		// opens cannot be pinned down here beyond that.)
		for i := range blob {
			b := bytes.Clone(blob)
			b[i] ^= 0x80
			if _, err := k.Open(purpose, id, b); err == nil {
				t.Fatalf("Open accepted the blob with byte %d changed", i)
			}
		}
		if again, err := k.Open(purpose, id, k.Seal(purpose, id, pt)); err != nil || !bytes.Equal(again, pt) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
