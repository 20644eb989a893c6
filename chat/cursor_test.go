package chat

import (
	"testing"
	"time"

	"github.com/unhidra/unhidra"
)

// FuzzDecodeCursor: a search cursor from a client never panics, is refused
// with invalid_argument unless it is one this server could have given out,
// and a cursor that decodes names a valid id and re-encodes to itself.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(time.UnixMicro(1700000000000000), "0192f3a4-0000-7000-8000-000000000001"))
	f.Add("")
	f.Add("MTcwMDAwMDAwMDAwMDAwMDphAGI") // "1700000000000000:a\x00b"
	f.Add("not base64!")
	f.Fuzz(func(t *testing.T, c string) {
		at, id, err := decodeCursor(c)
		if err != nil {
			if unhidra.ErrorCode(err) != unhidra.EInvalid {
				t.Fatalf("error %v", err)
			}
			return
		}
		if unhidra.CheckID("cursor", id) != nil {
			t.Fatalf("accepted id %q", id)
		}
		at2, id2, err := decodeCursor(encodeCursor(at, id))
		if err != nil || !at2.Equal(at) || id2 != id {
			t.Fatalf("round trip of %q: %v %q %v", c, at2, id2, err)
		}
	})
}
