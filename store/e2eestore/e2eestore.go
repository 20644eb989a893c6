// Package e2eestore is the storage of the end-to-end key directory and the
// to-device inbox: it implements keys.Store over the shared store core, on
// SQLite and PostgreSQL alike (tables of migration 0015).
//
// Beyond the core's guarantees:
//
//   - A one-time prekey is taken by one DELETE … RETURNING of the row a
//     subquery picks, on PostgreSQL FOR UPDATE SKIP LOCKED: concurrent
//     fetches, on any node, each take a different prekey and never the same
//     one twice; on SQLite the single writer serializes them.
//   - An acknowledged to-device message is a deleted row, and on SQLite the
//     deletion counts as erased content (store.Conn.Erased), so the
//     write-ahead log that still held its ciphertext is checkpointed soon.
//   - Every read is written once, on reader, over a store.Conn: Store embeds
//     one on the read pool and a transaction one on its own Conn.
package e2eestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/keys"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
	"github.com/unhidra/unhidra/store/ratestore"
)

// Kinds of one-time prekeys in e2ee_prekeys.
const (
	kindX25519 = "x25519"
	kindMLKEM  = "mlkem768"
)

// Store implements keys.Store on a store.DB. It is safe for concurrent use.
type Store struct {
	reader
	db *store.DB
}

var _ keys.Store = (*Store)(nil)

type reader struct{ c store.Conn }

type tx struct{ reader }

var _ keys.Tx = tx{}

// New returns the store over db. Closing db is the caller's.
func New(db *store.DB) *Store { return &Store{reader: reader{c: db.Read()}, db: db} }

// Tx runs fn in one write transaction, which also writes the audit events
// attached to ctx (audit.With).
func (s *Store) Tx(ctx context.Context, fn func(keys.Tx) error) error {
	return auditstore.Tx(ctx, s.db, func(c store.Conn) error { return fn(tx{reader{c: c}}) })
}

// wrap prefixes errors that are not contract errors with op.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var ue *unhidra.Error
	if errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

const clientColumns = `id, user_id, identity_key, signing_key, identity_sig, spk_id, spk_key, spk_sig,
	pq_id, pq_key, pq_sig, lr_id, lr_key, lr_sig, created_at, updated_at, removed_at`

func signed(id sql.NullInt64, key, sig []byte) *unhidra.SignedPreKey {
	if !id.Valid || key == nil {
		return nil
	}
	return &unhidra.SignedPreKey{ID: uint32(id.Int64), Key: key, Sig: sig}
}

func scanClient(sc store.Scanner) (*keys.Client, error) {
	var c keys.Client
	var spkID, pqID, lrID, removed sql.NullInt64
	var spkKey, spkSig, pqKey, pqSig, lrKey, lrSig []byte
	var created, updated int64
	if err := sc.Scan(&c.ClientID, &c.UserID, &c.IdentityKey, &c.SigningKey, &c.IdentitySig, &spkID, &spkKey, &spkSig,
		&pqID, &pqKey, &pqSig, &lrID, &lrKey, &lrSig, &created, &updated, &removed); err != nil {
		return nil, err
	}
	c.SignedPreKey = signed(spkID, spkKey, spkSig)
	c.PQPreKey = signed(pqID, pqKey, pqSig)
	c.LastResortPreKey = signed(lrID, lrKey, lrSig)
	c.CreatedAt, c.UpdatedAt, c.RemovedAt = store.Time(created), store.Time(updated), store.TimePtr(removed)
	return &c, nil
}

// signedArgs are the three columns of an optional signed prekey.
func signedArgs(k *unhidra.SignedPreKey) (id, key, sig any) {
	if k == nil {
		return nil, nil, nil
	}
	return int64(k.ID), k.Key, k.Sig
}

func (r reader) UserByID(ctx context.Context, id string) (*unhidra.User, error) {
	return store.UserByID(ctx, r.c, id)
}

func (r reader) client(ctx context.Context, id, lock string) (*keys.Client, error) {
	c, err := scanClient(r.c.QueryRow(ctx, `SELECT `+clientColumns+` FROM e2ee_clients WHERE id = ?`+lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.NotFound("client")
	}
	return c, wrap("client", err)
}

func (r reader) Client(ctx context.Context, id string) (*keys.Client, error) {
	return r.client(ctx, id, "")
}

func (r reader) Clients(ctx context.Context, userID string) ([]*keys.Client, error) {
	rows, err := r.c.Query(ctx, `SELECT `+clientColumns+` FROM e2ee_clients
		WHERE user_id = ? AND removed_at IS NULL ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("clients: %w", err)
	}
	return store.Collect(rows, "clients", scanClient)
}

func (r reader) ClientsByID(ctx context.Context, ids []string) ([]*keys.Client, error) {
	cond, arg := r.c.InList("id", ids)
	rows, err := r.c.Query(ctx, `SELECT `+clientColumns+` FROM e2ee_clients WHERE `+cond, arg)
	if err != nil {
		return nil, fmt.Errorf("clients by id: %w", err)
	}
	return store.Collect(rows, "clients by id", scanClient)
}

func (r reader) PreKeyCounts(ctx context.Context, clientID string) (unhidra.PreKeyCounts, error) {
	var n unhidra.PreKeyCounts
	err := r.c.QueryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM e2ee_prekeys WHERE client_id = ? AND kind = ?),
		(SELECT COUNT(*) FROM e2ee_prekeys WHERE client_id = ? AND kind = ?)`,
		clientID, kindX25519, clientID, kindMLKEM).Scan(&n.OneTimePreKeys, &n.PQOneTimePreKeys)
	return n, wrap("prekey counts", err)
}

func (r reader) RetiredPreKeys(ctx context.Context, clientID string) ([]unhidra.RetiredPreKey, error) {
	rows, err := r.c.Query(ctx, `SELECT kind, key_id, retired_at FROM e2ee_retired_prekeys
		WHERE client_id = ? ORDER BY retired_at, kind, key_id`, clientID)
	if err != nil {
		return nil, fmt.Errorf("retired prekeys: %w", err)
	}
	return store.Collect(rows, "retired prekeys", func(sc store.Scanner) (unhidra.RetiredPreKey, error) {
		var k unhidra.RetiredPreKey
		var id, at int64
		err := sc.Scan(&k.Kind, &id, &at)
		k.ID, k.RetiredAt = uint32(id), store.Time(at)
		return k, err
	})
}

func (r reader) userKeys(ctx context.Context, userID, lock string) ([]byte, *unhidra.ClientList, error) {
	var master, sig []byte
	var list sql.NullString
	var version, listAt sql.NullInt64
	err := r.c.QueryRow(ctx, `SELECT master_key, client_list, client_list_version, client_list_sig, client_list_at
		FROM e2ee_user_keys WHERE user_id = ?`+lock, userID).Scan(&master, &list, &version, &sig, &listAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, fmt.Errorf("user keys: %w", err)
	}
	if !list.Valid || !listAt.Valid || !version.Valid {
		return master, nil, nil
	}
	cl := &unhidra.ClientList{UserID: userID, Version: uint64(version.Int64), MasterKey: master, Sig: sig, UpdatedAt: store.Time(listAt.Int64)}
	if err := json.Unmarshal([]byte(list.String), &cl.Clients); err != nil {
		return nil, nil, fmt.Errorf("user keys: client list: %w", err)
	}
	return master, cl, nil
}

func (r reader) UserKeys(ctx context.Context, userID string) ([]byte, *unhidra.ClientList, error) {
	return r.userKeys(ctx, userID, "")
}

func (r reader) Backup(ctx context.Context, userID string) (*unhidra.KeyBackup, error) {
	var b unhidra.KeyBackup
	var at int64
	err := r.c.QueryRow(ctx, `SELECT version, auth_data, data, updated_at FROM e2ee_backups WHERE user_id = ?`, userID).
		Scan(&b.Version, &b.AuthData, &b.Data, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.NotFound("backup")
	} else if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if b.AuthData == nil {
		b.AuthData = []byte{}
	}
	b.UpdatedAt = store.Time(at)
	return &b, nil
}

const toDeviceColumns = `id, user_id, client_id, from_user, from_client, ciphertext, created_at, expires_at`

func scanToDevice(sc store.Scanner) (*unhidra.ToDeviceMessage, error) {
	var m unhidra.ToDeviceMessage
	var created, expires int64
	if err := sc.Scan(&m.ID, &m.UserID, &m.ClientID, &m.FromUser, &m.FromClient, &m.Ciphertext, &created, &expires); err != nil {
		return nil, err
	}
	m.CreatedAt, m.ExpiresAt = store.Time(created), store.Time(expires)
	return &m, nil
}

func (r reader) ToDevice(ctx context.Context, userID, clientID string, ids []string, after string, now time.Time, limit int) ([]*unhidra.ToDeviceMessage, error) {
	q := `SELECT ` + toDeviceColumns + ` FROM to_device WHERE client_id = ? AND user_id = ? AND expires_at > ? AND `
	args := []any{clientID, userID, store.Micros(now)}
	if ids != nil {
		cond, arg := r.c.InList("id", ids)
		q += cond
		args = append(args, arg)
	} else {
		q += `id > ?`
		args = append(args, after)
	}
	rows, err := r.c.Query(ctx, q+` ORDER BY id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("to-device: %w", err)
	}
	return store.Collect(rows, "to-device", scanToDevice)
}

func (r reader) CountToDevice(ctx context.Context, clientIDs []string) (map[string]int, error) {
	cond, arg := r.c.InList("client_id", clientIDs)
	rows, err := r.c.Query(ctx, `SELECT client_id, COUNT(*) FROM to_device WHERE `+cond+` GROUP BY client_id`, arg)
	if err != nil {
		return nil, fmt.Errorf("count to-device: %w", err)
	}
	defer rows.Close()
	out := make(map[string]int, len(clientIDs))
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("count to-device: %w", err)
		}
		out[id] = n
	}
	return out, wrap("count to-device", rows.Err())
}

// AckToDevice deletes acknowledged messages.
func (s *Store) AckToDevice(ctx context.Context, userID, clientID string, ids []string) (int, error) {
	var n int64
	err := s.db.InTx(ctx, func(c store.Conn) error {
		cond, arg := c.InList("id", ids)
		var err error
		n, err = c.ExecN(ctx, `DELETE FROM to_device WHERE client_id = ? AND user_id = ? AND `+cond, clientID, userID, arg)
		if n > 0 {
			c.Erased()
		}
		return err
	})
	return int(n), wrap("ack to-device", err)
}

// Sweep deletes expired messages and retired prekeys past their grace.
func (s *Store) Sweep(ctx context.Context, now, retiredBefore time.Time) (messages, prekeys int64, err error) {
	err = s.db.InTx(ctx, func(c store.Conn) error {
		var err error
		if messages, err = c.ExecN(ctx, `DELETE FROM to_device WHERE expires_at <= ?`, store.Micros(now)); err != nil {
			return err
		}
		if messages > 0 {
			c.Erased()
		}
		prekeys, err = c.ExecN(ctx, `DELETE FROM e2ee_retired_prekeys WHERE retired_at < ?`, store.Micros(retiredBefore))
		return err
	})
	return messages, prekeys, wrap("sweep keys", err)
}

// Writes (keys.Tx).

func (t tx) LockClient(ctx context.Context, id string) (*keys.Client, error) {
	return t.client(ctx, id, t.c.ForUpdate())
}

func (t tx) LockUser(ctx context.Context, userID string) ([]byte, *unhidra.ClientList, error) {
	// The row exists before it is locked: under READ COMMITTED a lock on a
	// row not yet there would lock nothing, and two first writers would
	// both go ahead. A concurrent insert of the same row waits for this
	// one's commit.
	if _, err := t.c.Exec(ctx, `INSERT INTO e2ee_user_keys (user_id) VALUES (?) ON CONFLICT (user_id) DO NOTHING`, userID); err != nil {
		if store.IsForeignKeyViolation(err) {
			return nil, nil, store.NotFound("user")
		}
		return nil, nil, fmt.Errorf("lock user keys: %w", err)
	}
	return t.userKeys(ctx, userID, t.c.ForUpdate())
}

func (t tx) InsertClient(ctx context.Context, c *keys.Client) error {
	spkID, spkKey, spkSig := signedArgs(c.SignedPreKey)
	pqID, pqKey, pqSig := signedArgs(c.PQPreKey)
	lrID, lrKey, lrSig := signedArgs(c.LastResortPreKey)
	_, err := t.c.Exec(ctx, `INSERT INTO e2ee_clients (`+clientColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
		c.ClientID, c.UserID, c.IdentityKey, c.SigningKey, c.IdentitySig, spkID, spkKey, spkSig,
		pqID, pqKey, pqSig, lrID, lrKey, lrSig, store.Micros(c.CreatedAt), store.Micros(c.UpdatedAt))
	switch {
	case store.IsUniqueViolation(err):
		return &unhidra.Error{Code: unhidra.EConflict, Message: "client id " + c.ClientID + " is taken: choose another", Err: err}
	case store.IsForeignKeyViolation(err):
		return &unhidra.Error{Code: unhidra.ENotFound, Message: "user not found", Err: err}
	}
	return wrap("insert client", err)
}

func (t tx) UpdateClient(ctx context.Context, c *keys.Client) error {
	spkID, spkKey, spkSig := signedArgs(c.SignedPreKey)
	pqID, pqKey, pqSig := signedArgs(c.PQPreKey)
	lrID, lrKey, lrSig := signedArgs(c.LastResortPreKey)
	n, err := t.c.ExecN(ctx, `UPDATE e2ee_clients SET identity_key = ?, signing_key = ?, identity_sig = ?,
		spk_id = ?, spk_key = ?, spk_sig = ?, pq_id = ?, pq_key = ?, pq_sig = ?, lr_id = ?, lr_key = ?, lr_sig = ?, updated_at = ?
		WHERE id = ?`,
		c.IdentityKey, c.SigningKey, c.IdentitySig, spkID, spkKey, spkSig, pqID, pqKey, pqSig, lrID, lrKey, lrSig,
		store.Micros(c.UpdatedAt), c.ClientID)
	if err == nil && n == 0 {
		return store.NotFound("client")
	}
	return wrap("update client", err)
}

func (t tx) RemoveClient(ctx context.Context, id string, at time.Time) error {
	for _, q := range []string{
		`DELETE FROM e2ee_prekeys WHERE client_id = ?`,
		`DELETE FROM e2ee_retired_prekeys WHERE client_id = ?`,
		`DELETE FROM to_device WHERE client_id = ?`,
	} {
		if _, err := t.c.Exec(ctx, q, id); err != nil {
			return fmt.Errorf("remove client: %w", err)
		}
	}
	t.c.Erased()
	n, err := t.c.ExecN(ctx, `UPDATE e2ee_clients SET identity_key = NULL, signing_key = NULL, identity_sig = NULL,
		spk_id = NULL, spk_key = NULL, spk_sig = NULL, pq_id = NULL, pq_key = NULL, pq_sig = NULL,
		lr_id = NULL, lr_key = NULL, lr_sig = NULL, updated_at = ?, removed_at = ? WHERE id = ?`,
		store.Micros(at), store.Micros(at), id)
	if err == nil && n == 0 {
		return store.NotFound("client")
	}
	return wrap("remove client", err)
}

func (t tx) RetirePreKey(ctx context.Context, clientID, kind string, k *unhidra.SignedPreKey, at time.Time) error {
	_, err := t.c.Exec(ctx, `INSERT INTO e2ee_retired_prekeys (client_id, kind, key_id, public_key, sig, retired_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (client_id, kind, key_id) DO UPDATE SET public_key = excluded.public_key, sig = excluded.sig, retired_at = excluded.retired_at`,
		clientID, kind, int64(k.ID), k.Key, k.Sig, store.Micros(at))
	return wrap("retire prekey", err)
}

func (t tx) AddPreKeys(ctx context.Context, clientID string, x []unhidra.PreKey, pq []unhidra.SignedPreKey, at time.Time) error {
	add := func(kind string, id uint32, key, sig []byte) error {
		n, err := t.c.ExecN(ctx, `INSERT INTO e2ee_prekeys (client_id, kind, key_id, public_key, sig, created_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (client_id, kind, key_id) DO NOTHING`,
			clientID, kind, int64(id), key, store.Blob(sig), store.Micros(at))
		if err != nil || n > 0 {
			return wrap("add prekeys", err)
		}
		var have, haveSig []byte
		if err := t.c.QueryRow(ctx, `SELECT public_key, sig FROM e2ee_prekeys WHERE client_id = ? AND kind = ? AND key_id = ?`,
			clientID, kind, int64(id)).Scan(&have, &haveSig); err != nil {
			return fmt.Errorf("add prekeys: %w", err)
		}
		if string(have) != string(key) || string(haveSig) != string(sig) {
			return unhidra.Errorf(unhidra.EConflict, "prekey id %d is held already with another key: give new prekeys new ids", id)
		}
		return nil
	}
	for _, k := range x {
		if err := add(kindX25519, k.ID, k.Key, nil); err != nil {
			return err
		}
	}
	for _, k := range pq {
		if err := add(kindMLKEM, k.ID, k.Key, k.Sig); err != nil {
			return err
		}
	}
	return nil
}

func (t tx) DeletePreKeys(ctx context.Context, clientID string) error {
	_, err := t.c.Exec(ctx, `DELETE FROM e2ee_prekeys WHERE client_id = ?`, clientID)
	return wrap("delete prekeys", err)
}

// pop takes the client's oldest one-time prekey of kind.
func (t tx) pop(ctx context.Context, clientID, kind string) (id uint32, key, sig []byte, ok bool, err error) {
	var id64 int64
	err = t.c.QueryRow(ctx, `DELETE FROM e2ee_prekeys WHERE client_id = ? AND kind = ? AND key_id = (
			SELECT key_id FROM e2ee_prekeys WHERE client_id = ? AND kind = ? ORDER BY created_at, key_id LIMIT 1`+t.c.SkipLocked()+`)
		RETURNING key_id, public_key, sig`, clientID, kind, clientID, kind).Scan(&id64, &key, &sig)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil, false, nil
	} else if err != nil {
		return 0, nil, nil, false, fmt.Errorf("pop prekey: %w", err)
	}
	return uint32(id64), key, sig, true, nil
}

func (t tx) PopPreKey(ctx context.Context, clientID string) (*unhidra.PreKey, error) {
	id, key, _, ok, err := t.pop(ctx, clientID, kindX25519)
	if !ok {
		return nil, err
	}
	return &unhidra.PreKey{ID: id, Key: key}, nil
}

func (t tx) PopPQPreKey(ctx context.Context, clientID string) (*unhidra.SignedPreKey, error) {
	id, key, sig, ok, err := t.pop(ctx, clientID, kindMLKEM)
	if !ok {
		return nil, err
	}
	return &unhidra.SignedPreKey{ID: id, Key: key, Sig: sig}, nil
}

func (t tx) SetMasterKey(ctx context.Context, userID string, key []byte, at time.Time) error {
	_, err := t.c.Exec(ctx, `INSERT INTO e2ee_user_keys (user_id, master_key, master_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET master_key = excluded.master_key, master_at = excluded.master_at,
			client_list = NULL, client_list_version = NULL, client_list_sig = NULL, client_list_at = NULL`,
		userID, key, store.Micros(at))
	if store.IsForeignKeyViolation(err) {
		return store.NotFound("user")
	}
	return wrap("set master key", err)
}

func (t tx) SetClientList(ctx context.Context, userID string, list *unhidra.ClientList) error {
	b, err := json.Marshal(list.Clients)
	if err != nil {
		return fmt.Errorf("set client list: %w", err)
	}
	n, err := t.c.ExecN(ctx, `UPDATE e2ee_user_keys SET client_list = ?, client_list_version = ?, client_list_sig = ?, client_list_at = ? WHERE user_id = ?`,
		string(b), int64(list.Version), list.Sig, store.Micros(list.UpdatedAt), userID)
	if err == nil && n == 0 {
		return store.NotFound("user keys")
	}
	return wrap("set client list", err)
}

func (t tx) PutBackup(ctx context.Context, userID string, b *unhidra.KeyBackup) (bool, error) {
	// One statement decides: on both engines an upsert whose DO UPDATE …
	// WHERE is false changes no row.
	n, err := t.c.ExecN(ctx, `INSERT INTO e2ee_backups (user_id, version, auth_data, data, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, auth_data = excluded.auth_data,
			data = excluded.data, updated_at = excluded.updated_at
		WHERE e2ee_backups.version < excluded.version`,
		userID, b.Version, b.AuthData, b.Data, store.Micros(b.UpdatedAt))
	if store.IsForeignKeyViolation(err) {
		return false, store.NotFound("user")
	}
	if n > 0 {
		t.c.Erased() // the previous backup's bytes
	}
	return n > 0, wrap("put backup", err)
}

func (t tx) DeleteBackup(ctx context.Context, userID string) (bool, error) {
	n, err := t.c.ExecN(ctx, `DELETE FROM e2ee_backups WHERE user_id = ?`, userID)
	if n > 0 {
		t.c.Erased()
	}
	return n > 0, wrap("delete backup", err)
}

func (t tx) AddToDevice(ctx context.Context, msgs []*unhidra.ToDeviceMessage) error {
	for _, m := range msgs {
		if _, err := t.c.Exec(ctx, `INSERT INTO to_device (`+toDeviceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			m.ID, m.UserID, m.ClientID, m.FromUser, m.FromClient, m.Ciphertext, store.Micros(m.CreatedAt), store.Micros(m.ExpiresAt)); err != nil {
			if store.IsForeignKeyViolation(err) {
				return &unhidra.Error{Code: unhidra.ENotFound, Message: "client " + m.ClientID + " not found", Err: err}
			}
			return fmt.Errorf("add to-device: %w", err)
		}
	}
	return nil
}

func (t tx) Audit(ctx context.Context, events ...*audit.Event) error {
	return auditstore.Append(ctx, t.c, events...)
}

func (t tx) Allow(ctx context.Context, l keys.Limiter, key string) (bool, time.Duration, error) {
	if rl, ok := l.(*ratestore.Limiter); ok {
		return rl.AllowIn(ctx, t.c, key)
	}
	return l.Allow(ctx, key)
}
