// Package e2eeclient is the end-to-end encryption of a Go client install
// (docs/protocol.md): its keys and its ratchet and sender-key states in a
// state directory, its registration with the server's key directory,
// pairwise sessions over the to-device inbox, and the sender keys that
// encrypt its messages in encrypted channels and DMs. Unlike e2ee/, it does
// I/O: files and the API through client.Client.
package e2eeclient

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/e2ee"
)

// Lifetimes and thresholds (docs/protocol.md "Prekeys and bundles").
const (
	PrekeyRotation  = 7 * 24 * time.Hour
	PrekeyGrace     = 30 * 24 * time.Hour
	OneTimeLow      = 20 // refill below this many one-time prekeys
	OneTimeBatch    = 50 // uploaded at a time
	KeysCacheMaxAge = 5 * time.Minute
)

// Client is one client install's end-to-end encryption. Its methods are
// safe for concurrent use, also by several processes sharing the state
// directory.
type Client struct {
	api  *client.Client
	st   *store
	acct *account
	keys *e2ee.ClientKeys
	// Rand and Now may be replaced by tests.
	Rand io.Reader
	Now  func() time.Time
}

type prekeyPriv struct {
	ID        uint32    `json:"id"`
	Priv      []byte    `json:"priv"`
	CreatedAt time.Time `json:"created_at"`
	RetiredAt time.Time `json:"retired_at,omitzero"`
}

// account is the install's long-term private state (account.json).
type account struct {
	UserID     string                `json:"user_id"`
	ClientID   string                `json:"client_id"`
	Keys       []byte                `json:"keys"`
	MasterSeed []byte                `json:"master_seed,omitempty"`
	NextID     uint32                `json:"next_id"`
	SPK        prekeyPriv            `json:"spk"`
	PQ         prekeyPriv            `json:"pq"`
	LastResort prekeyPriv            `json:"last_resort"`
	OldSPK     []prekeyPriv          `json:"old_spk,omitempty"`
	OldPQ      []prekeyPriv          `json:"old_pq,omitempty"`
	OneTime    map[uint32][]byte     `json:"one_time"`
	SeenBase   map[string]time.Time  `json:"seen_base,omitempty"`
	Registered bool                  `json:"registered"`
	Peers      map[string]*peerState `json:"peers"`
	// Preferred names, per peer client, the base key of the session to
	// send with: the one that last decrypted something.
	Preferred map[string]string `json:"preferred,omitempty"`
}

// peerState is what the install knows of another user's keys (and its
// own user's): the trusted master key (first seen, or verified), the
// highest client-list version seen, and the identities last verified.
type peerState struct {
	MasterKey   []byte                          `json:"master_key,omitempty"`
	Verified    bool                            `json:"verified,omitempty"`
	ListVersion uint64                          `json:"list_version"`
	Clients     map[string]*e2ee.ClientIdentity `json:"clients"`
	InList      map[string]bool                 `json:"in_list"`
	FetchedAt   time.Time                       `json:"fetched_at"`
	// Warnings are key changes seen and not yet shown.
	Warnings []string `json:"warnings,omitempty"`
}

// Open loads the install's state from dir or makes a new install there,
// and registers it with the key directory when it is not yet (or its
// registration is incomplete). api must be signed in.
func Open(ctx context.Context, api *client.Client, dir string) (*Client, error) {
	st, err := openStore(dir)
	if err != nil {
		return nil, err
	}
	c := &Client{api: api, st: st, Rand: rand.Reader, Now: time.Now}
	me, err := api.Me(ctx)
	if err != nil {
		st.close()
		return nil, err
	}
	unlock := st.acquire()
	defer unlock()
	if err := c.load(me.ID); err != nil {
		st.close()
		return nil, err
	}
	if err := c.register(ctx, false); err != nil {
		st.close()
		return nil, err
	}
	return c, nil
}

// Close releases the state directory.
func (c *Client) Close() error { return c.st.close() }

// UserID and ClientID name the install.
func (c *Client) UserID() string   { return c.acct.UserID }
func (c *Client) ClientID() string { return c.acct.ClientID }

// Identity is the install's public identity.
func (c *Client) Identity() e2ee.ClientIdentity { return c.keys.Public() }

// API is the signed-in SDK client.
func (c *Client) API() *client.Client { return c.api }

func (c *Client) load(userID string) error {
	a := &account{}
	ok, err := c.st.readJSON("account.json", a)
	if err != nil {
		return err
	}
	if ok {
		if a.UserID != userID {
			return fmt.Errorf("e2eeclient: the state directory belongs to another user (%s)", a.UserID)
		}
		k, err := e2ee.UnmarshalClientKeys(a.Keys)
		if err != nil {
			return err
		}
		c.acct, c.keys = a, k
		return nil
	}
	var idb [8]byte
	if _, err := io.ReadFull(c.Rand, idb[:]); err != nil {
		return err
	}
	a.UserID, a.ClientID = userID, "cli-"+hex.EncodeToString(idb[:])
	k, err := e2ee.GenerateClientKeys(c.Rand, a.UserID, a.ClientID)
	if err != nil {
		return err
	}
	if a.Keys, err = k.MarshalBinary(); err != nil {
		return err
	}
	a.NextID = 1
	a.OneTime = map[uint32][]byte{}
	a.Peers = map[string]*peerState{}
	c.acct, c.keys = a, k
	if err := c.newSignedPrekey(); err != nil {
		return err
	}
	if err := c.newPQPrekey(); err != nil {
		return err
	}
	lr, err := e2ee.GenerateDHKey(c.Rand)
	if err != nil {
		return err
	}
	a.LastResort = prekeyPriv{ID: c.nextID(), Priv: lr.Bytes(), CreatedAt: c.Now()}
	return c.saveAccount()
}

func (c *Client) saveAccount() error { return c.st.writeJSON("account.json", c.acct) }

func (c *Client) nextID() uint32 {
	id := c.acct.NextID
	c.acct.NextID++
	return id
}

func (c *Client) newSignedPrekey() error {
	k, err := e2ee.GenerateDHKey(c.Rand)
	if err != nil {
		return err
	}
	if c.acct.SPK.Priv != nil {
		old := c.acct.SPK
		old.RetiredAt = c.Now()
		c.acct.OldSPK = append(c.acct.OldSPK, old)
	}
	c.acct.SPK = prekeyPriv{ID: c.nextID(), Priv: k.Bytes(), CreatedAt: c.Now()}
	return nil
}

func (c *Client) newPQPrekey() error {
	k, err := e2ee.GenerateKEMKey(c.Rand)
	if err != nil {
		return err
	}
	if c.acct.PQ.Priv != nil {
		old := c.acct.PQ
		old.RetiredAt = c.Now()
		c.acct.OldPQ = append(c.acct.OldPQ, old)
	}
	c.acct.PQ = prekeyPriv{ID: c.nextID(), Priv: k.Seed(), CreatedAt: c.Now()}
	return nil
}

func (c *Client) registration() (client.ClientRegistration, error) {
	id := c.keys.Public()
	spk, err := e2ee.NewDHKey(c.acct.SPK.Priv)
	if err != nil {
		return client.ClientRegistration{}, err
	}
	pq, err := e2ee.NewKEMKey(c.acct.PQ.Priv)
	if err != nil {
		return client.ClientRegistration{}, err
	}
	lr, err := e2ee.NewDHKey(c.acct.LastResort.Priv)
	if err != nil {
		return client.ClientRegistration{}, err
	}
	s := c.keys.SignPrekey(c.acct.SPK.ID, spk)
	p := c.keys.SignPQPrekey(c.acct.PQ.ID, pq)
	l := c.keys.SignPrekey(c.acct.LastResort.ID, lr)
	return client.ClientRegistration{
		IdentityKey: id.IdentityKey[:], SigningKey: id.SigningKey[:], IdentitySig: id.IdentitySig[:],
		SignedPreKey:     &unhidra.SignedPreKey{ID: s.ID, Key: s.Key[:], Sig: s.Sig[:]},
		PQPreKey:         &unhidra.SignedPreKey{ID: p.ID, Key: p.Key[:], Sig: p.Sig[:]},
		LastResortPreKey: &unhidra.SignedPreKey{ID: l.ID, Key: l.Key[:], Sig: l.Sig[:]},
	}, nil
}

// register puts the registration (always after a login, so the session is
// bound to the install), refills one-time prekeys, and on the user's first
// install makes the master key and signs the client list.
func (c *Client) register(ctx context.Context, force bool) error {
	reg, err := c.registration()
	if err != nil {
		return err
	}
	if _, _, err := c.api.RegisterClient(ctx, c.acct.ClientID, reg); err != nil {
		return fmt.Errorf("register client: %w", err)
	}
	if !c.acct.Registered || force {
		c.acct.Registered = true
		if err := c.saveAccount(); err != nil {
			return err
		}
	}
	if err := c.refill(ctx); err != nil {
		return err
	}
	return c.ensureMaster(ctx)
}

func (c *Client) refill(ctx context.Context) error {
	n, err := c.api.PreKeyCount(ctx, c.acct.ClientID)
	if err != nil {
		return err
	}
	if n.OneTimePreKeys >= OneTimeLow {
		return nil
	}
	var up []unhidra.PreKey
	for range OneTimeBatch {
		k, err := e2ee.GenerateDHKey(c.Rand)
		if err != nil {
			return err
		}
		id := c.nextID()
		c.acct.OneTime[id] = k.Bytes()
		pub := k.Public()
		up = append(up, unhidra.PreKey{ID: id, Key: pub[:]})
	}
	// The private halves are saved before the public ones leave.
	if err := c.saveAccount(); err != nil {
		return err
	}
	_, err = c.api.UploadPreKeys(ctx, c.acct.ClientID, up, nil)
	return err
}

// ensureMaster makes the user's master key when the user has none, and
// signs a client list naming this install.
func (c *Client) ensureMaster(ctx context.Context) error {
	uk, err := c.api.UserKeys(ctx, c.acct.UserID)
	if err != nil {
		return err
	}
	if len(uk.MasterKey) != 0 {
		if c.acct.MasterSeed == nil {
			return nil // verified by another install, or not yet
		}
		m, err := e2ee.NewSigningKey(c.acct.MasterSeed)
		if err != nil {
			return err
		}
		pub := m.Public()
		if string(pub[:]) != string(uk.MasterKey) {
			return nil // replaced elsewhere: this install no longer signs
		}
		if uk.ClientList != nil {
			for _, e := range uk.ClientList.Clients {
				if e.ClientID == c.acct.ClientID {
					return nil
				}
			}
		}
		return c.signList(ctx, uk, c.acct.ClientID)
	}
	m, err := e2ee.GenerateSigningKey(c.Rand)
	if err != nil {
		return err
	}
	c.acct.MasterSeed = m.Seed()
	if err := c.saveAccount(); err != nil {
		return err
	}
	pub := m.Public()
	if err := c.api.SetMasterKey(ctx, pub[:], false); err != nil {
		return err
	}
	uk.MasterKey = pub[:]
	return c.signList(ctx, uk, c.acct.ClientID)
}

// signList signs a new client list: the current list's clients, plus add.
func (c *Client) signList(ctx context.Context, uk *unhidra.UserKeys, add string) error {
	m, err := e2ee.NewSigningKey(c.acct.MasterSeed)
	if err != nil {
		return err
	}
	var version uint64 = 1
	entries := map[string]e2ee.SigningPublic{}
	if uk.ClientList != nil {
		version = uk.ClientList.Version + 1
		for _, e := range uk.ClientList.Clients {
			var sk e2ee.SigningPublic
			copy(sk[:], e.SigningKey)
			entries[e.ClientID] = sk
		}
	}
	found := false
	for _, b := range uk.Clients {
		if b.ClientID != add {
			continue
		}
		eb, err := toBundle(b)
		if err != nil {
			return err
		}
		if err := eb.Verify(); err != nil {
			return fmt.Errorf("client %s: %w", add, err)
		}
		entries[add] = eb.SigningKey
		found = true
	}
	if !found {
		return fmt.Errorf("e2eeclient: no client %s in the directory", add)
	}
	live := map[string]bool{}
	for _, b := range uk.Clients {
		live[b.ClientID] = true
	}
	var list []e2ee.ClientListEntry
	for id, sk := range entries {
		if live[id] {
			list = append(list, e2ee.ClientListEntry{ClientID: id, SigningKey: sk})
		}
	}
	signed, err := e2ee.SignClientList(m, c.acct.UserID, version, list)
	if err != nil {
		return err
	}
	out := &unhidra.ClientList{Version: signed.Version, MasterKey: signed.MasterKey[:], Sig: signed.Sig[:]}
	for _, e := range signed.Clients {
		out.Clients = append(out.Clients, unhidra.ClientListEntry{ClientID: e.ClientID, SigningKey: append([]byte(nil), e.SigningKey[:]...)})
	}
	_, err = c.api.SetClientList(ctx, out)
	return err
}

// VerifyOwnClient signs a client list that adds another install of the
// user (after the user compared its ClientFingerprint). Only an install
// holding the master key can.
func (c *Client) VerifyOwnClient(ctx context.Context, clientID string) error {
	defer c.st.acquire()()
	if c.acct.MasterSeed == nil {
		return errors.New("e2eeclient: this install does not hold the master key")
	}
	uk, err := c.api.UserKeys(ctx, c.acct.UserID)
	if err != nil {
		return err
	}
	return c.signList(ctx, uk, clientID)
}

// Maintain refills one-time prekeys, replaces the signed and PQ prekeys
// once a week and forgets retired ones after their grace period.
func (c *Client) Maintain(ctx context.Context) error {
	defer c.st.acquire()()
	now := c.Now()
	rotate := now.Sub(c.acct.SPK.CreatedAt) > PrekeyRotation
	return c.maintain(ctx, now, rotate)
}

// RotatePrekeys replaces the signed and PQ prekeys now.
func (c *Client) RotatePrekeys(ctx context.Context) error {
	defer c.st.acquire()()
	return c.maintain(ctx, c.Now(), true)
}

func (c *Client) maintain(ctx context.Context, now time.Time, rotate bool) error {
	if rotate {
		if err := c.newSignedPrekey(); err != nil {
			return err
		}
		if err := c.newPQPrekey(); err != nil {
			return err
		}
		if err := c.saveAccount(); err != nil {
			return err
		}
	}
	keep := func(l []prekeyPriv) []prekeyPriv {
		var out []prekeyPriv
		for _, p := range l {
			if now.Sub(p.RetiredAt) < PrekeyGrace {
				out = append(out, p)
			}
		}
		return out
	}
	c.acct.OldSPK, c.acct.OldPQ = keep(c.acct.OldSPK), keep(c.acct.OldPQ)
	for b, at := range c.acct.SeenBase {
		if now.Sub(at) > PrekeyRotation+PrekeyGrace {
			delete(c.acct.SeenBase, b)
		}
	}
	if err := c.saveAccount(); err != nil {
		return err
	}
	return c.register(ctx, rotate)
}
