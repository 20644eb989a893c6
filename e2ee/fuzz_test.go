package e2ee

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// Every decoder of the package is fuzzed here. Each target checks that no
// input panics, that every refusal wraps one of the package's errors, and
// that what is accepted re-encodes to the same bytes (one encoding per
// value), seeded with real encodings from the test vectors.

func checkErr(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.HasPrefix(errName(err), "other") {
		t.Fatalf("error outside the package's set: %v", err)
	}
}

// seeds adds the hex fields of a vector file that decode with parse.
func seeds(f *testing.F, extra ...[]byte) {
	for _, name := range []string{"handshake", "ratchet", "senderkey", "envelope", "identity"} {
		b, err := osReadVector(name)
		if err != nil {
			f.Fatal(err)
		}
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			case string:
				if h, err := hexDecode(x); err == nil && len(h) > 8 {
					f.Add(h)
				}
			}
		}
		var v any
		json.Unmarshal(b, &v)
		walk(v)
	}
	for _, e := range extra {
		f.Add(e)
	}
}

func FuzzParseEnvelope(f *testing.F) {
	seeds(f, []byte{1, 0}, []byte{1, 2, 1, 'a', 1, 'b'})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEnvelope(b)
		checkErr(t, err)
		if err == nil {
			if re, _ := e.MarshalBinary(); !bytes.Equal(re, b) {
				t.Fatal("envelope does not re-encode")
			}
		}
	})
}

func FuzzParsePrekeyMessage(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParsePrekeyMessage(b)
		checkErr(t, err)
		if err == nil {
			if re, _ := m.MarshalBinary(); !bytes.Equal(re, b) {
				t.Fatal("prekey message does not re-encode")
			}
		}
	})
}

func FuzzSessionDecrypt(f *testing.F) {
	// Decrypt parses Message and PrekeyMessage and must leave the session
	// unchanged on any refusal.
	seeds(f)
	r := newDetRand("fuzz-session")
	a, b := pair(f, r)
	for range 3 {
		f.Add(mustEncrypt(f, a, r, "seed"))
	}
	state, _ := b.MarshalBinary()
	f.Fuzz(func(t *testing.T, m []byte) {
		s, _ := UnmarshalSession(state)
		_, err := s.Decrypt(m, t0)
		checkErr(t, err)
		if err != nil {
			if after, _ := s.MarshalBinary(); !bytes.Equal(after, state) {
				t.Fatal("a refused message changed the session")
			}
		}
	})
}

func FuzzUnmarshalSession(f *testing.F) {
	r := newDetRand("fuzz-state")
	a, b := pair(f, r)
	mustEncrypt(f, a, r, "skipped")
	mustDecrypt(f, b, mustEncrypt(f, a, r, "x"), "x")
	for _, s := range []*Session{a, b} {
		st, _ := s.MarshalBinary()
		f.Add(st)
	}
	alice := newParty(f, r, "alice", "a1")
	p, _ := initiate(r, alice.keys, newParty(f, r, "bob", "b1").bundle(true), testEncapsulate)
	st, _ := p.MarshalBinary()
	f.Add(st)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := UnmarshalSession(b)
		checkErr(t, err)
		if err == nil {
			if re, _ := s.MarshalBinary(); !bytes.Equal(re, b) {
				t.Fatal("session state does not re-encode")
			}
		}
	})
}

func FuzzSenderKeyMessage(f *testing.F) {
	seeds(f)
	r := newDetRand("fuzz-group")
	g := newGroup(f, r, "bob")
	for range 3 {
		m, _ := g.out.Encrypt([]byte("seed"))
		f.Add(m)
	}
	bob := g.members["bob"]
	state, _ := bob.MarshalBinary()
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := ParseSenderKeyMessage(b)
		checkErr(t, err)
		k, _ := UnmarshalInboundSenderKey(state)
		_, err = k.Decrypt(b, t0)
		checkErr(t, err)
		if err != nil {
			if after, _ := k.MarshalBinary(); !bytes.Equal(after, state) {
				t.Fatal("a refused message changed the key")
			}
		}
	})
}

func FuzzSenderKeyDistributionAndRequest(f *testing.F) {
	seeds(f)
	q, _ := (&SenderKeyRequest{GroupID: "g", UserID: "u", ClientID: "c", ChainID: 1, Iteration: 2}).MarshalBinary()
	f.Add(q)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseSenderKeyDistribution(b)
		checkErr(t, err)
		if err == nil {
			if re, _ := d.MarshalBinary(); !bytes.Equal(re, b) {
				t.Fatal("distribution does not re-encode")
			}
		}
		q, err := ParseSenderKeyRequest(b)
		checkErr(t, err)
		if err == nil {
			if re, _ := q.MarshalBinary(); !bytes.Equal(re, b) {
				t.Fatal("request does not re-encode")
			}
		}
		a, err := ParseApplication(b)
		checkErr(t, err)
		if err == nil && !bytes.Equal(MarshalApplication(a), b) {
			t.Fatal("application payload does not re-encode")
		}
		_, err = MessageType(b)
		checkErr(t, err)
	})
}

func FuzzUnmarshalKeyStates(f *testing.F) {
	r := newDetRand("fuzz-key-states")
	g := newGroup(f, r, "bob")
	m, _ := g.out.Encrypt([]byte("x"))
	g.out.Encrypt([]byte("y"))
	g.members["bob"].Decrypt(m, t0)
	for _, s := range []interface{ MarshalBinary() ([]byte, error) }{g.out, g.members["bob"], g.owner} {
		b, _ := s.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := UnmarshalSenderKey(b); err == nil {
			if re, _ := k.MarshalBinary(); !bytes.Equal(re, b) {
				t.Fatal("sender key does not re-encode")
			}
		} else {
			checkErr(t, err)
		}
		if k, err := UnmarshalInboundSenderKey(b); err == nil {
			if re, _ := k.MarshalBinary(); !bytes.Equal(re, b) {
				t.Fatal("inbound sender key does not re-encode")
			}
		} else {
			checkErr(t, err)
		}
		if k, err := UnmarshalClientKeys(b); err == nil {
			if re, _ := k.MarshalBinary(); !bytes.Equal(re, b) {
				t.Fatal("client keys do not re-encode")
			}
		} else {
			checkErr(t, err)
		}
	})
}

func FuzzRecoveryKey(f *testing.F) {
	r := newDetRand("fuzz-recovery")
	for range 3 {
		k, _ := GenerateRecoveryKey(r)
		f.Add(k.String())
	}
	f.Add("")
	f.Add("1111 1111")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseRecoveryKey(s)
		checkErr(t, err)
		if err == nil {
			if k2, err := ParseRecoveryKey(k.String()); err != nil || k2 != k {
				t.Fatal("recovery key does not round-trip")
			}
		}
	})
}

func FuzzBackup(f *testing.F) {
	r := newDetRand("fuzz-backup")
	k, _ := GenerateRecoveryKey(r)
	pt, _ := (&BackupContents{MasterKey: r.bytes(32)}).Marshal()
	b, _ := SealBackup(r, k, 1, pt)
	f.Add(b.AuthData, b.Data, pt)
	f.Add([]byte{1}, []byte{}, []byte(`{"version":1,"sender_keys":[]}`))
	f.Fuzz(func(t *testing.T, auth, data, contents []byte) {
		_, _, err := OpenBackup(k, &Backup{Version: 1, AuthData: auth, Data: data})
		checkErr(t, err)
		c, err := ParseBackupContents(contents)
		checkErr(t, err)
		if err == nil {
			re, _ := c.Marshal()
			if c2, err := ParseBackupContents(re); err != nil || !bytes.Equal(c2.MasterKey, c.MasterKey) || len(c2.SenderKeys) != len(c.SenderKeys) {
				t.Fatal("backup contents do not round-trip")
			}
		}
	})
}

func FuzzFileReader(f *testing.F) {
	r := newDetRand("fuzz-file")
	key, _ := GenerateFileKey(r)
	for _, n := range []int{0, 10, 1024, 2500} {
		ct, _ := EncryptFile(r, key, r.bytes(n), 1024)
		f.Add(ct)
	}
	f.Fuzz(func(t *testing.T, ct []byte) {
		pt, err := DecryptFile(key, ct)
		checkErr(t, err)
		if err == nil && int64(len(ct)) != FileCiphertextSize(int64(len(pt)), int(uint32(ct[5])<<24|uint32(ct[6])<<16|uint32(ct[7])<<8|uint32(ct[8]))) {
			t.Fatal("accepted a ciphertext of the wrong size")
		}
	})
}

func FuzzQR(f *testing.F) {
	seeds(f)
	r := newDetRand("fuzz-qr")
	a1, _ := GenerateClientKeys(r, "alice", "a1")
	b1, _ := GenerateClientKeys(r, "bob", "b1")
	alice, bob := userKeys(a1), userKeys(b1)
	q, _ := SafetyQR(alice, bob)
	f.Add(q)
	f.Fuzz(func(t *testing.T, b []byte) {
		err := VerifySafetyQR(b, bob, alice)
		checkErr(t, err)
		if err == nil && !bytes.Equal(b, q) {
			t.Fatal("a different payload verified")
		}
		c, err := ParseClientQR(b)
		checkErr(t, err)
		if err == nil {
			if re, _ := c.MarshalBinary(); !bytes.Equal(re, b) {
				t.Fatal("client QR does not re-encode")
			}
		}
	})
}

func FuzzKeyDirectoryJSON(f *testing.F) {
	// The JSON forms the key directory carries (bundles, client lists):
	// key decoding applies the acceptance rules.
	r := newDetRand("fuzz-json")
	p := newParty(f, r, "bob", "b1")
	b, _ := json.Marshal(p.bundle(true))
	f.Add(b)
	m, _ := GenerateSigningKey(r)
	l, _ := SignClientList(m, "bob", 1, []ClientListEntry{{"b1", p.keys.Signing.Public()}})
	lb, _ := json.Marshal(l)
	f.Add(lb)
	f.Fuzz(func(t *testing.T, in []byte) {
		var b Bundle
		if json.Unmarshal(in, &b) == nil {
			checkErr(t, b.Verify())
		}
		var l ClientList
		if json.Unmarshal(in, &l) == nil {
			checkErr(t, l.Verify())
		}
	})
}
