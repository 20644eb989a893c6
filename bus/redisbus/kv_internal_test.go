package redisbus

import (
	"testing"

	"github.com/unhidra/unhidra/bus"
)

// FuzzMember: index members round-trip every storable key and
// parseMember never panics.
func FuzzMember(f *testing.F) {
	f.Add("user-1", "node-1", "dXNlcg.bm9kZQ")
	f.Add("a.b", "\x00\xff", "...")
	f.Fuzz(func(t *testing.T, group, name, raw string) {
		k := bus.Key{Group: group, Name: name}
		if bus.CheckKey(k) == nil {
			if back, ok := parseMember(member(k)); !ok || back != k {
				t.Fatalf("%v came back as %v, %v", k, back, ok)
			}
		}
		if back, ok := parseMember(raw); ok && bus.CheckKey(back) != nil {
			t.Fatalf("parseMember(%q) accepted %v", raw, back)
		}
	})
}
