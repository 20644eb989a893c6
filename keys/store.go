package keys

import (
	"context"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
)

// Client is a client install's row. A removed client (RemovedAt set) has
// no keys: only its id and owner remain, so that the id stays its owner's.
type Client struct {
	unhidra.ClientKeys
	RemovedAt *time.Time
}

// Store is what the service needs from durable storage; e2eestore.Store
// implements it on SQLite and PostgreSQL, and store/storetest's Keys suite
// pins the semantics described here. Errors are *unhidra.Error with
// ENotFound or EConflict where noted; anything else is internal.
type Store interface {
	Reader
	// Tx runs fn in one write transaction, committed if fn returns nil.
	Tx(ctx context.Context, fn func(Tx) error) error
	// AckToDevice deletes the messages of ids addressed to clientID of
	// userID (ids of anyone else's messages are ignored) and returns how
	// many it deleted.
	AckToDevice(ctx context.Context, userID, clientID string, ids []string) (int, error)
	// Sweep deletes the inbox messages that expired at now and the retired
	// prekeys retired before retiredBefore, and returns how many of each.
	Sweep(ctx context.Context, now, retiredBefore time.Time) (messages, prekeys int64, err error)
}

// Reader is the reads, outside a transaction or inside one.
type Reader interface {
	// UserByID returns the user or ENotFound.
	UserByID(ctx context.Context, id string) (*unhidra.User, error)
	// Client returns the client, removed or not, or ENotFound.
	Client(ctx context.Context, id string) (*Client, error)
	// Clients returns the user's clients that are not removed, oldest
	// first.
	Clients(ctx context.Context, userID string) ([]*Client, error)
	// ClientsByID returns those of ids that exist (removed or not), in no
	// particular order.
	ClientsByID(ctx context.Context, ids []string) ([]*Client, error)
	// PreKeyCounts counts the client's one-time prekeys of each kind.
	PreKeyCounts(ctx context.Context, clientID string) (unhidra.PreKeyCounts, error)
	// RetiredPreKeys lists the client's retired prekeys, oldest first
	// (ExpiresAt is left to the service).
	RetiredPreKeys(ctx context.Context, clientID string) ([]unhidra.RetiredPreKey, error)
	// UserKeys returns the user's master key and signed client list, each
	// nil when not set.
	UserKeys(ctx context.Context, userID string) (master []byte, list *unhidra.ClientList, err error)
	// Backup returns the user's key backup or ENotFound.
	Backup(ctx context.Context, userID string) (*unhidra.KeyBackup, error)
	// ToDevice returns unexpired messages (at now) of clientID of userID,
	// ascending by id, at most limit: those of ids when ids is not nil,
	// else those with an id above after.
	ToDevice(ctx context.Context, userID, clientID string, ids []string, after string, now time.Time, limit int) ([]*unhidra.ToDeviceMessage, error)
	// CountToDevice counts the messages waiting for each of clientIDs.
	CountToDevice(ctx context.Context, clientIDs []string) (map[string]int, error)
}

// Tx is a write transaction: the reads see its writes.
type Tx interface {
	Reader
	// LockClient is Client with the row locked until commit.
	LockClient(ctx context.Context, id string) (*Client, error)
	// LockUser locks the user's row of key-directory state until commit
	// (creating it if need be), serializing master key, client list and
	// client registrations of one user; it returns the user's master key
	// and client list as UserKeys does.
	LockUser(ctx context.Context, userID string) (master []byte, list *unhidra.ClientList, err error)
	// InsertClient stores a new client (EConflict if the id exists).
	InsertClient(ctx context.Context, c *Client) error
	// UpdateClient replaces the keys and UpdatedAt of an existing client.
	UpdateClient(ctx context.Context, c *Client) error
	// RemoveClient clears the client's keys, sets removed_at and deletes
	// its prekeys, retired prekeys and inbox.
	RemoveClient(ctx context.Context, id string, at time.Time) error
	// RetirePreKey records a replaced signed (unhidra.PreKeySigned) or
	// post-quantum (unhidra.PreKeyPQ) prekey; a retired key of the same
	// kind and id is replaced.
	RetirePreKey(ctx context.Context, clientID, kind string, k *unhidra.SignedPreKey, at time.Time) error
	// AddPreKeys stores one-time prekeys; an id the client holds already
	// (of the same kind) with the same key is skipped, with another key is
	// EConflict.
	AddPreKeys(ctx context.Context, clientID string, x []unhidra.PreKey, pq []unhidra.SignedPreKey, at time.Time) error
	// DeletePreKeys deletes every one-time prekey of the client.
	DeletePreKeys(ctx context.Context, clientID string) error
	// PopPreKey deletes and returns the client's oldest one-time X25519
	// prekey, or nil when it has none. Concurrent pops never return the
	// same key.
	PopPreKey(ctx context.Context, clientID string) (*unhidra.PreKey, error)
	// PopPQPreKey is PopPreKey for the post-quantum one-time prekeys.
	PopPQPreKey(ctx context.Context, clientID string) (*unhidra.SignedPreKey, error)
	// SetMasterKey sets the user's master key and clears their client list
	// (signed by the previous master key, if any).
	SetMasterKey(ctx context.Context, userID string, key []byte, at time.Time) error
	// SetClientList stores the user's signed client list.
	SetClientList(ctx context.Context, userID string, list *unhidra.ClientList) error
	// PutBackup stores b if the user has no backup or one of a lower
	// version, and reports whether it did.
	PutBackup(ctx context.Context, userID string, b *unhidra.KeyBackup) (bool, error)
	// DeleteBackup deletes the user's backup and reports whether there was
	// one.
	DeleteBackup(ctx context.Context, userID string) (bool, error)
	// AddToDevice stores messages.
	AddToDevice(ctx context.Context, msgs []*unhidra.ToDeviceMessage) error
	// Audit appends audit events in the transaction.
	Audit(ctx context.Context, events ...*audit.Event) error
	// Allow decides the rate limit l for key inside the transaction when
	// l is the store's kind of shared limiter (the count then commits or
	// rolls back with the transaction), else with l.Allow.
	Allow(ctx context.Context, l Limiter, key string) (ok bool, retryAfter time.Duration, err error)
}
