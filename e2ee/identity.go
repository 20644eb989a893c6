package e2ee

import (
	"bytes"
	"io"
	"slices"
	"strings"
)

// Labels of the signatures over identities (docs/protocol.md "Labels").
const (
	labelIdentity   = "UnhidraIdentity"
	labelClientList = "UnhidraClientList"
)

// ClientKeys are the long-term private keys of one client install: an
// Ed25519 signing key and an X25519 identity key, bound to each other and
// to the user and client ids by the identity signature.
type ClientKeys struct {
	UserID   string
	ClientID string
	Signing  *SigningKey
	Identity *DHKey
}

// GenerateClientKeys makes a client's keys, reading the 32-byte signing
// seed and then the 32-byte identity key from rand (nil: crypto/rand).
func GenerateClientKeys(rand io.Reader, userID, clientID string) (*ClientKeys, error) {
	if err := checkID(userID); err != nil {
		return nil, err
	}
	if err := checkID(clientID); err != nil {
		return nil, err
	}
	sk, err := GenerateSigningKey(rand)
	if err != nil {
		return nil, err
	}
	ik, err := GenerateDHKey(rand)
	if err != nil {
		return nil, err
	}
	return &ClientKeys{UserID: userID, ClientID: clientID, Signing: sk, Identity: ik}, nil
}

// Public returns the client's identity as published in the key directory,
// with a fresh identity signature (Ed25519 is deterministic, so it is the
// same every time).
func (c *ClientKeys) Public() ClientIdentity {
	id := ClientIdentity{
		UserID:      c.UserID,
		ClientID:    c.ClientID,
		SigningKey:  c.Signing.Public(),
		IdentityKey: c.Identity.Public(),
	}
	id.IdentitySig = c.Signing.sign(id.signedBytes())
	return id
}

// MarshalBinary encodes the private keys for the client's own storage:
// version 1, user id, client id, signing seed, identity private key.
func (c *ClientKeys) MarshalBinary() ([]byte, error) {
	var w writer
	w.u8(1)
	w.str8(c.UserID)
	w.str8(c.ClientID)
	w.raw(c.Signing.seed[:])
	w.raw(c.Identity.Bytes())
	return w.b, nil
}

// UnmarshalClientKeys decodes what MarshalBinary wrote.
func UnmarshalClientKeys(b []byte) (*ClientKeys, error) {
	r := reader{b: b}
	if v := r.u8(); r.err == nil && v != 1 {
		return nil, errf(ErrUnsupportedVersion, "client keys version %d", v)
	}
	c := &ClientKeys{UserID: r.id(), ClientID: r.id()}
	seed, ik := r.take(KeySize), r.take(KeySize)
	if err := r.done(); err != nil {
		return nil, err
	}
	c.Signing, _ = NewSigningKey(seed)
	c.Identity, _ = NewDHKey(ik)
	return c, nil
}

// ClientIdentity is the public identity of one client install: what
// PUT /api/v1/keys/clients/{client_id} carries and every bundle repeats.
type ClientIdentity struct {
	UserID      string        `json:"user_id"`
	ClientID    string        `json:"client_id"`
	SigningKey  SigningPublic `json:"signing_key"`
	IdentityKey DHPublic      `json:"identity_key"`
	IdentitySig Signature     `json:"identity_sig"`
}

func (id *ClientIdentity) signedBytes() []byte {
	return context(labelIdentity, []byte(id.UserID), []byte(id.ClientID), id.SigningKey[:], id.IdentityKey[:])
}

// Verify checks the ids, both keys' acceptance rules and the identity
// signature. It says nothing about whether the client is the user's: that
// is the client list's job (ClientList.Verify, Contains).
func (id *ClientIdentity) Verify() error {
	if err := checkID(id.UserID); err != nil {
		return err
	}
	if err := checkID(id.ClientID); err != nil {
		return err
	}
	if err := CheckDHPublic(id.IdentityKey[:]); err != nil {
		return err
	}
	if err := verify(id.SigningKey, id.signedBytes(), id.IdentitySig); err != nil {
		return errf(ErrBadSignature, "identity signature of %s/%s: %v", id.UserID, id.ClientID, err)
	}
	return nil
}

// Equal reports whether two identities name the same ids and keys.
func (id *ClientIdentity) Equal(o *ClientIdentity) bool {
	return id.UserID == o.UserID && id.ClientID == o.ClientID &&
		id.SigningKey == o.SigningKey && id.IdentityKey == o.IdentityKey
}

func (w *writer) identity(id *ClientIdentity) {
	w.str8(id.UserID)
	w.str8(id.ClientID)
	w.raw(id.SigningKey[:])
	w.raw(id.IdentityKey[:])
	w.raw(id.IdentitySig[:])
}

func (r *reader) identity() ClientIdentity {
	id := ClientIdentity{UserID: r.id(), ClientID: r.id()}
	id.SigningKey = r.array32()
	id.IdentityKey = r.array32()
	id.IdentitySig = r.array64()
	return id
}

// ClientList is a user's list of client installs signed by the user's
// master key (cross-signing): a client the server added on its own is not
// in it, so every other client shows it as unverified.
type ClientList struct {
	UserID string `json:"user_id"`
	// Version increases with every new list; a verifier refuses a list
	// older than the newest it has seen, so the server cannot bring back a
	// removed client by replaying an old list.
	Version   uint64            `json:"version"`
	MasterKey SigningPublic     `json:"master_key"`
	Clients   []ClientListEntry `json:"clients"`
	Sig       Signature         `json:"sig"`
}

// ClientListEntry names one client by id and signing key (the signing key
// vouches for the identity key through the identity signature).
type ClientListEntry struct {
	ClientID   string        `json:"client_id"`
	SigningKey SigningPublic `json:"signing_key"`
}

// MaxClients bounds a client list.
const MaxClients = 1000

func (l *ClientList) signedBytes() []byte {
	fields := [][]byte{[]byte(l.UserID), u64(l.Version), l.MasterKey[:]}
	for _, c := range l.Clients {
		fields = append(fields, []byte(c.ClientID), c.SigningKey[:])
	}
	return context(labelClientList, fields...)
}

func checkEntries(clients []ClientListEntry) error {
	if len(clients) > MaxClients {
		return errf(ErrInvalidMessage, "more than %d clients", MaxClients)
	}
	for i, c := range clients {
		if err := checkID(c.ClientID); err != nil {
			return err
		}
		if i > 0 && strings.Compare(clients[i-1].ClientID, c.ClientID) >= 0 {
			return errf(ErrInvalidMessage, "client list not in strictly ascending client id order")
		}
		if err := CheckSigningPublic(c.SigningKey[:]); err != nil {
			return err
		}
	}
	return nil
}

// SignClientList signs a user's client list with the master key. The
// entries are sorted by client id (byte order); duplicates are an error.
func SignClientList(master *SigningKey, userID string, version uint64, clients []ClientListEntry) (*ClientList, error) {
	if err := checkID(userID); err != nil {
		return nil, err
	}
	l := &ClientList{UserID: userID, Version: version, MasterKey: master.Public(), Clients: slices.Clone(clients)}
	slices.SortFunc(l.Clients, func(a, b ClientListEntry) int { return strings.Compare(a.ClientID, b.ClientID) })
	if err := checkEntries(l.Clients); err != nil {
		return nil, err
	}
	l.Sig = master.sign(l.signedBytes())
	return l, nil
}

// Verify checks the list's shape and its signature by l.MasterKey. The
// caller compares MasterKey with the master key it trusts for the user
// (the one covered by a verified safety number, or the first it saw) and
// Version with the newest version it has seen.
func (l *ClientList) Verify() error {
	if err := checkID(l.UserID); err != nil {
		return err
	}
	if err := checkEntries(l.Clients); err != nil {
		return err
	}
	if err := verify(l.MasterKey, l.signedBytes(), l.Sig); err != nil {
		return errf(ErrBadSignature, "client list of %s: %v", l.UserID, err)
	}
	return nil
}

// Contains reports whether the list vouches for the identity: same user,
// and an entry with the identity's client id and signing key.
func (l *ClientList) Contains(id *ClientIdentity) bool {
	if id.UserID != l.UserID {
		return false
	}
	i, ok := slices.BinarySearchFunc(l.Clients, id.ClientID, func(e ClientListEntry, t string) int { return strings.Compare(e.ClientID, t) })
	return ok && bytes.Equal(l.Clients[i].SigningKey[:], id.SigningKey[:])
}
