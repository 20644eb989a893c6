package unhidra

import "time"

// End-to-end encryption: the public records of the key directory (package
// keys; API.md "End-to-end keys and to-device messages"). The server never
// holds a private key and never checks a signature: clients verify every
// signature themselves, since the server is not trusted. Keys and
// signatures travel as standard base64 and are stored as their bytes.

// Sizes the key directory insists on, in bytes.
const (
	X25519KeySize   = 32   // identity keys, prekeys
	Ed25519KeySize  = 32   // signing keys, the master key
	Ed25519SigSize  = 64   // every signature
	MLKEM768KeySize = 1184 // ML-KEM-768 encapsulation keys (post-quantum prekeys)
)

// PreKey is a one-time X25519 prekey: handed out once, then deleted.
type PreKey struct {
	ID  uint32 `json:"id"`
	Key []byte `json:"key"`
}

// SignedPreKey is a prekey signed by its client's signing key: the signed
// prekey, a post-quantum (ML-KEM-768) prekey, or a last-resort prekey.
type SignedPreKey struct {
	ID  uint32 `json:"id"`
	Key []byte `json:"key"`
	Sig []byte `json:"sig"`
}

// ClientKeys is one client install's public keys as its owner registered
// them (PUT /api/v1/keys/clients/{client_id}).
type ClientKeys struct {
	ClientID string `json:"client_id"`
	UserID   string `json:"user_id"`
	// IdentityKey is the client's X25519 identity key, bound to SigningKey
	// (Ed25519) by IdentitySig.
	IdentityKey  []byte        `json:"identity_key"`
	SigningKey   []byte        `json:"signing_key"`
	IdentitySig  []byte        `json:"identity_sig"`
	SignedPreKey *SignedPreKey `json:"signed_prekey"`
	// PQPreKey is the signed ML-KEM-768 prekey handed out when the client
	// has no post-quantum one-time prekey left (PQXDH's last resort).
	PQPreKey *SignedPreKey `json:"pq_prekey,omitempty"`
	// LastResortPreKey is the signed X25519 prekey handed out when the
	// client has no one-time prekey left.
	LastResortPreKey *SignedPreKey `json:"last_resort_prekey,omitempty"`
	CreatedAt        time.Time     `json:"created_at"`
	UpdatedAt        time.Time     `json:"updated_at"`
}

// Kinds of RetiredPreKey.
const (
	PreKeySigned = "signed" // a signed prekey
	PreKeyPQ     = "pq"     // a post-quantum signed prekey
)

// RetiredPreKey is a signed or post-quantum prekey that a newer one
// replaced. Its owner keeps the private half until ExpiresAt, so that a
// handshake begun with the old bundle still completes.
type RetiredPreKey struct {
	Kind      string    `json:"kind"`
	ID        uint32    `json:"id"`
	RetiredAt time.Time `json:"retired_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// PreKeyCounts is how many one-time prekeys a client has left.
type PreKeyCounts struct {
	OneTimePreKeys   int `json:"one_time_prekeys"`
	PQOneTimePreKeys int `json:"pq_one_time_prekeys"`
}

// ClientInfo is a client as its owner sees it: its keys, what is left of
// its one-time prekeys, and its retired prekeys still in their grace
// period.
type ClientInfo struct {
	ClientKeys
	PreKeyCounts
	RetiredPreKeys []RetiredPreKey `json:"retired_prekeys"`
}

// ClientBundle is what another client needs to start a session with one
// client install: its identity, its signed prekey, its post-quantum
// prekey, and prekeys taken for this handshake alone. Of OneTimePreKey and
// LastResortPreKey at most one is set (the last-resort key once the
// one-time prekeys ran out); PQOneTimePreKey is set while the client has
// post-quantum one-time prekeys, and is then used in preference to
// PQPreKey, which is always there when the client registered one.
type ClientBundle struct {
	UserID           string        `json:"user_id"`
	ClientID         string        `json:"client_id"`
	IdentityKey      []byte        `json:"identity_key"`
	SigningKey       []byte        `json:"signing_key"`
	IdentitySig      []byte        `json:"identity_sig"`
	SignedPreKey     *SignedPreKey `json:"signed_prekey"`
	OneTimePreKey    *PreKey       `json:"one_time_prekey,omitempty"`
	LastResortPreKey *SignedPreKey `json:"last_resort_prekey,omitempty"`
	PQOneTimePreKey  *SignedPreKey `json:"pq_one_time_prekey,omitempty"`
	PQPreKey         *SignedPreKey `json:"pq_prekey,omitempty"`
}

// ClientList is a user's list of client installs signed by their master
// key (cross-signing, docs/protocol.md): a client missing from it was not
// added by the user. Version grows with every new list, so that a verifier
// can refuse an older one; the signature covers the user id, the version,
// the master key and each entry.
type ClientList struct {
	UserID    string            `json:"user_id"`
	Version   uint64            `json:"version"`
	MasterKey []byte            `json:"master_key"`
	Clients   []ClientListEntry `json:"clients"`
	Sig       []byte            `json:"sig"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// ClientListEntry names one client of a ClientList by id and signing key.
type ClientListEntry struct {
	ClientID   string `json:"client_id"`
	SigningKey []byte `json:"signing_key"`
}

// UserKeys is a user's part of the key directory: the master key, the
// signed client list and a bundle per client install.
type UserKeys struct {
	UserID     string          `json:"user_id"`
	MasterKey  []byte          `json:"master_key,omitempty"`
	ClientList *ClientList     `json:"client_list,omitempty"`
	Clients    []*ClientBundle `json:"clients"`
}

// KeyBackup is a user's encrypted key backup: opaque to the server, opened
// only with the user's recovery key.
type KeyBackup struct {
	Version   int64     `json:"version"`
	AuthData  []byte    `json:"auth_data"`
	Data      []byte    `json:"data"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ToDeviceMessage is pairwise ciphertext waiting in a client's to-device
// inbox until that client acknowledges it.
type ToDeviceMessage struct {
	ID         string `json:"id"`
	UserID     string `json:"-"` // the recipient
	ClientID   string `json:"-"` // the recipient's client
	FromUser   string `json:"from_user"`
	FromClient string `json:"from_client"`
	// Ciphertext is the sender's standard base64, as sent.
	Ciphertext string    `json:"ciphertext"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}
