package keys

import (
	"bytes"
	"context"
	"math"
	"strconv"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
)

// SetMasterKey sets the caller's master signing key (Ed25519), which signs
// their client list. It is set once: the same key again changes nothing,
// another key is EConflict unless replace is true, and replacing it is a
// key change (audited, announced) that also drops the client list signed by
// the old key. created reports that the user had no master key before.
func (s *Service) SetMasterKey(ctx context.Context, masterKey string, replace bool) (created bool, err error) {
	p, err := writer(ctx)
	if err != nil {
		return false, err
	}
	key, err := decodeKey("master_key", masterKey, unhidra.Ed25519KeySize)
	if err != nil {
		return false, err
	}
	var changed bool
	err = s.cfg.Store.Tx(ctx, func(tx Tx) error {
		created, changed = false, false
		cur, _, err := tx.LockUser(ctx, p.UserID)
		if err != nil {
			return err
		}
		switch {
		case bytes.Equal(cur, key):
			return nil
		case cur != nil && !replace:
			return unhidra.Errorf(unhidra.EConflict, "a master key is set already; replacing it is a key change everyone sees: pass replace: true")
		}
		if err := tx.SetMasterKey(ctx, p.UserID, key, s.clock()); err != nil {
			return err
		}
		changed, created = true, cur == nil
		if created {
			return tx.Audit(ctx, s.event(ctx, p, audit.ActionMasterKeySet, "user", p.UserID, map[string]string{"master_fp": Fingerprint(key)}))
		}
		return tx.Audit(ctx, s.event(ctx, p, audit.ActionKeyChange, "user", p.UserID, map[string]string{
			"what": "master_key", "old_master_fp": Fingerprint(cur), "master_fp": Fingerprint(key)}))
	})
	if err != nil {
		return false, err
	}
	if changed {
		s.announceKeys(ctx, p.UserID, "")
	}
	return created, nil
}

// ClientListInput is a client list signed by the caller's master key, as
// docs/protocol.md defines it (e2ee.ClientList).
type ClientListInput struct {
	UserID    string                 `json:"user_id,omitempty" doc:"the caller's id, if given"`
	Version   uint64                 `json:"version" doc:"above the stored list's version"`
	MasterKey string                 `json:"master_key" doc:"the caller's master key, which signed the list"`
	Clients   []ClientListEntryInput `json:"clients" doc:"in ascending client_id order"`
	Sig       string                 `json:"sig" doc:"Ed25519 signature by the master key, 64 bytes, standard base64"`
}

// ClientListEntryInput is one entry of a ClientListInput.
type ClientListEntryInput struct {
	ClientID   string `json:"client_id"`
	SigningKey string `json:"signing_key" doc:"the client's Ed25519 signing key, 32 bytes, standard base64"`
}

// SetClientList stores the caller's client list, signed by their master
// key (the server does not check the signature; clients do). The list
// must name the master key the caller set (EConflict otherwise, or when
// none is set), have a version above the stored list's (EConflict), and
// list 1 to MaxClientsPerUser of the caller's live clients in ascending id
// order, each with its registered signing key (EInvalid otherwise).
func (s *Service) SetClientList(ctx context.Context, in ClientListInput) (*unhidra.ClientList, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if in.UserID != "" && in.UserID != p.UserID {
		return nil, unhidra.Errorf(unhidra.EInvalid, "user_id must be yours")
	}
	if in.Version < 1 || in.Version > math.MaxInt64 {
		return nil, unhidra.Errorf(unhidra.EInvalid, "version must be 1 to %d", int64(math.MaxInt64))
	}
	master, err := decodeKey("master_key", in.MasterKey, unhidra.Ed25519KeySize)
	if err != nil {
		return nil, err
	}
	if len(in.Clients) == 0 || len(in.Clients) > MaxClientsPerUser {
		return nil, unhidra.Errorf(unhidra.EInvalid, "clients must list 1 to %d clients", MaxClientsPerUser)
	}
	entries := make([]unhidra.ClientListEntry, len(in.Clients))
	for i, e := range in.Clients {
		if err := CheckClientID(indexed("clients", i, "client_id"), e.ClientID); err != nil {
			return nil, err
		}
		if i > 0 && in.Clients[i-1].ClientID >= e.ClientID {
			return nil, unhidra.Errorf(unhidra.EInvalid, "clients must be in ascending client_id order, each once")
		}
		k, err := decodeKey(indexed("clients", i, "signing_key"), e.SigningKey, unhidra.Ed25519KeySize)
		if err != nil {
			return nil, err
		}
		entries[i] = unhidra.ClientListEntry{ClientID: e.ClientID, SigningKey: k}
	}
	sig, err := decodeKey("sig", in.Sig, unhidra.Ed25519SigSize)
	if err != nil {
		return nil, err
	}
	list := &unhidra.ClientList{UserID: p.UserID, Version: in.Version, MasterKey: master, Clients: entries, Sig: sig, UpdatedAt: s.clock()}
	err = s.cfg.Store.Tx(ctx, func(tx Tx) error {
		cur, old, err := tx.LockUser(ctx, p.UserID)
		if err != nil {
			return err
		}
		switch {
		case cur == nil:
			return unhidra.Errorf(unhidra.EConflict, "set a master key first: it is what signs the client list")
		case !bytes.Equal(cur, master):
			return unhidra.Errorf(unhidra.EConflict, "master_key is not your master key")
		case old != nil && in.Version <= old.Version:
			return unhidra.Errorf(unhidra.EConflict, "the stored client list has version %d: sign a newer one", old.Version)
		}
		live, err := tx.Clients(ctx, p.UserID)
		if err != nil {
			return err
		}
		mine := make(map[string][]byte, len(live))
		for _, c := range live {
			mine[c.ClientID] = c.SigningKey
		}
		for _, e := range entries {
			k, ok := mine[e.ClientID]
			if !ok {
				return unhidra.Errorf(unhidra.EInvalid, "clients: %s is not one of your clients", e.ClientID)
			}
			if !bytes.Equal(k, e.SigningKey) {
				return unhidra.Errorf(unhidra.EInvalid, "clients: %s has another signing key", e.ClientID)
			}
		}
		if err := tx.SetClientList(ctx, p.UserID, list); err != nil {
			return err
		}
		return tx.Audit(ctx, s.event(ctx, p, audit.ActionClientListSet, "user", p.UserID, map[string]string{
			"clients": strconv.Itoa(len(entries)), "version": strconv.FormatUint(in.Version, 10)}))
	})
	if err != nil {
		return nil, err
	}
	s.announceKeys(ctx, p.UserID, "")
	return list, nil
}

// BackupInput is an encrypted key backup as uploaded.
type BackupInput struct {
	Version  int64  `json:"version" doc:"greater than the stored backup's version (1 or more for the first)"`
	AuthData string `json:"auth_data" doc:"what the recovery key checks the backup against, standard base64, at most 4 KiB"`
	Data     string `json:"data" doc:"the encrypted backup, standard base64, at most 4 MiB"`
}

// Backup returns the caller's key backup (ENotFound for none).
func (s *Service) Backup(ctx context.Context) (*unhidra.KeyBackup, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	b, err := s.cfg.Store.Backup(ctx, p.UserID)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil, unhidra.Errorf(unhidra.ENotFound, "no key backup")
	}
	return b, err
}

// PutBackup replaces the caller's key backup with a newer version: a
// version not above the stored one is EConflict, and nothing changes.
func (s *Service) PutBackup(ctx context.Context, in BackupInput) (*unhidra.KeyBackup, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if in.Version < 1 {
		return nil, unhidra.Errorf(unhidra.EInvalid, "version must be 1 or more")
	}
	auth, err := decodeBase64("auth_data", in.AuthData, MaxBackupAuthData)
	if err != nil {
		return nil, err
	}
	data, err := decodeBase64("data", in.Data, MaxBackupData)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, unhidra.Errorf(unhidra.EInvalid, "data is required")
	}
	b := &unhidra.KeyBackup{Version: in.Version, AuthData: auth, Data: data, UpdatedAt: s.clock()}
	err = s.cfg.Store.Tx(ctx, func(tx Tx) error {
		ok, err := tx.PutBackup(ctx, p.UserID, b)
		if err != nil {
			return err
		}
		if !ok {
			return unhidra.Errorf(unhidra.EConflict, "the stored backup's version is %d or higher: upload a newer version", in.Version)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// DeleteBackup deletes the caller's key backup (ENotFound for none).
func (s *Service) DeleteBackup(ctx context.Context) error {
	p, err := writer(ctx)
	if err != nil {
		return err
	}
	return s.cfg.Store.Tx(ctx, func(tx Tx) error {
		ok, err := tx.DeleteBackup(ctx, p.UserID)
		if err == nil && !ok {
			err = unhidra.Errorf(unhidra.ENotFound, "no key backup")
		}
		return err
	})
}
