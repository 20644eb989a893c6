package e2ee

import (
	"fmt"
	"testing"
)

// Benchmarks of the protocol's costs (go test -bench . ./e2ee); figures
// are machine-relative, see docs/protocol.md "Performance".

func BenchmarkHandshake(b *testing.B) {
	r := newDetRand("bench-handshake")
	alice := newParty(b, r, "alice", "a1")
	bob := newParty(b, r, "bob", "b1")
	bundle := bob.bundle(false)
	b.Run("initiate", func(b *testing.B) {
		for b.Loop() {
			s, err := Initiate(nil, alice.keys, bundle)
			if err != nil {
				b.Fatal(err)
			}
			s.Encrypt(nil, []byte("hello"))
		}
	})
	s, _ := Initiate(nil, alice.keys, bundle)
	m, _ := s.Encrypt(nil, []byte("hello"))
	pm, _ := ParsePrekeyMessage(m)
	b.Run("respond", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := Respond(bob.keys, bob.spk, bob.pq, nil, pm, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSession is one 100-byte message encrypted by one side and
// decrypted by the other: within a chain, and with a DH ratchet step on
// every message (the two sides taking turns).
func BenchmarkSession(b *testing.B) {
	pt := make([]byte, 100)
	b.Run("same chain", func(b *testing.B) {
		a, c := pair(b, newDetRand("bench-session"))
		for b.Loop() {
			m, _ := a.Encrypt(nil, pt)
			if _, err := c.Decrypt(m, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ratchet step each message", func(b *testing.B) {
		a, c := pair(b, newDetRand("bench-session2"))
		for b.Loop() {
			m, _ := a.Encrypt(nil, pt)
			if _, err := c.Decrypt(m, t0); err != nil {
				b.Fatal(err)
			}
			a, c = c, a
		}
	})
	b.Run("state save and load", func(b *testing.B) {
		a, _ := pair(b, newDetRand("bench-session3"))
		for b.Loop() {
			st, _ := a.MarshalBinary()
			if _, err := UnmarshalSession(st); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGroup1000 is a 1,000-member channel under sender keys: the
// sender encrypts a message once whatever the size; each member decrypts
// it once (signature check and AEAD); "deliver to all" is the whole group's
// decryption work for one message; "rotate" is a new sender key
// distributed over 999 pairwise sessions, what a member's removal costs.
func BenchmarkGroup1000(b *testing.B) {
	const members = 1000
	r := newDetRand("bench-group")
	g := newGroup(b, r)
	names := make([]string, members-1)
	for i := range names {
		names[i] = fmt.Sprint("m", i)
	}
	g.distribute(b, names...)
	pt := make([]byte, 100)
	b.Run("encrypt", func(b *testing.B) {
		for b.Loop() {
			if _, err := g.out.Encrypt(pt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decrypt one member", func(b *testing.B) {
		g.distribute(b, "m0")
		m, _ := g.out.Encrypt(pt)
		base := g.members["m0"]
		for b.Loop() {
			in := base.clone()
			if _, err := in.Decrypt(m, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("deliver to all", func(b *testing.B) {
		g.distribute(b, names...)
		for b.Loop() {
			m, _ := g.out.Encrypt(pt)
			for _, n := range names {
				if _, err := g.members[n].Decrypt(m, t0); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("rotate", func(b *testing.B) {
		sessions := make([]*Session, members-1)
		for i := range sessions {
			sessions[i], _ = pair(b, r)
		}
		for b.Loop() {
			k, _ := g.out.Rotate(nil, g.owner, t0)
			d, _ := k.Distribution().MarshalBinary()
			for _, s := range sessions {
				if _, err := s.Encrypt(nil, d); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

func BenchmarkSafetyNumber(b *testing.B) {
	r := newDetRand("bench-safety")
	a1, _ := GenerateClientKeys(r, "alice", "a1")
	b1, _ := GenerateClientKeys(r, "bob", "b1")
	alice, bob := userKeys(a1), userKeys(b1)
	for b.Loop() {
		SafetyNumber(alice, bob)
	}
}

func BenchmarkFile(b *testing.B) {
	r := newDetRand("bench-file")
	key, _ := GenerateFileKey(r)
	pt := r.bytes(4 << 20)
	ct, _ := EncryptFile(nil, key, pt, DefaultFileChunkSize)
	b.Run("encrypt", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			EncryptFile(nil, key, pt, DefaultFileChunkSize)
		}
	})
	b.Run("decrypt", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			if _, err := DecryptFile(key, ct); err != nil {
				b.Fatal(err)
			}
		}
	})
}
