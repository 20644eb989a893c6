package e2ee

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestFileRoundTrip(t *testing.T) {
	r := newDetRand("file")
	key, _ := GenerateFileKey(r)
	for _, n := range []int{0, 1, 1023, 1024, 1025, 4096, 5000} {
		pt := r.bytes(n)
		ct, err := EncryptFile(r, key, pt, 1024)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(ct)) != FileCiphertextSize(int64(n), 1024) {
			t.Fatalf("size %d: ciphertext %d, predicted %d", n, len(ct), FileCiphertextSize(int64(n), 1024))
		}
		got, err := DecryptFile(key, ct)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("size %d: %v", n, err)
		}
		// Streaming with odd write and read sizes gives the same.
		var buf bytes.Buffer
		w, _ := NewFileWriter(script(ct[9:25]), &buf, key, 1024)
		for p := pt; len(p) > 0; {
			k := min(len(p), 333)
			w.Write(p[:k])
			p = p[k:]
		}
		w.Close()
		if !bytes.Equal(buf.Bytes(), ct) {
			t.Fatalf("size %d: streamed ciphertext differs", n)
		}
		fr, _ := NewFileReader(bytes.NewReader(ct), key)
		var out []byte
		p := make([]byte, 77)
		for {
			k, err := fr.Read(p)
			out = append(out, p[:k]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(out, pt) {
			t.Fatalf("size %d: streamed plaintext differs", n)
		}
	}
}

func TestFileTamper(t *testing.T) {
	r := newDetRand("file-tamper")
	key, _ := GenerateFileKey(r)
	pt := r.bytes(3 * 1024)
	ct, _ := EncryptFile(r, key, pt, 1024)
	chunk := 1024 + 16
	h := FileHeaderSize
	cases := []struct {
		name string
		ct   []byte
		want error
	}{
		{"truncated after a chunk", ct[:h+2*chunk], ErrTruncated},
		{"truncated to the header", ct[:h], ErrTruncated},
		{"truncated mid-chunk", ct[:h+chunk+100], ErrDecrypt},
		{"chunks reordered", append(append(append(bytes.Clone(ct[:h]), ct[h+chunk:h+2*chunk]...), ct[h:h+chunk]...), ct[h+2*chunk:]...), ErrDecrypt},
		{"final chunk dropped in the middle", append(bytes.Clone(ct[:h+chunk]), ct[h+2*chunk:]...), ErrDecrypt},
		{"data after the final chunk", append(bytes.Clone(ct), 0), ErrInvalidMessage},
		{"byte flipped", flip(ct, h+chunk+5), ErrDecrypt},
		{"chunk size changed", flip(ct, 6), ErrDecrypt},
		{"salt changed", flip(ct, 10), ErrDecrypt},
		{"not a file", flip(ct, 0), ErrInvalidMessage},
		{"version", flip(ct, 4), ErrUnsupportedVersion},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecryptFile(key, c.ct)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if c.want != ErrInvalidMessage && len(got) > 2*1024 {
				t.Fatal("returned more than the authenticated chunks")
			}
		})
	}
	other, _ := GenerateFileKey(r)
	if _, err := DecryptFile(other, ct); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong key: %v", err)
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

func TestRecoveryKeyText(t *testing.T) {
	r := newDetRand("recovery")
	for range 50 {
		k, _ := GenerateRecoveryKey(r)
		s := k.String()
		if len(strings.ReplaceAll(s, " ", "")) != 47 || len(strings.Fields(s)) != 12 {
			t.Fatalf("%q: not 47 characters in 12 groups", s)
		}
		got, err := ParseRecoveryKey(s)
		if err != nil || got != k {
			t.Fatalf("%q: %v", s, err)
		}
		// Whitespace does not matter.
		if got, err := ParseRecoveryKey(" " + strings.ReplaceAll(s, " ", "\n") + " "); err != nil || got != k {
			t.Fatalf("reformatted %q: %v", s, err)
		}
		// A one-character typo is caught by the checksum (or the alphabet).
		typo := []byte(s)
		i := len(typo) / 2
		if typo[i] == ' ' {
			i++
		}
		if typo[i] == 'z' {
			typo[i] = 'y'
		} else {
			typo[i] = 'z'
		}
		if _, err := ParseRecoveryKey(string(typo)); err == nil {
			t.Fatalf("typo %q accepted", typo)
		}
	}
	for _, bad := range []string{"", "0OIl", "1111", strings.Repeat("z", 100)} {
		if _, err := ParseRecoveryKey(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
	var zero, ones RecoveryKey
	for i := range ones {
		ones[i] = 0xff
	}
	for _, k := range []RecoveryKey{zero, ones} {
		if got, err := ParseRecoveryKey(k.String()); err != nil || got != k || len(strings.ReplaceAll(k.String(), " ", "")) != 47 {
			t.Fatalf("%x: %v", k, err)
		}
	}
}

func TestBackup(t *testing.T) {
	r := newDetRand("backup")
	k, _ := GenerateRecoveryKey(r)
	c := BackupContents{MasterKey: r.bytes(32)}
	g := newGroup(t, r)
	d, _ := g.out.Distribution().MarshalBinary()
	c.SenderKeys = append(c.SenderKeys, d)
	pt, _ := c.Marshal()
	b, err := SealBackup(r, k, 7, pt)
	if err != nil {
		t.Fatal(err)
	}
	// Through the API's JSON.
	j, _ := json.Marshal(b)
	var b2 Backup
	if err := json.Unmarshal(j, &b2); err != nil {
		t.Fatal(err)
	}
	seq, got, err := OpenBackup(k, &b2)
	if err != nil || seq != 7 || !bytes.Equal(got, pt) {
		t.Fatalf("open: %d %v", seq, err)
	}
	c2, err := ParseBackupContents(got)
	if err != nil || !bytes.Equal(c2.MasterKey, c.MasterKey) || len(c2.SenderKeys) != 1 {
		t.Fatalf("contents: %v", err)
	}
	other, _ := GenerateRecoveryKey(r)
	if _, _, err := OpenBackup(other, b); !errors.Is(err, ErrWrongRecoveryKey) {
		t.Fatalf("wrong key: %v", err)
	}
	for name, change := range map[string]func(b *Backup){
		"data":     func(b *Backup) { b.Data = flip(b.Data, 30) },
		"nonce":    func(b *Backup) { b.Data = flip(b.Data, 0) },
		"sequence": func(b *Backup) { b.AuthData = flip(b.AuthData, 20) },
	} {
		bad := *b
		change(&bad)
		if _, _, err := OpenBackup(k, &bad); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("%s changed: %v", name, err)
		}
	}
	bad := *b
	bad.Version = 2
	if _, _, err := OpenBackup(k, &bad); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("version: %v", err)
	}
	for _, s := range []string{`{"version":1,"sender_keys":[],"x":1}`, `{"version":2,"sender_keys":[]}`, `{"version":1,"master_key":"AAAA","sender_keys":[]}`, `{"version":1,"sender_keys":[]} {}`, `{"version":1,"sender_keys":["AAAA"]}`} {
		if _, err := ParseBackupContents([]byte(s)); err == nil {
			t.Fatalf("%s accepted", s)
		}
	}
}

func userKeys(c ...*ClientKeys) *UserKeys {
	m, _ := NewSigningKey(bytes.Repeat([]byte(c[0].UserID[:1]), 32))
	u := &UserKeys{UserID: c[0].UserID, MasterKey: m.Public()}
	for _, k := range c {
		u.Clients = append(u.Clients, k.Public())
	}
	return u
}

func TestSafetyNumber(t *testing.T) {
	r := newDetRand("safety")
	a1, _ := GenerateClientKeys(r, "alice", "a1")
	a2, _ := GenerateClientKeys(r, "alice", "a2")
	b1, _ := GenerateClientKeys(r, "bob", "b1")
	alice, bob := userKeys(a1, a2), userKeys(b1)
	n1, err := SafetyNumber(alice, bob)
	if err != nil {
		t.Fatal(err)
	}
	n2, _ := SafetyNumber(bob, alice)
	if n1 != n2 || len(n1) != 60 || strings.Trim(n1, "0123456789") != "" {
		t.Fatalf("%q vs %q", n1, n2)
	}
	// Client order does not matter; a new client, or a changed key, does.
	swapped := userKeys(a2, a1)
	if n, _ := SafetyNumber(swapped, bob); n != n1 {
		t.Fatal("client order changed the number")
	}
	// "alice" sorts first, so her 30 digits come first.
	if n, _ := SafetyNumber(userKeys(a1), bob); n[:30] == n1[:30] || n[30:] != n1[30:] {
		t.Fatal("removing a client did not change exactly alice's half")
	}
	mallory := userKeys(a1, a2)
	mallory.MasterKey = b1.Signing.Public()
	if n, _ := SafetyNumber(mallory, bob); n == n1 {
		t.Fatal("another master key, same number")
	}
	if _, err := SafetyNumber(alice, alice); err == nil {
		t.Fatal("one user")
	}

	qr, err := SafetyQR(alice, bob)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifySafetyQR(qr, bob, alice); err != nil {
		t.Fatalf("bob scans alice: %v", err)
	}
	if err := VerifySafetyQR(qr, alice, bob); !errors.Is(err, ErrMismatch) {
		t.Fatalf("scanned own code: %v", err)
	}
	if err := VerifySafetyQR(qr, bob, mallory); !errors.Is(err, ErrMismatch) {
		t.Fatalf("bob sees other keys for alice: %v", err)
	}
	if err := VerifySafetyQR(qr[:len(qr)-1], bob, alice); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("short payload: %v", err)
	}
}

func TestClientFingerprintAndQR(t *testing.T) {
	r := newDetRand("client-qr")
	a1, _ := GenerateClientKeys(r, "alice", "a1")
	a2, _ := GenerateClientKeys(r, "alice", "a2")
	id1, id2 := a1.Public(), a2.Public()
	f := ClientFingerprint(&id1)
	if len(f) != 30 || f == ClientFingerprint(&id2) {
		t.Fatalf("fingerprint %q", f)
	}
	master := userKeys(a1).MasterKey
	q := ClientQR{Client: id2, MasterKey: master}
	b, _ := q.MarshalBinary()
	got, err := ParseClientQR(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Matches(&id2, master); err != nil {
		t.Fatal(err)
	}
	if err := got.Matches(&id1, master); !errors.Is(err, ErrMismatch) {
		t.Fatalf("other client: %v", err)
	}
	if err := got.Matches(&id2, id1.SigningKey); !errors.Is(err, ErrMismatch) {
		t.Fatalf("other master: %v", err)
	}
}

func TestIdentityAndClientList(t *testing.T) {
	r := newDetRand("identity")
	master, _ := GenerateSigningKey(r)
	a1, _ := GenerateClientKeys(r, "alice", "a1")
	a2, _ := GenerateClientKeys(r, "alice", "a2")
	id1, id2 := a1.Public(), a2.Public()
	if err := id1.Verify(); err != nil {
		t.Fatal(err)
	}
	// The identity signature binds the ids and both keys.
	for name, change := range map[string]func(*ClientIdentity){
		"user":         func(i *ClientIdentity) { i.UserID = "bob" },
		"client":       func(i *ClientIdentity) { i.ClientID = "a9" },
		"identity key": func(i *ClientIdentity) { i.IdentityKey = id2.IdentityKey },
		"signing key":  func(i *ClientIdentity) { i.SigningKey = id2.SigningKey },
	} {
		bad := id1
		change(&bad)
		if err := bad.Verify(); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("%s changed: %v", name, err)
		}
	}
	l, err := SignClientList(master, "alice", 3, []ClientListEntry{{"a2", id2.SigningKey}, {"a1", id1.SigningKey}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Verify(); err != nil {
		t.Fatal(err)
	}
	if !l.Contains(&id1) || !l.Contains(&id2) {
		t.Fatal("listed client not contained")
	}
	// A ghost client the server added is not in the list.
	ghost, _ := GenerateClientKeys(r, "alice", "a3")
	gid := ghost.Public()
	if l.Contains(&gid) {
		t.Fatal("ghost contained")
	}
	// The server cannot add it to the list, or swap a key.
	bad := *l
	bad.Clients = append(bad.Clients, ClientListEntry{"a3", gid.SigningKey})
	if err := bad.Verify(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("extended list: %v", err)
	}
	bad = *l
	bad.Clients = []ClientListEntry{{"a1", gid.SigningKey}, l.Clients[1]}
	if err := bad.Verify(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("swapped key: %v", err)
	}
	bad = *l
	bad.Version = 2
	if err := bad.Verify(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("changed version: %v", err)
	}
	if _, err := SignClientList(master, "alice", 1, []ClientListEntry{{"a1", id1.SigningKey}, {"a1", id2.SigningKey}}); err == nil {
		t.Fatal("duplicate client id accepted")
	}
	// JSON round trip (the directory's form).
	j, _ := json.Marshal(l)
	var l2 ClientList
	if err := json.Unmarshal(j, &l2); err != nil {
		t.Fatal(err)
	}
	if err := l2.Verify(); err != nil {
		t.Fatal(err)
	}
	kb, _ := a1.MarshalBinary()
	a1b, err := UnmarshalClientKeys(kb)
	if err != nil || a1b.Public() != id1 {
		t.Fatalf("client keys round trip: %v", err)
	}
}

func TestBundleJSON(t *testing.T) {
	r := newDetRand("bundle-json")
	p := newParty(t, r, "bob", "b1")
	b := p.bundle(true)
	j, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`"user_id"`, `"client_id"`, `"identity_key"`, `"signing_key"`, `"identity_sig"`, `"signed_prekey":{"id":1,"key":`, `"pq_prekey":{"id":2,"key":`, `"one_time_prekey":{"id":`} {
		if !strings.Contains(string(j), f) {
			t.Fatalf("JSON lacks %s: %s", f, j[:200])
		}
	}
	var b2 Bundle
	if err := json.Unmarshal(j, &b2); err != nil {
		t.Fatal(err)
	}
	if err := b2.Verify(); err != nil {
		t.Fatal(err)
	}
	// A small-order key in JSON is refused at decoding.
	bad := strings.Replace(string(j), b64str(b.IdentityKey[:]), b64str(make([]byte, 32)), 1)
	if err := json.Unmarshal([]byte(bad), &b2); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("low-order identity key: %v", err)
	}
}

func b64str(p []byte) string { return string(b64(p)) }

func TestEnvelope(t *testing.T) {
	r := newDetRand("envelope")
	a, _ := pair(t, r)
	m := mustEncrypt(t, a, r, "x")
	g := newGroup(t, r)
	gm, _ := g.out.Encrypt([]byte("y"))
	for _, e := range []Envelope{
		{GroupProtocol: GroupPairwise, SenderUserID: "alice", SenderClientID: "a1", Body: m},
		{GroupProtocol: GroupSenderKeys, SenderUserID: "alice", SenderClientID: "a1", Body: gm},
	} {
		b, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseEnvelope(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.GroupProtocol != e.GroupProtocol || got.SenderUserID != "alice" || !bytes.Equal(got.Body, e.Body) {
			t.Fatal("envelope round trip")
		}
	}
	mls, _ := (&Envelope{GroupProtocol: GroupMLS, SenderUserID: "alice", SenderClientID: "a1", Body: []byte{1}}).MarshalBinary()
	if _, err := ParseEnvelope(mls); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("MLS envelope: %v", err)
	}
	wrong, _ := (&Envelope{GroupProtocol: GroupSenderKeys, SenderUserID: "alice", SenderClientID: "a1", Body: m}).MarshalBinary()
	if _, err := ParseEnvelope(wrong); err == nil {
		t.Fatal("pairwise body in a sender-key envelope")
	}
	app := MarshalApplication([]byte(`{"t":"x"}`))
	if b, err := ParseApplication(app); err != nil || string(b) != `{"t":"x"}` {
		t.Fatalf("application: %v", err)
	}
}
