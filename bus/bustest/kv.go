package bustest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/bus"
)

// shortTTL is the TTL of the expiry tests: long enough that a heartbeat
// of a third of it is never late on a busy machine, short enough to wait
// for.
const shortTTL = 1500 * time.Millisecond

// RunKV runs the conformance tests of bus.KV. open must return a KV of
// the bucket opts names; called twice with the same name it returns two
// handles on the same entries, as two nodes have. The KVs are closed by
// the tests (closing again must be harmless); removing the bucket is
// open's business (t.Cleanup).
func RunKV(t *testing.T, open func(t *testing.T, opts bus.KVOptions) bus.KV) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(ttl time.Duration) bus.KV)
	}{
		{"PutListDelete", testKVPutListDelete},
		{"SharedAcrossNodes", testKVShared},
		{"Expiry", testKVExpiry},
		{"HeartbeatKeepsAlive", testKVHeartbeat},
		{"HostileKeys", testKVHostileKeys},
		{"Limits", testKVLimits},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := KVName(t)
			tc.fn(t, func(ttl time.Duration) bus.KV {
				kv := open(t, bus.KVOptions{Name: name, TTL: ttl})
				t.Cleanup(func() { kv.Close() })
				return kv
			})
		})
	}
}

// KVName returns a KV bucket name unique to this test run.
func KVName(t testing.TB) string {
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	return "bt_" + hex.EncodeToString(r[:])
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

func put(t *testing.T, kv bus.KV, k bus.Key, v string) {
	t.Helper()
	if err := kv.Put(ctxT(t), k, []byte(v)); err != nil {
		t.Fatalf("Put %v: %v", k, err)
	}
}

func list(t *testing.T, kv bus.KV, groups ...string) map[string]map[string][]byte {
	t.Helper()
	m, err := kv.List(ctxT(t), groups...)
	if err != nil {
		t.Fatalf("List %q: %v", groups, err)
	}
	return m
}

// render shows a List result in a stable form for comparisons.
func render(m map[string]map[string][]byte) string {
	var parts []string
	for g, names := range m {
		for n, v := range names {
			parts = append(parts, fmt.Sprintf("%q/%q=%q", g, n, v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// eventually polls cond until it holds or the wait runs out.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		ok, got := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last: %s", what, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testKVPutListDelete: what a KV stores it lists by group, overwrites,
// and forgets on Delete, on the same handle at once.
func testKVPutListDelete(t *testing.T, open func(time.Duration) bus.KV) {
	kv := open(30 * time.Second)
	put(t, kv, bus.Key{Group: "u1", Name: "n1"}, "a")
	put(t, kv, bus.Key{Group: "u1", Name: "n2"}, "b")
	put(t, kv, bus.Key{Group: "u2", Name: "n1"}, "c")
	if got, want := render(list(t, kv, "u1", "u2", "u3")), `"u1"/"n1"="a" "u1"/"n2"="b" "u2"/"n1"="c"`; got != want {
		t.Fatalf("List = %s, want %s", got, want)
	}
	if got, want := render(list(t, kv, "u2")), `"u2"/"n1"="c"`; got != want {
		t.Fatalf("List(u2) = %s, want %s", got, want)
	}
	if got := list(t, kv); len(got) != 0 {
		t.Fatalf("List of no groups = %s", render(got))
	}
	put(t, kv, bus.Key{Group: "u1", Name: "n1"}, "a2")
	if err := kv.Delete(ctxT(t), bus.Key{Group: "u1", Name: "n2"}); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctxT(t), bus.Key{Group: "u9", Name: "never"}); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	if got, want := render(list(t, kv, "u1", "u2")), `"u1"/"n1"="a2" "u2"/"n1"="c"`; got != want {
		t.Fatalf("after overwrite and delete: %s, want %s", got, want)
	}
	// Values are bytes, empty included.
	bin := []byte{0, 1, 0xff, '.', '*', 0}
	if err := kv.Put(ctxT(t), bus.Key{Group: "u3", Name: "bin"}, bin); err != nil {
		t.Fatal(err)
	}
	put(t, kv, bus.Key{Group: "u3", Name: "empty"}, "")
	m := list(t, kv, "u3")
	if !bytes.Equal(m["u3"]["bin"], bin) {
		t.Fatalf("binary value read back as %q", m["u3"]["bin"])
	}
	if v, ok := m["u3"]["empty"]; !ok || len(v) != 0 {
		t.Fatalf("empty value: %q, present %v", v, ok)
	}
	if ks, err := kv.Expired(ctxT(t)); err != nil || len(ks) != 0 {
		t.Fatalf("Expired = %v, %v; want nothing", ks, err)
	}
}

// testKVShared: two handles on one bucket (two nodes) see each other's
// writes and deletes.
func testKVShared(t *testing.T, open func(time.Duration) bus.KV) {
	a, b := open(30*time.Second), open(30*time.Second)
	put(t, a, bus.Key{Group: "u", Name: "node-a"}, "1")
	put(t, b, bus.Key{Group: "u", Name: "node-b"}, "2")
	want := `"u"/"node-a"="1" "u"/"node-b"="2"`
	for name, kv := range map[string]bus.KV{"a": a, "b": b} {
		eventually(t, "node "+name+" to see both entries", func() (bool, string) {
			got := render(list(t, kv, "u"))
			return got == want, got
		})
	}
	if err := a.Delete(ctxT(t), bus.Key{Group: "u", Name: "node-a"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node b to see the delete", func() (bool, string) {
		got := render(list(t, b, "u"))
		return got == `"u"/"node-b"="2"`, got
	})
	// A third handle opened now reads what is there.
	c := open(30 * time.Second)
	eventually(t, "a new node to read the entries", func() (bool, string) {
		got := render(list(t, c, "u"))
		return got == `"u"/"node-b"="2"`, got
	})
}

// testKVExpiry: an entry not written again within the TTL leaves List on
// every node and is reported by Expired, at most once per handle; a
// deleted one is not reported.
func testKVExpiry(t *testing.T, open func(time.Duration) bus.KV) {
	a, b := open(shortTTL), open(shortTTL)
	dead := bus.Key{Group: "u", Name: "dead-node"}
	gone := bus.Key{Group: "u", Name: "deleted"}
	put(t, a, dead, "x")
	put(t, a, gone, "y")
	eventually(t, "node b to see the entries", func() (bool, string) {
		got := render(list(t, b, "u"))
		return strings.Contains(got, "dead-node") && strings.Contains(got, "deleted"), got
	})
	if err := a.Delete(ctxT(t), gone); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	reports := map[bus.KV]map[bus.Key]int{a: {}, b: {}}
	collect := func() {
		for _, kv := range []bus.KV{a, b} {
			ks, err := kv.Expired(ctxT(t))
			if err != nil {
				t.Fatalf("Expired: %v", err)
			}
			for _, k := range ks {
				reports[kv][k]++
			}
		}
	}
	eventually(t, "the entry to expire everywhere", func() (bool, string) {
		collect()
		la, lb := render(list(t, a, "u")), render(list(t, b, "u"))
		return la == "" && lb == "", "a: " + la + "; b: " + lb
	})
	if d := time.Since(start); d < shortTTL/2 {
		t.Fatalf("entries gone after %s, the TTL is %s", d, shortTTL)
	}
	eventually(t, "Expired to report the entry", func() (bool, string) {
		collect()
		return reports[a][dead]+reports[b][dead] > 0, fmt.Sprint(reports)
	})
	// Some more sweeps report nothing new.
	for range 3 {
		time.Sleep(shortTTL / 5)
		collect()
	}
	for _, r := range reports {
		for k, n := range r {
			if k == gone {
				t.Errorf("the deleted entry was reported as expired")
			} else if k != dead {
				t.Errorf("unexpected expiry of %v", k)
			} else if n > 1 {
				t.Errorf("one handle reported %v %d times", k, n)
			}
		}
	}
}

// testKVHeartbeat: an entry written again well within its TTL stays.
func testKVHeartbeat(t *testing.T, open func(time.Duration) bus.KV) {
	a, b := open(shortTTL), open(shortTTL)
	k := bus.Key{Group: "u", Name: "alive"}
	put(t, a, k, "1")
	end := time.Now().Add(3 * shortTTL)
	for i := 0; time.Now().Before(end); i++ {
		time.Sleep(shortTTL / 4)
		put(t, a, k, fmt.Sprint(i))
		for _, kv := range []bus.KV{a, b} {
			ks, err := kv.Expired(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(ks) > 0 {
				t.Fatalf("a live entry reported expired: %v", ks)
			}
		}
		if _, ok := list(t, a, "u")["u"]["alive"]; !ok {
			t.Fatal("a live entry is missing from List")
		}
	}
	eventually(t, "node b to list the live entry", func() (bool, string) {
		got := render(list(t, b, "u"))
		return strings.Contains(got, "alive"), got
	})
}

// testKVHostileKeys: keys are bytes: NUL, invalid UTF-8, dots and NATS or
// glob wildcards round-trip exactly and never match other keys; groups
// and names never run into each other.
func testKVHostileKeys(t *testing.T, open func(time.Duration) bus.KV) {
	a, b := open(30*time.Second), open(30*time.Second)
	parts := []string{"\x00", "a\x00b", "\xff\xfe", "a.b", "a", "b", "*", ">", "a.*", "a.>", "%", "?", "[a]", "a:b", "a/b", "_kv", "-", "$KV", " ", "é", strings.Repeat("z", bus.MaxKeyPart)}
	want := map[string]map[string][]byte{}
	for i, g := range parts {
		n := parts[(i*7+3)%len(parts)]
		v := fmt.Sprintf("v%d", i)
		put(t, a, bus.Key{Group: g, Name: n}, v)
		want[g] = map[string][]byte{n: []byte(v)}
	}
	// "a" + "b.c" and "a.b" + "c" are different keys.
	put(t, a, bus.Key{Group: "x", Name: "y.z"}, "1")
	put(t, a, bus.Key{Group: "x.y", Name: "z"}, "2")
	want["x"] = map[string][]byte{"y.z": []byte("1")}
	want["x.y"] = map[string][]byte{"z": []byte("2")}
	groups := make([]string, 0, len(want))
	for g := range want {
		groups = append(groups, g)
	}
	for name, kv := range map[string]bus.KV{"writer": a, "other node": b} {
		eventually(t, name+" to list every hostile key exactly", func() (bool, string) {
			got := render(list(t, kv, groups...))
			return got == render(want), got
		})
		// A wildcard group lists only itself.
		for _, g := range []string{"*", ">", "a.*", "a.>"} {
			if got := render(list(t, kv, g)); got != render(map[string]map[string][]byte{g: want[g]}) {
				t.Fatalf("%s: List(%q) = %s", name, g, got)
			}
		}
	}
	if err := a.Delete(ctxT(t), bus.Key{Group: "*", Name: parts[(6*7+3)%len(parts)]}); err != nil {
		t.Fatal(err)
	}
	delete(want, "*")
	if got := render(list(t, a, groups...)); got != render(want) {
		t.Fatalf("deleting the group \"*\" changed others: %s", got)
	}
}

// testKVLimits: empty and oversized keys, oversized values and unusable
// bucket options are refused with clear errors, and nothing is stored.
func testKVLimits(t *testing.T, open func(time.Duration) bus.KV) {
	kv := open(30 * time.Second)
	huge := strings.Repeat("k", bus.MaxKeyPart+1)
	for _, k := range []bus.Key{{Group: "", Name: "n"}, {Group: "g", Name: ""}, {Group: huge, Name: "n"}, {Group: "g", Name: huge}} {
		if err := kv.Put(ctxT(t), k, []byte("v")); !errors.Is(err, bus.ErrBadKey) {
			t.Errorf("Put %v: %v, want bus.ErrBadKey", k, err)
		}
		if err := kv.Delete(ctxT(t), k); !errors.Is(err, bus.ErrBadKey) {
			t.Errorf("Delete %v: %v, want bus.ErrBadKey", k, err)
		}
	}
	if _, err := kv.List(ctxT(t), "ok", huge); !errors.Is(err, bus.ErrBadKey) {
		t.Errorf("List of a huge group: %v, want bus.ErrBadKey", err)
	}
	if _, err := kv.List(ctxT(t), ""); !errors.Is(err, bus.ErrBadKey) {
		t.Errorf("List of an empty group: %v, want bus.ErrBadKey", err)
	}
	if err := kv.Put(ctxT(t), bus.Key{Group: "g", Name: "big"}, make([]byte, bus.MaxValue+1)); !errors.Is(err, bus.ErrBadValue) {
		t.Errorf("Put of a huge value: %v, want bus.ErrBadValue", err)
	}
	if got := list(t, kv, "g"); len(got) != 0 {
		t.Errorf("refused writes stored %s", render(got))
	}
	if kv.TTL() != 30*time.Second {
		t.Errorf("TTL() = %s, want 30s", kv.TTL())
	}
	if err := kv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := kv.Put(ctxT(t), bus.Key{Group: "g", Name: "n"}, nil); err == nil {
		t.Error("Put after Close succeeded")
	}
	if err := kv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
