package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ok := func() *Event {
		return &Event{Action: ActionLogin, ActorType: ActorUser, ActorID: "u1", IP: "2001:db8::1", Time: time.Now(),
			Metadata: map[string]string{"via": "invite"}}
	}
	if err := ok().Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(e *Event){
		"no action":      func(e *Event) { e.Action = "" },
		"action no dot":  func(e *Event) { e.Action = "login" },
		"action upper":   func(e *Event) { e.Action = "auth.Login" },
		"long id":        func(e *Event) { e.ActorID = strings.Repeat("x", MaxIDLen+1) },
		"control in id":  func(e *Event) { e.TargetID = "a\nb" },
		"bad result":     func(e *Event) { e.Result = "maybe" },
		"prose reason":   func(e *Event) { e.Reason = "wrong password!" },
		"bad ip":         func(e *Event) { e.IP = "not-an-ip" },
		"content key":    func(e *Event) { e.Metadata = map[string]string{"body": "hi"} },
		"ciphertext key": func(e *Event) { e.Metadata = map[string]string{"ciphertext": "AAAA"} },
		"long value":     func(e *Event) { e.Metadata = map[string]string{"note": strings.Repeat("x", MaxMetaValLen+1)} },
		"invalid utf8":   func(e *Event) { e.Metadata = map[string]string{"note": "\xff"} },
		"too many entries": func(e *Event) {
			e.Metadata = map[string]string{}
			for i := range MaxMetadata + 1 {
				e.Metadata[string(rune('a'+i))] = "v"
			}
		},
		"no time": func(e *Event) { e.Time = time.Time{} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			e := ok()
			mutate(e)
			if err := e.Validate(); err == nil {
				t.Fatalf("%+v was accepted", e)
			}
		})
	}
}

// TestEncodingVector pins the canonical encoding: docs/audit.md describes
// it byte for byte, and auditors' scripts depend on it.
func TestEncodingVector(t *testing.T) {
	e := &Event{Action: "auth.login", ActorType: "user", ActorID: "u1", Result: "ok",
		Metadata: map[string]string{"b": "2", "a": "1"}, Time: time.UnixMicro(1700000000000001).UTC()}
	got := hex.EncodeToString(Encode(7, e))
	want := "00000010" + hex.EncodeToString([]byte("unhidra.audit.v1")) +
		"00000001" + "37" +
		"00000010" + hex.EncodeToString([]byte("1700000000000001")) +
		"0000000a" + hex.EncodeToString([]byte("auth.login")) +
		"00000004" + hex.EncodeToString([]byte("user")) +
		"00000002" + hex.EncodeToString([]byte("u1")) +
		"00000000" + "00000000" + "00000000" +
		"00000002" + hex.EncodeToString([]byte("ok")) +
		"00000000" +
		"00000002" + "00000001" + "61" + "00000001" + "31" + "00000001" + "62" + "00000001" + "32"
	if got != want {
		t.Fatalf("encoding\n got %s\nwant %s", got, want)
	}
}

// memSource is an in-memory Source for the verifier's own tests.
type memSource struct {
	entries []*Entry
	cps     []*Checkpoint
	anchors []*PruneAnchor
}

func (m *memSource) Anchors(ctx context.Context) iter.Seq2[*PruneAnchor, error] {
	return func(yield func(*PruneAnchor, error) bool) {
		for _, a := range m.anchors {
			if !yield(a, nil) {
				return
			}
		}
	}
}

// prune removes the entries up to seq (and the checkpoints before it), as
// a pruner without key (nil) or with one would.
func (m *memSource) prune(seq int64, key *SigningKey) {
	var h []byte
	for len(m.entries) > 0 && m.entries[0].Seq <= seq {
		h = m.entries[0].Hash
		m.entries = m.entries[1:]
	}
	for len(m.cps) > 0 && m.cps[0].Seq < seq {
		m.cps = m.cps[1:]
	}
	if key != nil {
		a := &PruneAnchor{Seq: seq, Hash: h, Time: time.UnixMicro(seq)}
		key.SignAnchor(a)
		m.anchors = append(m.anchors, a)
	}
}

func (m *memSource) Entries(ctx context.Context, after int64) iter.Seq2[*Entry, error] {
	return func(yield func(*Entry, error) bool) {
		for _, e := range m.entries {
			if e.Seq > after && !yield(e, nil) {
				return
			}
		}
	}
}

func (m *memSource) Checkpoints(ctx context.Context) iter.Seq2[*Checkpoint, error] {
	return func(yield func(*Checkpoint, error) bool) {
		for _, c := range m.cps {
			if !yield(c, nil) {
				return
			}
		}
	}
}

func chain(t *testing.T, n int, key *SigningKey) *memSource {
	t.Helper()
	m := &memSource{}
	prev := ZeroHash()
	for i := 1; i <= n; i++ {
		e := &Entry{Seq: int64(i), Event: Event{Action: "x.y", ActorType: ActorSystem, Result: ResultOK, Time: time.UnixMicro(int64(i))}}
		e.PrevHash, e.Hash = prev, Hash(e.Seq, &e.Event, prev)
		prev = e.Hash
		m.entries = append(m.entries, e)
		if i%3 == 0 {
			c := &Checkpoint{Seq: e.Seq, Hash: e.Hash, Time: time.UnixMicro(int64(i))}
			key.Sign(c)
			m.cps = append(m.cps, c)
		}
	}
	return m
}

func TestVerifyInMemory(t *testing.T) {
	seed := make([]byte, 32)
	rand.Read(seed)
	key, _ := NewSigningKey(seed)
	ring := Keyring{}
	ring.Add(key.Public())
	m := chain(t, 10, key)
	rep, err := Verify(context.Background(), m, ring, nil)
	if err != nil || !rep.OK || rep.Checked != 10 || rep.Checkpoints != 3 {
		t.Fatalf("%+v %v", rep, err)
	}
	// A forged signature.
	m.cps[1].Signature = bytes.Repeat([]byte{1}, 64)
	rep, _ = Verify(context.Background(), m, ring, nil)
	if rep.OK || rep.FirstBad.Seq != 6 || !strings.Contains(rep.FirstBad.Reason, "bad signature") {
		t.Fatalf("forged signature: %+v", rep.FirstBad)
	}
	// A checkpoint re-signed by another key.
	rand.Read(seed)
	other, _ := NewSigningKey(seed)
	other.Sign(m.cps[1])
	rep, _ = Verify(context.Background(), m, ring, nil)
	if rep.OK || !strings.Contains(rep.FirstBad.Reason, "does not trust") {
		t.Fatalf("other key: %+v", rep.FirstBad)
	}
}

func TestVerifyAfterPrune(t *testing.T) {
	seed := make([]byte, 32)
	rand.Read(seed)
	key, _ := NewSigningKey(seed)
	rand.Read(seed)
	other, _ := NewSigningKey(seed)
	ring := Keyring{}
	ring.Add(key.Public())
	ctx := context.Background()
	cases := []struct {
		name   string
		change func(m *memSource)
		seq    int64
		reason string
	}{
		{name: "signed prune", change: func(m *memSource) { m.prune(6, key) }},
		{name: "two signed prunes", change: func(m *memSource) { m.prune(3, key); m.prune(9, key) }},
		{name: "everything pruned", change: func(m *memSource) { m.prune(12, key) }},
		{name: "prefix deleted without anchor", change: func(m *memSource) { m.prune(6, nil) }, seq: 1, reason: "entry 1 is missing"},
		{name: "anchor by another key", change: func(m *memSource) { m.prune(6, other) }, seq: 6, reason: "does not trust"},
		{name: "anchor with a checkpoint's signature", change: func(m *memSource) {
			m.prune(6, key)
			m.anchors[0].Signature = m.cps[0].Signature // the checkpoint at 6
		}, seq: 6, reason: "bad signature"},
		{name: "more deleted after the anchor", change: func(m *memSource) { m.prune(6, key); m.entries = m.entries[2:] }, seq: 7, reason: "entry 7 is missing"},
		{name: "kept entry edited", change: func(m *memSource) { m.prune(6, key); m.entries[1].ActorID = "mallory" }, seq: 8, reason: "edited"},
		{name: "anchor moved", change: func(m *memSource) {
			m.prune(6, key)
			m.anchors[0].Seq = 7
		}, seq: 7, reason: "bad signature"},
		{name: "newest anchor deleted", change: func(m *memSource) { m.prune(3, key); m.prune(6, key); m.anchors = m.anchors[:1] }, seq: 4, reason: "entry 4 is missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := chain(t, 12, key)
			tc.change(m)
			rep, err := Verify(ctx, m, ring, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.reason == "" {
				if !rep.OK || rep.LastSeq != 12 || rep.PrunedThrough == 0 || rep.Checked != 12-rep.PrunedThrough {
					t.Fatalf("%+v %+v", rep, rep.FirstBad)
				}
				return
			}
			if rep.OK || rep.FirstBad.Seq != tc.seq || !strings.Contains(rep.FirstBad.Reason, tc.reason) {
				t.Fatalf("first bad = %+v, want seq %d with %q", rep.FirstBad, tc.seq, tc.reason)
			}
		})
	}
	// Exported checkpoints from before the prune: the pruned ones are
	// skipped, the one at the anchor must match it.
	m := chain(t, 12, key)
	exported := slices.Clone(m.cps)
	m.prune(6, key)
	if rep, _ := Verify(ctx, m, ring, exported); !rep.OK {
		t.Fatalf("exported checkpoints after a prune: %+v", rep.FirstBad)
	}
	forged := *exported[1] // at 6
	forged.Hash = bytes.Repeat([]byte{7}, 32)
	key.Sign(&forged)
	if rep, _ := Verify(ctx, m, ring, []*Checkpoint{&forged}); rep.OK || rep.FirstBad.Seq != 6 {
		t.Fatalf("a checkpoint at the anchor that disagrees: %+v", rep)
	}
}

func TestCheckPrefix(t *testing.T) {
	seed := make([]byte, 32)
	rand.Read(seed)
	key, _ := NewSigningKey(seed)
	ring := Keyring{}
	ring.Add(key.Public())
	ctx := context.Background()
	m := chain(t, 12, key)
	cp6 := m.cps[1]
	if bad, err := CheckPrefix(m.Entries(ctx, 0), 0, ZeroHash(), cp6, ring); bad != nil || err != nil {
		t.Fatalf("a clean prefix: %+v %v", bad, err)
	}
	m.entries[3].ActorID = "mallory" // entry 4
	if bad, _ := CheckPrefix(m.Entries(ctx, 0), 0, ZeroHash(), cp6, ring); bad == nil || bad.Seq != 4 {
		t.Fatalf("an edited entry in the prefix: %+v", bad)
	}
	// From an anchor: the entries after it only.
	if bad, _ := CheckPrefix(m.Entries(ctx, 4), 4, m.entries[3].Hash, m.cps[2], ring); bad != nil {
		t.Fatalf("from entry 4 to 9: %+v", bad)
	}
	if bad, _ := CheckPrefix(m.Entries(ctx, 4), 4, m.entries[3].Hash, m.cps[2], Keyring{}); bad == nil || bad.Seq != 9 || !strings.Contains(bad.Reason, "does not trust") {
		t.Fatalf("an untrusted checkpoint: %+v", bad)
	}
	// A checkpoint beyond the entries.
	m = chain(t, 12, key)
	m.entries = m.entries[:5]
	if bad, _ := CheckPrefix(m.Entries(ctx, 0), 0, ZeroHash(), cp6, ring); bad == nil || bad.Seq != 6 || !strings.Contains(bad.Reason, "missing") {
		t.Fatalf("a prefix cut short: %+v", bad)
	}
}

func TestCheckpointJSONRoundTrip(t *testing.T) {
	seed := make([]byte, 32)
	key, _ := NewSigningKey(seed)
	c := &Checkpoint{Seq: 42, Hash: bytes.Repeat([]byte{0xab}, 32), Time: time.UnixMicro(1700000000123456).UTC()}
	key.Sign(c)
	b, _ := json.Marshal(c)
	if !strings.Contains(string(b), `"hash":"abab`) {
		t.Fatalf("hash not hex: %s", b)
	}
	var back Checkpoint
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	ring := Keyring{}
	ring.Add(key.Public())
	if err := ring.Check(&back); err != nil {
		t.Fatalf("a checkpoint read back from JSON does not verify: %v", err)
	}
}

func TestContextEvents(t *testing.T) {
	ctx := With(context.Background(), &Event{Action: "x.y"})
	evs, done := Take(ctx)
	if len(evs) != 1 || Pending(ctx) {
		t.Fatal("take")
	}
	done(false)
	if !Pending(ctx) {
		t.Fatal("a rollback did not give the events back")
	}
	_, done = Take(ctx)
	done(true)
	if evs, _ := Take(ctx); evs != nil || Untaken(ctx) != nil {
		t.Fatal("committed events taken twice")
	}
}

// FuzzEvent checks that validation never panics and that a valid event
// encodes injectively enough: the encoding of a changed field differs.
func FuzzEvent(f *testing.F) {
	f.Add("auth.login", "user", "u1", "session", "s1", "192.0.2.1", "ok", "", "via", "invite", int64(1700000000000000))
	f.Add("chat.member_add", "user", "", "user", "u2", "", "failed", "bad_password", "channel_id", "c1", int64(0))
	f.Fuzz(func(t *testing.T, action, actorType, actorID, targetType, targetID, ip, result, reason, mk, mv string, us int64) {
		e := &Event{Action: action, ActorType: actorType, ActorID: actorID, TargetType: targetType, TargetID: targetID,
			IP: ip, Result: result, Reason: reason, Metadata: map[string]string{mk: mv}, Time: time.UnixMicro(us)}
		if e.Validate() != nil {
			return
		}
		a := Encode(1, e)
		e2 := *e
		e2.ActorID += "x"
		if bytes.Equal(a, Encode(1, &e2)) {
			t.Fatal("a changed actor id encodes the same")
		}
		if bytes.Equal(Hash(1, e, ZeroHash()), Hash(2, e, ZeroHash())) {
			t.Fatal("seq not in the hash")
		}
	})
}

// FuzzDecoders feeds the text decoders (hex digests, keys, checkpoints).
func FuzzDecoders(f *testing.F) {
	f.Add(`{"seq":1,"hash":"00ff","time":"2026-01-01T00:00:00.000001Z","key_id":"ab","signature":"AAAA"}`)
	f.Add(`{"through_seq":1000,"hash":"00ff","time":"2026-01-01T00:00:00.000001Z","key_id":"ab","signature":"AAAA"}`)
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Add("zz")
	f.Fuzz(func(t *testing.T, s string) {
		var h Hex
		if h.UnmarshalText([]byte(s)) == nil {
			if b, _ := h.MarshalText(); !strings.EqualFold(string(b), s) {
				t.Fatalf("hex round trip %q -> %q", s, b)
			}
		}
		_, _ = ParseSigningKey(s)
		_, _ = ParsePublicKey(s)
		var c Checkpoint
		if json.Unmarshal([]byte(s), &c) == nil {
			_ = Keyring{}.Check(&c)
			_ = c.SignedBytes()
		}
		var a PruneAnchor
		if json.Unmarshal([]byte(s), &a) == nil {
			_ = Keyring{}.CheckAnchor(&a)
			_ = a.SignedBytes()
		}
	})
}
