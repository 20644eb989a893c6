package keys

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/wire"
)

// ClientInput is a client install's registration (PUT
// /api/v1/keys/clients/{client_id}): the whole of it each time, so an
// omitted optional prekey is removed.
type ClientInput struct {
	IdentityKey  string             `json:"identity_key" doc:"X25519 identity key, 32 bytes, standard base64"`
	SigningKey   string             `json:"signing_key" doc:"Ed25519 signing key, 32 bytes, standard base64"`
	IdentitySig  string             `json:"identity_sig" doc:"signature binding the identity key to the signing key, 64 bytes, standard base64"`
	SignedPreKey *SignedPreKeyInput `json:"signed_prekey"`
	// PQPreKey is an ML-KEM-768 encapsulation key, handed out when the
	// post-quantum one-time prekeys run out.
	PQPreKey *SignedPreKeyInput `json:"pq_prekey,omitempty"`
	// LastResortPreKey is an X25519 prekey handed out when the one-time
	// prekeys run out.
	LastResortPreKey *SignedPreKeyInput `json:"last_resort_prekey,omitempty"`
}

func (in *ClientInput) decode() (*unhidra.ClientKeys, error) {
	var c unhidra.ClientKeys
	var err error
	if c.IdentityKey, err = decodeKey("identity_key", in.IdentityKey, unhidra.X25519KeySize); err != nil {
		return nil, err
	}
	if c.SigningKey, err = decodeKey("signing_key", in.SigningKey, unhidra.Ed25519KeySize); err != nil {
		return nil, err
	}
	if c.IdentitySig, err = decodeKey("identity_sig", in.IdentitySig, unhidra.Ed25519SigSize); err != nil {
		return nil, err
	}
	if in.SignedPreKey == nil {
		return nil, unhidra.Errorf(unhidra.EInvalid, "signed_prekey is required")
	}
	if c.SignedPreKey, err = in.SignedPreKey.decode("signed_prekey", unhidra.X25519KeySize); err != nil {
		return nil, err
	}
	if c.PQPreKey, err = in.PQPreKey.decode("pq_prekey", unhidra.MLKEM768KeySize); err != nil {
		return nil, err
	}
	if c.LastResortPreKey, err = in.LastResortPreKey.decode("last_resort_prekey", unhidra.X25519KeySize); err != nil {
		return nil, err
	}
	return &c, nil
}

func sameSigned(a, b *unhidra.SignedPreKey) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.ID == b.ID && bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Sig, b.Sig)
}

// PutClient registers one client install of the caller, or replaces its
// keys, and binds the caller's session to it (the client_id claim of the
// session's next access token). created reports a new registration.
//
// A client id of another user, or of a client its user removed, is
// EConflict. Another identity or signing key for an existing client is a
// key change: it is audited, the client's one-time prekeys (made for the
// old identity) are deleted, and the users who share a channel with the
// caller are told. A new signed or post-quantum prekey (another id)
// retires the old one for RetiredGrace; reusing an id with another key is
// EConflict, unless the identity changed too.
func (s *Service) PutClient(ctx context.Context, clientID string, in ClientInput) (info *unhidra.ClientInfo, created bool, err error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, false, err
	}
	if err := CheckClientID("client_id", clientID); err != nil {
		return nil, false, err
	}
	keys, err := in.decode()
	if err != nil {
		return nil, false, err
	}
	now := s.clock()
	var announce bool
	err = s.cfg.Store.Tx(ctx, func(tx Tx) error {
		announce, created = false, false
		cur, err := tx.LockClient(ctx, clientID)
		if unhidra.ErrorCode(err) == unhidra.ENotFound {
			if _, _, err := tx.LockUser(ctx, p.UserID); err != nil {
				return err
			}
			live, err := tx.Clients(ctx, p.UserID)
			if err != nil {
				return err
			}
			if len(live) >= MaxClientsPerUser {
				return unhidra.Errorf(unhidra.EConflict, "an account may have at most %d clients: remove one first", MaxClientsPerUser)
			}
			c := &Client{ClientKeys: *keys}
			c.ClientID, c.UserID, c.CreatedAt, c.UpdatedAt = clientID, p.UserID, now, now
			if err := tx.InsertClient(ctx, c); err != nil {
				return err
			}
			created, announce = true, true
			return tx.Audit(ctx, s.event(ctx, p, audit.ActionClientRegister, "client", clientID, map[string]string{
				"identity_fp": Fingerprint(keys.IdentityKey), "signing_fp": Fingerprint(keys.SigningKey)}))
		}
		if err != nil {
			return err
		}
		switch {
		case cur.UserID != p.UserID:
			return unhidra.Errorf(unhidra.EConflict, "client id %s is taken: choose another", clientID)
		case cur.RemovedAt != nil:
			return unhidra.Errorf(unhidra.EConflict, "client %s was removed; register this install under a new client id", clientID)
		}
		identity := !bytes.Equal(cur.IdentityKey, keys.IdentityKey) || !bytes.Equal(cur.SigningKey, keys.SigningKey)
		if !identity {
			for _, k := range [...]struct {
				field    string
				old, new *unhidra.SignedPreKey
			}{{"signed_prekey", cur.SignedPreKey, keys.SignedPreKey}, {"pq_prekey", cur.PQPreKey, keys.PQPreKey}} {
				if k.old != nil && k.new != nil && k.old.ID == k.new.ID && !sameSigned(k.old, k.new) {
					return unhidra.Errorf(unhidra.EConflict, "%s.id %d is in use with another key: give a new prekey a new id", k.field, k.new.ID)
				}
			}
		}
		for _, k := range [...]struct {
			kind     string
			old, new *unhidra.SignedPreKey
		}{{unhidra.PreKeySigned, cur.SignedPreKey, keys.SignedPreKey}, {unhidra.PreKeyPQ, cur.PQPreKey, keys.PQPreKey}} {
			if k.old != nil && !sameSigned(k.old, k.new) {
				if err := tx.RetirePreKey(ctx, clientID, k.kind, k.old, now); err != nil {
					return err
				}
			}
		}
		if !identity && bytes.Equal(cur.IdentitySig, keys.IdentitySig) && sameSigned(cur.SignedPreKey, keys.SignedPreKey) &&
			sameSigned(cur.PQPreKey, keys.PQPreKey) && sameSigned(cur.LastResortPreKey, keys.LastResortPreKey) {
			return nil // the same registration again: nothing to write
		}
		c := &Client{ClientKeys: *keys}
		c.ClientID, c.UserID, c.CreatedAt, c.UpdatedAt = clientID, p.UserID, cur.CreatedAt, now
		if err := tx.UpdateClient(ctx, c); err != nil {
			return err
		}
		if !identity {
			return nil
		}
		announce = true
		if err := tx.DeletePreKeys(ctx, clientID); err != nil {
			return err
		}
		return tx.Audit(ctx, s.event(ctx, p, audit.ActionKeyChange, "client", clientID, map[string]string{
			"what":            "client_identity",
			"old_identity_fp": Fingerprint(cur.IdentityKey), "identity_fp": Fingerprint(keys.IdentityKey),
			"old_signing_fp": Fingerprint(cur.SigningKey), "signing_fp": Fingerprint(keys.SigningKey)}))
	})
	if err != nil {
		return nil, false, err
	}
	if s.cfg.Sessions != nil {
		if err := s.cfg.Sessions.BindClient(ctx, clientID); err != nil {
			return nil, false, err
		}
	}
	if announce {
		s.announceKeys(ctx, p.UserID, clientID)
	}
	info, err = s.clientInfo(ctx, p.UserID, clientID)
	return info, created, err
}

// RemoveClient removes one of the caller's client installs: its keys,
// prekeys and inbox are deleted, and its id stays reserved. Someone
// else's client, or one removed already, is ENotFound.
func (s *Service) RemoveClient(ctx context.Context, clientID string) error {
	p, err := writer(ctx)
	if err != nil {
		return err
	}
	if err := CheckClientID("client_id", clientID); err != nil {
		return err
	}
	err = s.cfg.Store.Tx(ctx, func(tx Tx) error {
		cur, err := tx.LockClient(ctx, clientID)
		if err == nil && (cur.UserID != p.UserID || cur.RemovedAt != nil) {
			err = unhidra.Errorf(unhidra.ENotFound, "no such client")
		}
		if err != nil {
			return err
		}
		if err := tx.RemoveClient(ctx, clientID, s.clock()); err != nil {
			return err
		}
		return tx.Audit(ctx, s.event(ctx, p, audit.ActionClientRemove, "client", clientID, map[string]string{
			"identity_fp": Fingerprint(cur.IdentityKey)}))
	})
	if err != nil {
		return err
	}
	s.announceKeys(ctx, p.UserID, clientID)
	return nil
}

// ownClient returns the caller's live client id, or ENotFound.
func ownClient(ctx context.Context, r Reader, userID, clientID string) (*Client, error) {
	if CheckClientID("client_id", clientID) != nil {
		return nil, unhidra.Errorf(unhidra.ENotFound, "no such client")
	}
	c, err := r.Client(ctx, clientID)
	if err == nil && (c.UserID != userID || c.RemovedAt != nil) {
		err = unhidra.Errorf(unhidra.ENotFound, "no such client")
	}
	return c, err
}

func (s *Service) clientInfo(ctx context.Context, userID, clientID string) (*unhidra.ClientInfo, error) {
	c, err := ownClient(ctx, s.cfg.Store, userID, clientID)
	if err != nil {
		return nil, err
	}
	return s.info(ctx, c)
}

func (s *Service) info(ctx context.Context, c *Client) (*unhidra.ClientInfo, error) {
	counts, err := s.cfg.Store.PreKeyCounts(ctx, c.ClientID)
	if err != nil {
		return nil, err
	}
	retired, err := s.cfg.Store.RetiredPreKeys(ctx, c.ClientID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	live := retired[:0]
	for _, r := range retired {
		r.ExpiresAt = r.RetiredAt.Add(RetiredGrace)
		if r.ExpiresAt.After(now) {
			live = append(live, r)
		}
	}
	return &unhidra.ClientInfo{ClientKeys: c.ClientKeys, PreKeyCounts: counts, RetiredPreKeys: orEmpty(live)}, nil
}

// Client returns one of the caller's client installs as its owner sees
// it; anyone else's is ENotFound.
func (s *Service) Client(ctx context.Context, clientID string) (*unhidra.ClientInfo, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.clientInfo(ctx, p.UserID, clientID)
}

// Clients lists the caller's client installs, oldest first.
func (s *Service) Clients(ctx context.Context) ([]*unhidra.ClientInfo, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.cfg.Store.Clients(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]*unhidra.ClientInfo, 0, len(list))
	for _, c := range list {
		info, err := s.info(ctx, c)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// PreKeysInput is an upload of one-time prekeys.
type PreKeysInput struct {
	OneTimePreKeys []PreKeyInput `json:"one_time_prekeys,omitempty"`
	// PQOneTimePreKeys are signed ML-KEM-768 one-time prekeys.
	PQOneTimePreKeys []SignedPreKeyInput `json:"pq_one_time_prekeys,omitempty"`
}

// AddPreKeys appends one-time prekeys to one of the caller's clients and
// returns how many it now holds. At most MaxPreKeysPerPut of each kind per
// call and MaxPreKeysStored held (EInvalid past either; nothing is stored
// then); an id uploaded again with the same key is skipped, with another
// key is EConflict.
func (s *Service) AddPreKeys(ctx context.Context, clientID string, in PreKeysInput) (unhidra.PreKeyCounts, error) {
	var none unhidra.PreKeyCounts
	p, err := writer(ctx)
	if err != nil {
		return none, err
	}
	if len(in.OneTimePreKeys) > MaxPreKeysPerPut || len(in.PQOneTimePreKeys) > MaxPreKeysPerPut {
		return none, unhidra.Errorf(unhidra.EInvalid, "at most %d prekeys of each kind per upload", MaxPreKeysPerPut)
	}
	x := make([]unhidra.PreKey, 0, len(in.OneTimePreKeys))
	seen := map[uint32]bool{}
	for i, k := range in.OneTimePreKeys {
		b, err := decodeKey(indexed("one_time_prekeys", i, "key"), k.Key, unhidra.X25519KeySize)
		if err != nil {
			return none, err
		}
		if seen[k.ID] {
			return none, unhidra.Errorf(unhidra.EInvalid, "one_time_prekeys: id %d appears twice", k.ID)
		}
		seen[k.ID] = true
		x = append(x, unhidra.PreKey{ID: k.ID, Key: b})
	}
	pq := make([]unhidra.SignedPreKey, 0, len(in.PQOneTimePreKeys))
	clear(seen)
	for i := range in.PQOneTimePreKeys {
		k, err := in.PQOneTimePreKeys[i].decode(indexed("pq_one_time_prekeys", i, ""), unhidra.MLKEM768KeySize)
		if err != nil {
			return none, err
		}
		if seen[k.ID] {
			return none, unhidra.Errorf(unhidra.EInvalid, "pq_one_time_prekeys: id %d appears twice", k.ID)
		}
		seen[k.ID] = true
		pq = append(pq, *k)
	}
	var counts unhidra.PreKeyCounts
	err = s.cfg.Store.Tx(ctx, func(tx Tx) error {
		c, err := tx.LockClient(ctx, clientID)
		if err == nil && (c.UserID != p.UserID || c.RemovedAt != nil) {
			err = unhidra.Errorf(unhidra.ENotFound, "no such client")
		}
		if err != nil {
			return err
		}
		if err := tx.AddPreKeys(ctx, clientID, x, pq, s.clock()); err != nil {
			return err
		}
		if counts, err = tx.PreKeyCounts(ctx, clientID); err != nil {
			return err
		}
		if counts.OneTimePreKeys > MaxPreKeysStored || counts.PQOneTimePreKeys > MaxPreKeysStored {
			return unhidra.Errorf(unhidra.EInvalid, "a client holds at most %d prekeys of each kind (it has %d and %d now with this upload)",
				MaxPreKeysStored, counts.OneTimePreKeys, counts.PQOneTimePreKeys)
		}
		return nil
	})
	return counts, err
}

// PreKeyCount returns how many one-time prekeys one of the caller's
// clients has left, so it can upload more when few remain.
func (s *Service) PreKeyCount(ctx context.Context, clientID string) (unhidra.PreKeyCounts, error) {
	p, err := caller(ctx)
	if err != nil {
		return unhidra.PreKeyCounts{}, err
	}
	if _, err := ownClient(ctx, s.cfg.Store, p.UserID, clientID); err != nil {
		return unhidra.PreKeyCounts{}, err
	}
	return s.cfg.Store.PreKeyCounts(ctx, clientID)
}

// announceKeys tells the users who share a channel with userID that their
// keys changed: a keys_changed frame on each of userID's channels. Best
// effort: the change is durable and a client that missed the frame sees
// it at its next fetch.
func (s *Service) announceKeys(ctx context.Context, userID, clientID string) {
	if s.cfg.Bus == nil || s.cfg.Channels == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	chans, err := s.cfg.Channels.ChannelIDsOf(ctx, userID)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "keys_changed not announced", slog.String("user_id", userID), slog.Any("err", err))
		return
	}
	at := time.Now().UnixMicro()
	for _, ch := range chans {
		ev := wire.Event{Type: wire.TypeKeysChanged, ChannelID: ch, UserID: userID, At: at, Frame: wire.NewKeysChanged(ch, userID, clientID)}
		if err := s.cfg.Bus.Publish(ctx, wire.ChannelEphemeralSubject(ch), ev.Append(nil)); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "keys_changed not announced", slog.String("user_id", userID), slog.Any("err", err))
			return
		}
	}
}

// indexed names an element of a list field in errors: prekeys[3].key.
func indexed(list string, i int, field string) string {
	s := list + "[" + strconv.Itoa(i) + "]"
	if field != "" {
		s += "." + field
	}
	return s
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
