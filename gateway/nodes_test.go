package gateway

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/wire"
)

// TestBoundUserAgent: at most wire.MaxUserAgent bytes of valid UTF-8,
// cut between characters, control characters replaced.
func TestBoundUserAgent(t *testing.T) {
	for _, in := range []string{"", "curl/8.5", strings.Repeat("é", 300), "a\x00b\nc\x7f\u0085", "bad \xff utf8", strings.Repeat("x", 255) + "€"} {
		out := boundUserAgent(in)
		if len(out) > wire.MaxUserAgent || !utf8.ValidString(out) || strings.ContainsAny(out, "\x00\n\x7f\u0085") {
			t.Fatalf("boundUserAgent(%q) = %q", in, out)
		}
		if len(in) <= wire.MaxUserAgent && utf8.ValidString(in) && !strings.ContainsAny(in, "\x00\n\x7f\u0085") && out != in {
			t.Fatalf("boundUserAgent changed a plain %q to %q", in, out)
		}
	}
}

// FuzzConnectionCursor: a cursor either decodes to a position that
// encodes back to itself or is refused with invalid_argument.
func FuzzConnectionCursor(f *testing.F) {
	f.Add(encodeCursor(ConnectionInfo{ID: "0190a1b2-0000-7000-8000-000000000000", Since: time.UnixMicro(1700000000000001)}))
	f.Add("bm9wZQ")
	f.Add("MTIzX2E")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		at, id, err := decodeCursor(s)
		if err != nil {
			if unhidra.ErrorCode(err) != unhidra.EInvalid {
				t.Fatalf("error %v", err)
			}
			return
		}
		if !wire.PlainID(id) || at.IsZero() {
			t.Fatalf("decoded %v %q", at, id)
		}
		at2, id2, err := decodeCursor(encodeCursor(ConnectionInfo{ID: id, Since: at}))
		if err != nil || !at2.Equal(at) || id2 != id {
			t.Fatalf("round trip of %q: %v %q %v", s, at2, id2, err)
		}
	})
}
