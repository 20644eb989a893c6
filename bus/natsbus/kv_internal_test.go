package natsbus

import (
	"regexp"
	"testing"

	"github.com/unhidra/unhidra/bus"
)

// plainKey is what a NATS KV key of two literal tokens looks like: no
// wildcard, nothing outside the characters NATS allows.
var plainKey = regexp.MustCompile(`^k[-_A-Za-z0-9]*\.k[-_A-Za-z0-9]*$`)

// FuzzKeyEscaping: every storable key becomes two plain tokens and comes
// back as it was; decodeKey never panics and accepts only such keys.
func FuzzKeyEscaping(f *testing.F) {
	f.Add("user-1", "node-1", "kdXNlcg.kbm9kZQ")
	f.Add("*", ">", "k*.k>")
	f.Add("a.b\x00", "\xff", "..")
	f.Fuzz(func(t *testing.T, group, name, raw string) {
		k := bus.Key{Group: group, Name: name}
		if bus.CheckKey(k) == nil {
			enc := encodeKey(k)
			if !plainKey.MatchString(enc) {
				t.Fatalf("%v escaped to %q", k, enc)
			}
			if back, ok := decodeKey(enc); !ok || back != k {
				t.Fatalf("%v came back as %v, %v", k, back, ok)
			}
		}
		if back, ok := decodeKey(raw); ok && bus.CheckKey(back) != nil {
			t.Fatalf("decodeKey(%q) accepted %v", raw, back)
		}
	})
}
