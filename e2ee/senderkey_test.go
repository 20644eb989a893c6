package e2ee

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

type group struct {
	owner   *ClientKeys
	out     *SenderKey
	members map[string]*InboundSenderKey
}

func newGroup(t testing.TB, r *detRand, members ...string) *group {
	t.Helper()
	owner, _ := GenerateClientKeys(r, "alice", "a1")
	k, err := NewSenderKey(r, owner, "channel-1", t0)
	if err != nil {
		t.Fatal(err)
	}
	g := &group{owner: owner, out: k, members: map[string]*InboundSenderKey{}}
	g.distribute(t, members...)
	return g
}

// distribute sends the current key to members, through its encoding.
func (g *group) distribute(t testing.TB, members ...string) {
	t.Helper()
	b, _ := g.out.Distribution().MarshalBinary()
	d, err := ParseSenderKeyDistribution(b)
	if err != nil {
		t.Fatal(err)
	}
	id := g.owner.Public()
	for _, m := range members {
		in, err := NewInboundSenderKey(d, &id)
		if err != nil {
			t.Fatal(err)
		}
		g.members[m] = in
	}
}

func TestSenderKeyGroup(t *testing.T) {
	r := newDetRand("group")
	g := newGroup(t, r, "bob", "carol")
	var ms [][]byte
	for i := range 5 {
		m, err := g.out.Encrypt([]byte(fmt.Sprint("m", i)))
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	// One ciphertext serves every member, in any order.
	for name, order := range map[string][]int{"bob": {0, 1, 2, 3, 4}, "carol": {4, 2, 0, 3, 1}} {
		for _, i := range order {
			pt, err := g.members[name].Decrypt(ms[i], t0)
			if err != nil || string(pt) != fmt.Sprint("m", i) {
				t.Fatalf("%s message %d: %q %v", name, i, pt, err)
			}
		}
	}
	if _, err := g.members["bob"].Decrypt(ms[2], t0); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("replay: %v", err)
	}
}

func TestSenderKeyTamperAndForgery(t *testing.T) {
	r := newDetRand("group-tamper")
	g := newGroup(t, r, "bob")
	m, _ := g.out.Encrypt([]byte("hello"))
	for _, off := range []int{2, 6, 10, len(m) - 65, len(m) - 1} {
		bad := bytes.Clone(m)
		bad[off] ^= 1
		if _, err := g.members["bob"].Decrypt(bad, t0); err == nil {
			t.Fatalf("byte %d changed and accepted", off)
		}
	}
	// A member knows the chain key but not the signing key: a message it
	// makes with the chain key is refused.
	forger := *g.out
	forger.signing, _ = GenerateSigningKey(r)
	forged, _ := forger.Encrypt([]byte("from alice, honest"))
	if _, err := g.members["bob"].Decrypt(forged, t0); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("forgery: %v", err)
	}
	// The message bound to another group, or another sender, fails.
	other := *g.members["bob"]
	other.groupID = "channel-2"
	if _, err := other.Decrypt(m, t0); err == nil {
		t.Fatal("message accepted in another group")
	}
	if pt, err := g.members["bob"].Decrypt(m, t0); err != nil || string(pt) != "hello" {
		t.Fatalf("genuine message after refusals: %v", err)
	}
}

func TestSenderKeyRotationExcludesRemovedMember(t *testing.T) {
	r := newDetRand("group-rotate")
	g := newGroup(t, r, "bob", "carol")
	before, _ := g.out.Encrypt([]byte("before"))
	// carol is removed: the key is rotated and sent to bob only.
	next, err := g.out.Rotate(r, g.owner, t0)
	if err != nil {
		t.Fatal(err)
	}
	if next.ChainID() == g.out.ChainID() {
		t.Fatal("rotation kept the chain id")
	}
	g.out = next
	carol := g.members["carol"]
	g.distribute(t, "bob")
	after, _ := g.out.Encrypt([]byte("after"))
	if pt, err := g.members["bob"].Decrypt(after, t0); err != nil || string(pt) != "after" {
		t.Fatalf("bob: %v", err)
	}
	if _, err := carol.Decrypt(after, t0); !errors.Is(err, ErrWrongSession) {
		t.Fatalf("removed member: %v", err)
	}
	// Even a removed member who kept the old chain cannot derive the new
	// one: try every key it holds.
	stolen := *carol
	stolen.chainID = next.ChainID()
	if _, err := stolen.Decrypt(after, t0); err == nil {
		t.Fatal("the old chain opened the new one")
	}
	if pt, err := carol.Decrypt(before, t0); err != nil || string(pt) != "before" {
		t.Fatalf("carol's earlier message: %v", err)
	}
}

func TestSenderKeyBoundsAndExpiry(t *testing.T) {
	r := newDetRand("group-bounds")
	g := newGroup(t, r, "bob")
	var ms [][]byte
	for range MaxSenderKeySkip + 2 {
		m, _ := g.out.Encrypt([]byte("x"))
		ms = append(ms, m)
	}
	bob := g.members["bob"]
	if _, err := bob.Decrypt(ms[MaxSenderKeySkip+1], t0); !errors.Is(err, ErrTooManySkipped) {
		t.Fatalf("too far ahead: %v", err)
	}
	if _, err := bob.Decrypt(ms[MaxSenderKeySkip], t0); err != nil {
		t.Fatal(err)
	}
	if len(bob.skipped) != MaxSenderKeySkip {
		t.Fatalf("%d skipped", len(bob.skipped))
	}
	if _, err := bob.Decrypt(ms[MaxSenderKeySkip+1], t0.Add(SkippedKeyMaxAge+1e9)); err != nil {
		t.Fatal(err)
	}
	if len(bob.skipped) != 0 {
		t.Fatalf("%d skipped after expiry", len(bob.skipped))
	}
	if _, err := bob.Decrypt(ms[3], t0); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("expired key: %v", err)
	}
}

func TestSenderKeyRequestAndMerge(t *testing.T) {
	r := newDetRand("group-request")
	g := newGroup(t, r, "bob")
	var ms [][]byte
	for i := range 4 {
		m, _ := g.out.Encrypt([]byte(fmt.Sprint(i)))
		ms = append(ms, m)
	}
	// dave joins late with the key at iteration 4, then asks for 1 on.
	g.distribute(t, "dave")
	dave := g.members["dave"]
	if dave.FirstIteration() != 4 {
		t.Fatalf("first iteration %d", dave.FirstIteration())
	}
	if _, err := dave.Decrypt(ms[1], t0); !errors.Is(err, ErrWrongSession) {
		t.Fatalf("before the key: %v", err)
	}
	q := SenderKeyRequest{GroupID: "channel-1", UserID: "alice", ClientID: "a1", ChainID: g.out.ChainID(), Iteration: 1}
	qb, _ := q.MarshalBinary()
	q2, err := ParseSenderKeyRequest(qb)
	if err != nil || *q2 != q {
		t.Fatalf("request round trip: %v", err)
	}
	d, err := g.out.DistributionAt(q2.Iteration)
	if err != nil {
		t.Fatal(err)
	}
	if err := dave.Merge(d, t0); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{3, 1, 2} {
		if pt, err := dave.Decrypt(ms[i], t0); err != nil || string(pt) != fmt.Sprint(i) {
			t.Fatalf("message %d after merge: %v", i, err)
		}
	}
	// A distribution that does not lead to the held chain key is refused.
	bad := *d
	bad.Iteration = 0
	if err := dave.Merge(&bad, t0); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("inconsistent merge: %v", err)
	}
	// Export to one's own other client, from the earliest held.
	id := g.owner.Public()
	copyK, err := NewInboundSenderKey(dave.Export(0), &id)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := copyK.Decrypt(ms[2], t0); err != nil || string(pt) != "2" {
		t.Fatalf("exported key: %v", err)
	}
}

func TestSenderKeyDistributionChecks(t *testing.T) {
	r := newDetRand("group-dist")
	g := newGroup(t, r)
	d := g.out.Distribution()
	id := g.owner.Public()
	other, _ := GenerateClientKeys(r, "alice", "a2")
	oid := other.Public()
	if _, err := NewInboundSenderKey(d, &oid); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("wrong sender: %v", err)
	}
	bad := *d
	bad.SigningKey = other.Signing.Public()
	if _, err := NewInboundSenderKey(&bad, &id); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("substituted signing key: %v", err)
	}
	bad = *d
	bad.GroupID = "channel-2"
	if _, err := NewInboundSenderKey(&bad, &id); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("moved to another group: %v", err)
	}
}

func TestSenderKeyStateRoundTrip(t *testing.T) {
	r := newDetRand("group-state")
	g := newGroup(t, r, "bob")
	m1, _ := g.out.Encrypt([]byte("1"))
	m2, _ := g.out.Encrypt([]byte("2"))
	bob := g.members["bob"]
	bob.Decrypt(m2, t0)
	ob, _ := g.out.MarshalBinary()
	out, err := UnmarshalSenderKey(ob)
	if err != nil {
		t.Fatal(err)
	}
	if ob2, _ := out.MarshalBinary(); !bytes.Equal(ob, ob2) {
		t.Fatal("sender key does not round-trip")
	}
	ib, _ := bob.MarshalBinary()
	in, err := UnmarshalInboundSenderKey(ib)
	if err != nil {
		t.Fatal(err)
	}
	if ib2, _ := in.MarshalBinary(); !bytes.Equal(ib, ib2) {
		t.Fatal("inbound key does not round-trip")
	}
	if pt, err := in.Decrypt(m1, t0); err != nil || string(pt) != "1" {
		t.Fatalf("skipped after reload: %v", err)
	}
	m3, _ := out.Encrypt([]byte("3"))
	if pt, err := in.Decrypt(m3, t0); err != nil || string(pt) != "3" {
		t.Fatalf("after reload: %v", err)
	}
}

func TestSenderKeyNeedsRotation(t *testing.T) {
	r := newDetRand("group-rot")
	g := newGroup(t, r)
	if g.out.NeedsRotation(t0) {
		t.Fatal("fresh key due")
	}
	if !g.out.NeedsRotation(t0.Add(SenderKeyMaxAge)) {
		t.Fatal("old key not due")
	}
	g.out.iteration = SenderKeyMaxMessages
	if !g.out.NeedsRotation(t0) {
		t.Fatal("used key not due")
	}
}
