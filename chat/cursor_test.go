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

// FuzzDecodeChannelCursor: a cursor of the admins' channel list never
// panics, is refused with invalid_argument unless this server could have
// given it out, and one that decodes re-encodes to itself.
func FuzzDecodeChannelCursor(f *testing.F) {
	f.Add(encodeChannelCursor("general", "0192f3a4-0000-7000-8000-000000000001"))
	f.Add(encodeChannelCursor("", "x"))
	f.Add("")
	f.Add("Z2VuZXJhbA") // "general", no id
	f.Add("Z2VuAGEAYg") // "gen\x00a\x00b"
	f.Add("not base64!")
	f.Fuzz(func(t *testing.T, c string) {
		name, id, err := decodeChannelCursor(c)
		if err != nil {
			if unhidra.ErrorCode(err) != unhidra.EInvalid {
				t.Fatalf("error %v", err)
			}
			return
		}
		if c == "" {
			if name != "" || id != "" {
				t.Fatalf("empty cursor gave %q %q", name, id)
			}
			return
		}
		if unhidra.CheckID("cursor", id) != nil || unhidra.CheckParam("cursor", name, 80) != nil {
			t.Fatalf("accepted %q %q", name, id)
		}
		name2, id2, err := decodeChannelCursor(encodeChannelCursor(name, id))
		if err != nil || name2 != name || id2 != id {
			t.Fatalf("round trip of %q: %q %q %v", c, name2, id2, err)
		}
	})
}
