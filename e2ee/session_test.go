package e2ee

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestSessionConversation(t *testing.T) {
	r := newDetRand("conversation")
	a, b := pair(t, r)
	if !a.Established() || !b.Established() {
		t.Fatal("not established after a round trip")
	}
	// Several turns, each a DH ratchet step, and bursts in one chain.
	for turn := range 5 {
		for i := range 3 {
			mustDecrypt(t, b, mustEncrypt(t, a, r, fmt.Sprintf("a%d.%d", turn, i)), fmt.Sprintf("a%d.%d", turn, i))
		}
		mustDecrypt(t, a, mustEncrypt(t, b, r, fmt.Sprintf("b%d", turn)), fmt.Sprintf("b%d", turn))
	}
	if a.Remote().UserID != "bob" || b.Remote().UserID != "alice" || a.BaseKey() != b.BaseKey() {
		t.Fatal("identities or base key")
	}
}

func TestSessionEmptyAndLargePlaintext(t *testing.T) {
	r := newDetRand("sizes")
	a, b := pair(t, r)
	for _, n := range []int{0, 1, 31, 32, 33, 64 << 10} {
		pt := bytes.Repeat([]byte{0xab}, n)
		m, err := a.Encrypt(r, pt)
		if err != nil {
			t.Fatal(err)
		}
		got, err := b.Decrypt(m, t0)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("size %d: %v", n, err)
		}
		if (len(m)-messageHeaderSize-16)%PadBlock != 0 {
			t.Fatalf("size %d: ciphertext not padded", n)
		}
	}
}

func TestPrekeyMessagesUntilReply(t *testing.T) {
	r := newDetRand("pending")
	alice := newParty(t, r, "alice", "a1")
	bob := newParty(t, r, "bob", "b1")
	a, err := initiate(r, alice.keys, bob.bundle(true), testEncapsulate)
	if err != nil {
		t.Fatal(err)
	}
	m1 := mustEncrypt(t, a, r, "one")
	m2 := mustEncrypt(t, a, r, "two")
	for _, m := range [][]byte{m1, m2} {
		if typ, _ := MessageType(m); typ != TypePrekeyMessage {
			t.Fatalf("type %#x before the reply", typ)
		}
	}
	// The first message is lost: the second sets the session up.
	b, pt := bob.respond(t, m2)
	if string(pt) != "two" {
		t.Fatalf("got %q", pt)
	}
	mustDecrypt(t, b, m1, "one") // a late prekey message of the same session
	mustDecrypt(t, a, mustEncrypt(t, b, r, "ack"), "ack")
	if typ, _ := MessageType(mustEncrypt(t, a, r, "three")); typ != TypeMessage {
		t.Fatalf("type %#x after the reply", typ)
	}
}

func TestOutOfOrderAndSkipped(t *testing.T) {
	r := newDetRand("order")
	a, b := pair(t, r)
	var ms [][]byte
	for i := range 6 {
		ms = append(ms, mustEncrypt(t, a, r, fmt.Sprint(i)))
	}
	for _, i := range []int{5, 0, 3} {
		mustDecrypt(t, b, ms[i], fmt.Sprint(i))
	}
	if b.SkippedKeys() != 3 { // 1, 2, 4
		t.Fatalf("%d skipped keys", b.SkippedKeys())
	}
	// A new chain from b, then a's reply starts a new chain too: the old
	// chain's messages still open from the skipped keys.
	mustDecrypt(t, a, mustEncrypt(t, b, r, "b"), "b")
	late := mustEncrypt(t, a, r, "new chain")
	mustDecrypt(t, b, late, "new chain")
	for _, i := range []int{4, 1, 2} {
		mustDecrypt(t, b, ms[i], fmt.Sprint(i))
	}
	if b.SkippedKeys() != 0 {
		t.Fatalf("%d skipped keys left", b.SkippedKeys())
	}
}

func TestSkipAcrossRatchetStep(t *testing.T) {
	// Messages of a's previous chain that never arrived before a's next
	// chain are kept through PN.
	r := newDetRand("pn")
	a, b := pair(t, r)
	m0 := mustEncrypt(t, a, r, "0")
	m1 := mustEncrypt(t, a, r, "1")
	mustDecrypt(t, b, m0, "0")
	mustDecrypt(t, a, mustEncrypt(t, b, r, "x"), "x")
	m2 := mustEncrypt(t, a, r, "2") // new chain, pn = 2
	mustDecrypt(t, b, m2, "2")
	mustDecrypt(t, b, m1, "1")
}

func TestReplayRejected(t *testing.T) {
	r := newDetRand("replay")
	a, b := pair(t, r)
	m := mustEncrypt(t, a, r, "once")
	mustDecrypt(t, b, m, "once")
	gen := b.Generation()
	if _, err := b.Decrypt(m, t0); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("replay: %v", err)
	}
	if b.Generation() != gen {
		t.Fatal("a refused replay changed the session")
	}
	// A replay from an older chain, after ratchet steps.
	mustDecrypt(t, a, mustEncrypt(t, b, r, "x"), "x")
	mustDecrypt(t, b, mustEncrypt(t, a, r, "y"), "y")
	gen = b.Generation()
	if _, err := b.Decrypt(m, t0); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("replay of an old chain: %v", err)
	}
	if b.Generation() != gen {
		t.Fatal("a refused replay changed the session")
	}
}

func TestTamperRejected(t *testing.T) {
	r := newDetRand("tamper")
	a, b := pair(t, r)
	m := mustEncrypt(t, a, r, "secret")
	before, _ := b.MarshalBinary()
	for _, c := range []struct {
		name string
		off  int
	}{
		{"version", 0}, {"ratchet key", 2}, {"pn", 34}, {"n", 41}, {"ciphertext", messageHeaderSize}, {"tag", len(m) - 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := bytes.Clone(m)
			bad[c.off] ^= 0x01
			if _, err := b.Decrypt(bad, t0); err == nil {
				t.Fatal("tampered message accepted")
			}
			after, _ := b.MarshalBinary()
			if !bytes.Equal(before, after) {
				t.Fatal("a refused message changed the session")
			}
		})
	}
	t.Run("associated data", func(t *testing.T) {
		// The same bytes under another session's associated data.
		c := b.clone()
		c.ad[0] ^= 1
		if _, err := c.Decrypt(m, t0); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("other associated data: %v", err)
		}
	})
	mustDecrypt(t, b, m, "secret")
}

func TestSkippedKeyBounds(t *testing.T) {
	r := newDetRand("bounds")
	a, b := pair(t, r)
	var last []byte
	for range MaxSkip + 2 {
		last = mustEncrypt(t, a, r, "x")
	}
	if _, err := b.Decrypt(last, t0); !errors.Is(err, ErrTooManySkipped) {
		t.Fatalf("skip of %d: %v", MaxSkip+1, err)
	}
	if b.SkippedKeys() != 0 {
		t.Fatal("refused message stored keys")
	}

	// Exactly MaxSkip is allowed; the total is capped at MaxSkippedKeys,
	// oldest first, and keys expire.
	a, b = pair(t, r)
	var first []byte
	for round := range 3 {
		var ms [][]byte
		for range MaxSkip + 1 {
			ms = append(ms, mustEncrypt(t, a, r, "x"))
		}
		if round == 0 {
			first = ms[0]
		}
		mustDecrypt(t, b, ms[MaxSkip], "x")
		mustDecrypt(t, a, mustEncrypt(t, b, r, "turn"), "turn")
	}
	if b.SkippedKeys() != MaxSkippedKeys {
		t.Fatalf("%d skipped keys", b.SkippedKeys())
	}
	if _, err := b.Decrypt(first, t0); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("evicted key: %v", err)
	}
	if _, err := b.Decrypt(mustEncrypt(t, a, r, "later"), t0.Add(SkippedKeyMaxAge+1e9)); err != nil {
		t.Fatal(err)
	}
	if b.SkippedKeys() != 0 {
		t.Fatalf("%d skipped keys after expiry", b.SkippedKeys())
	}
}

func TestForwardSecrecy(t *testing.T) {
	r := newDetRand("fs")
	a, b := pair(t, r)
	old := mustEncrypt(t, a, r, "yesterday")
	mustDecrypt(t, b, old, "yesterday")
	// An attacker takes b's whole state after it decrypted: the message key
	// is gone, and nothing in the state derives it again.
	stolen, _ := b.MarshalBinary()
	s, err := UnmarshalSession(stolen)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decrypt(old, t0); err == nil {
		t.Fatal("a stolen state decrypted an old message")
	}
	// Nor the state after further turns.
	mustDecrypt(t, a, mustEncrypt(t, b, r, "x"), "x")
	stolen, _ = b.MarshalBinary()
	s, _ = UnmarshalSession(stolen)
	if _, err := s.Decrypt(old, t0); err == nil {
		t.Fatal("a stolen state decrypted an old message")
	}
}

func TestPostCompromiseRecovery(t *testing.T) {
	r := newDetRand("pcs")
	a, b := pair(t, r)
	// The attacker copies b's state (keys of the current chains included).
	snap, _ := b.MarshalBinary()
	eve, _ := UnmarshalSession(snap)
	m := mustEncrypt(t, a, r, "still readable")
	if pt, err := eve.Decrypt(m, t0); err != nil || string(pt) != "still readable" {
		t.Fatalf("the compromised chain should open: %v", err)
	}
	mustDecrypt(t, b, m, "still readable")
	// One DH round trip with fresh keys the attacker does not hold heals it.
	mustDecrypt(t, a, mustEncrypt(t, b, r, "heal"), "heal")
	m = mustEncrypt(t, a, r, "private again")
	mustDecrypt(t, b, m, "private again")
	if _, err := eve.Decrypt(m, t0); err == nil {
		t.Fatal("the attacker read a message after the DH step")
	}
}

func TestSessionStateRoundTrip(t *testing.T) {
	r := newDetRand("state")
	alice := newParty(t, r, "alice", "a1")
	bob := newParty(t, r, "bob", "b1")
	a, _ := initiate(r, alice.keys, bob.bundle(false), testEncapsulate)
	reload := func(s *Session) *Session {
		t.Helper()
		b, _ := s.MarshalBinary()
		n, err := UnmarshalSession(b)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := n.MarshalBinary()
		if !bytes.Equal(b, b2) {
			t.Fatal("state does not round-trip")
		}
		return n
	}
	a = reload(a) // pending prekey state
	m := mustEncrypt(t, a, r, "1")
	bs, _ := bob.respond(t, m)
	mustEncrypt(t, a, r, "skipped")
	m3 := mustEncrypt(t, a, r, "3")
	bs = reload(bs)
	mustDecrypt(t, bs, m3, "3")
	bs = reload(bs) // with a skipped key
	a = reload(a)
	mustDecrypt(t, a, mustEncrypt(t, bs, r, "r"), "r")
	mustDecrypt(t, reload(bs), mustEncrypt(t, reload(a), r, "again"), "again")
}

func TestSubstitutedBundle(t *testing.T) {
	r := newDetRand("bundle")
	alice := newParty(t, r, "alice", "a1")
	bob := newParty(t, r, "bob", "b1")
	mallory := newParty(t, r, "bob", "b1")
	cases := map[string]func(b *Bundle){
		"signed prekey": func(b *Bundle) { b.SignedPrekey.Key = mallory.spk.Public() },
		"pq prekey":     func(b *Bundle) { b.PQPrekey.Key = mallory.pq.Public() },
		"identity key":  func(b *Bundle) { b.IdentityKey = mallory.keys.Identity.Public() },
		"signing key":   func(b *Bundle) { b.SigningKey = mallory.keys.Signing.Public() },
		"client id":     func(b *Bundle) { b.ClientID = "b2" },
		"prekey id":     func(b *Bundle) { b.SignedPrekey.ID++ },
		"signature":     func(b *Bundle) { b.SignedPrekey.Sig[5] ^= 1 },
		"pq signature":  func(b *Bundle) { b.PQPrekey.Sig = mallory.bundle(false).PQPrekey.Sig },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			b := bob.bundle(true)
			change(b)
			if _, err := Initiate(r, alice.keys, b); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("substituted %s: %v", name, err)
			}
		})
	}
	t.Run("one-time prekey", func(t *testing.T) {
		// One-time prekeys are unsigned: a substituted one is caught when
		// the responder does not hold it (and by the transcript).
		b := bob.bundle(true)
		o := OneTimePrekeyOf(b.OneTimePrekey.ID, mallory.spk)
		b.OneTimePrekey = &o
		a, err := initiate(r, alice.keys, b, testEncapsulate)
		if err != nil {
			t.Fatal(err)
		}
		pm, _ := ParsePrekeyMessage(mustEncrypt(t, a, r, "x"))
		if _, _, err := Respond(bob.keys, bob.spk, bob.pq, bob.opks[pm.OneTimePrekeyID], pm, t0); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("wrong one-time prekey: %v", err)
		}
	})
}

func TestRespondChecks(t *testing.T) {
	r := newDetRand("respond")
	alice := newParty(t, r, "alice", "a1")
	bob := newParty(t, r, "bob", "b1")
	a, _ := initiate(r, alice.keys, bob.bundle(true), testEncapsulate)
	m := mustEncrypt(t, a, r, "x")
	pm, _ := ParsePrekeyMessage(m)
	opk := bob.opks[pm.OneTimePrekeyID]
	if _, _, err := Respond(bob.keys, bob.spk, bob.pq, nil, pm, t0); !errors.Is(err, ErrMissingPrekey) {
		t.Fatalf("no one-time prekey: %v", err)
	}
	other, _ := GenerateDHKey(r)
	if _, _, err := Respond(bob.keys, other, bob.pq, opk, pm, t0); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong signed prekey: %v", err)
	}
	otherPQ, _ := GenerateKEMKey(r)
	if _, _, err := Respond(bob.keys, bob.spk, otherPQ, opk, pm, t0); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong PQ prekey: %v", err)
	}
	bad := *pm
	bad.KEMCiphertext = bytes.Clone(pm.KEMCiphertext)
	bad.KEMCiphertext[0] ^= 1
	if _, _, err := Respond(bob.keys, bob.spk, bob.pq, opk, &bad, t0); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("changed KEM ciphertext: %v", err)
	}
	bad = *pm
	bad.Sender.UserID = "mallory"
	if _, _, err := Respond(bob.keys, bob.spk, bob.pq, opk, &bad, t0); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("changed sender: %v", err)
	}
	s, _, err := Respond(bob.keys, bob.spk, bob.pq, opk, pm, t0)
	if err != nil {
		t.Fatal(err)
	}
	// A prekey message of another session is not decrypted by this one.
	a2, _ := initiate(r, alice.keys, bob.bundle(false), testEncapsulate)
	if _, err := s.Decrypt(mustEncrypt(t, a2, r, "y"), t0); !errors.Is(err, ErrWrongSession) {
		t.Fatalf("other session: %v", err)
	}
}

func TestSimultaneousInitiation(t *testing.T) {
	// Both sides start a session at once: each keeps both, and messages
	// of either decrypt with the matching one.
	r := newDetRand("simultaneous")
	alice := newParty(t, r, "alice", "a1")
	bob := newParty(t, r, "bob", "b1")
	a1, _ := initiate(r, alice.keys, bob.bundle(true), testEncapsulate)
	b1, _ := initiate(r, bob.keys, alice.bundle(true), testEncapsulate)
	ma := mustEncrypt(t, a1, r, "from a")
	mb := mustEncrypt(t, b1, r, "from b")
	if _, err := b1.Decrypt(ma, t0); !errors.Is(err, ErrWrongSession) {
		t.Fatalf("initiator session fed the other's prekey message: %v", err)
	}
	b2, pt := bob.respond(t, ma)
	a2, pt2 := alice.respond(t, mb)
	if string(pt) != "from a" || string(pt2) != "from b" {
		t.Fatal("plaintexts")
	}
	mustDecrypt(t, a1, mustEncrypt(t, b2, r, "r1"), "r1")
	mustDecrypt(t, b1, mustEncrypt(t, a2, r, "r2"), "r2")
}
