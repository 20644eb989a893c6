package e2ee

// Labels of the prekey signatures.
const (
	labelSignedPrekey = "UnhidraSignedPrekey"
	labelPQPrekey     = "UnhidraPQPrekey"
)

// SignedPrekey is an X25519 prekey signed by the client's signing key; the
// client replaces it periodically (keeping the old private key for a grace
// period, so prekey messages in flight still open).
type SignedPrekey struct {
	ID  uint32    `json:"id"`
	Key DHPublic  `json:"key"`
	Sig Signature `json:"sig"`
}

// PQPrekey is an ML-KEM-768 prekey signed by the client's signing key. It
// is the last-resort PQ key of PQXDH: reused until the client replaces it.
type PQPrekey struct {
	ID  uint32    `json:"id"`
	Key KEMPublic `json:"key"`
	Sig Signature `json:"sig"`
}

// OneTimePrekey is an unsigned X25519 prekey the directory hands out once.
type OneTimePrekey struct {
	ID  uint32   `json:"id"`
	Key DHPublic `json:"key"`
}

func signedPrekeyBytes(user, client string, id uint32, key DHPublic) []byte {
	return context(labelSignedPrekey, []byte(user), []byte(client), u32(id), key[:])
}

func pqPrekeyBytes(user, client string, id uint32, key *KEMPublic) []byte {
	return context(labelPQPrekey, []byte(user), []byte(client), u32(id), key[:])
}

// SignPrekey signs an X25519 prekey as the client's signed prekey.
func (c *ClientKeys) SignPrekey(id uint32, k *DHKey) SignedPrekey {
	return SignedPrekey{ID: id, Key: k.Public(), Sig: c.Signing.sign(signedPrekeyBytes(c.UserID, c.ClientID, id, k.Public()))}
}

// SignPQPrekey signs an ML-KEM-768 key as the client's PQ prekey.
func (c *ClientKeys) SignPQPrekey(id uint32, k *KEMKey) PQPrekey {
	p := PQPrekey{ID: id, Key: k.Public()}
	p.Sig = c.Signing.sign(pqPrekeyBytes(c.UserID, c.ClientID, id, &p.Key))
	return p
}

// OneTimePrekeyOf returns the public half of a one-time prekey for upload.
func OneTimePrekeyOf(id uint32, k *DHKey) OneTimePrekey {
	return OneTimePrekey{ID: id, Key: k.Public()}
}

// Verify checks a signed prekey against the identity it claims to belong to.
func (p *SignedPrekey) Verify(owner *ClientIdentity) error {
	if err := CheckDHPublic(p.Key[:]); err != nil {
		return err
	}
	if err := verify(owner.SigningKey, signedPrekeyBytes(owner.UserID, owner.ClientID, p.ID, p.Key), p.Sig); err != nil {
		return errf(ErrBadSignature, "signed prekey %d: %v", p.ID, err)
	}
	return nil
}

// Verify checks a PQ prekey against the identity it claims to belong to.
func (p *PQPrekey) Verify(owner *ClientIdentity) error {
	if err := CheckKEMPublic(p.Key[:]); err != nil {
		return err
	}
	if err := verify(owner.SigningKey, pqPrekeyBytes(owner.UserID, owner.ClientID, p.ID, &p.Key), p.Sig); err != nil {
		return errf(ErrBadSignature, "PQ prekey %d: %v", p.ID, err)
	}
	return nil
}

// Bundle is what the key directory returns for one client of a user
// (GET /api/v1/users/{id}/keys): the identity, the signed prekey, the PQ
// prekey and, while the directory has any, one one-time prekey.
type Bundle struct {
	ClientIdentity
	SignedPrekey  SignedPrekey   `json:"signed_prekey"`
	PQPrekey      PQPrekey       `json:"pq_prekey"`
	OneTimePrekey *OneTimePrekey `json:"one_time_prekey,omitempty"`
}

// Verify checks every key of the bundle and every signature in it. A
// bundle in which the server substituted any key fails here; a bundle the
// server made up entirely (its own identity) passes, which is why the
// caller also checks the identity against the user's signed client list.
func (b *Bundle) Verify() error {
	if err := b.ClientIdentity.Verify(); err != nil {
		return err
	}
	if err := b.SignedPrekey.Verify(&b.ClientIdentity); err != nil {
		return err
	}
	if err := b.PQPrekey.Verify(&b.ClientIdentity); err != nil {
		return err
	}
	if b.OneTimePrekey != nil {
		if err := CheckDHPublic(b.OneTimePrekey.Key[:]); err != nil {
			return err
		}
	}
	return nil
}
