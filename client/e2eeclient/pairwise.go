package e2eeclient

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/e2ee"
)

func fixed(dst []byte, src []byte, what string) error {
	if len(src) != len(dst) {
		return fmt.Errorf("%w: %s is %d bytes", e2ee.ErrInvalidKey, what, len(src))
	}
	copy(dst, src)
	return nil
}

// toBundle converts a directory bundle to the protocol's. The post-quantum
// one-time prekey is preferred to the PQ prekey; the last-resort X25519
// key stands in for a one-time prekey when none is left (it is signed, and
// checked like the signed prekey).
func toBundle(b *unhidra.ClientBundle) (*e2ee.Bundle, error) {
	var eb e2ee.Bundle
	eb.UserID, eb.ClientID = b.UserID, b.ClientID
	if err := fixed(eb.SigningKey[:], b.SigningKey, "signing_key"); err != nil {
		return nil, err
	}
	if err := fixed(eb.IdentityKey[:], b.IdentityKey, "identity_key"); err != nil {
		return nil, err
	}
	if err := fixed(eb.IdentitySig[:], b.IdentitySig, "identity_sig"); err != nil {
		return nil, err
	}
	if b.SignedPreKey == nil {
		return nil, fmt.Errorf("%w: no signed prekey", e2ee.ErrInvalidKey)
	}
	eb.SignedPrekey.ID = b.SignedPreKey.ID
	if err := fixed(eb.SignedPrekey.Key[:], b.SignedPreKey.Key, "signed_prekey"); err != nil {
		return nil, err
	}
	if err := fixed(eb.SignedPrekey.Sig[:], b.SignedPreKey.Sig, "signed_prekey sig"); err != nil {
		return nil, err
	}
	pq := b.PQOneTimePreKey
	if pq == nil {
		pq = b.PQPreKey
	}
	if pq == nil {
		return nil, fmt.Errorf("%w: no post-quantum prekey", e2ee.ErrInvalidKey)
	}
	eb.PQPrekey.ID = pq.ID
	if err := fixed(eb.PQPrekey.Key[:], pq.Key, "pq_prekey"); err != nil {
		return nil, err
	}
	if err := fixed(eb.PQPrekey.Sig[:], pq.Sig, "pq_prekey sig"); err != nil {
		return nil, err
	}
	switch {
	case b.OneTimePreKey != nil:
		o := &e2ee.OneTimePrekey{ID: b.OneTimePreKey.ID}
		if err := fixed(o.Key[:], b.OneTimePreKey.Key, "one_time_prekey"); err != nil {
			return nil, err
		}
		eb.OneTimePrekey = o
	case b.LastResortPreKey != nil:
		lr := e2ee.SignedPrekey{ID: b.LastResortPreKey.ID}
		if err := fixed(lr.Key[:], b.LastResortPreKey.Key, "last_resort_prekey"); err != nil {
			return nil, err
		}
		if err := fixed(lr.Sig[:], b.LastResortPreKey.Sig, "last_resort_prekey sig"); err != nil {
			return nil, err
		}
		id := eb.ClientIdentity
		if err := lr.Verify(&id); err != nil {
			return nil, fmt.Errorf("last-resort prekey: %w", err)
		}
		eb.OneTimePrekey = &e2ee.OneTimePrekey{ID: lr.ID, Key: lr.Key}
	}
	return &eb, nil
}

// peerClient is one verified client of a user.
type peerClient struct {
	bundle   *e2ee.Bundle
	verified bool // named by the user's signed client list
}

// fetchUser fetches and verifies a user's keys: the client list's
// signature and version against what this install saw before, the master
// key against the trusted one, every bundle's signatures. A bundle that
// fails is left out (a substituted key); a changed master key or identity
// is accepted as unverified and recorded as a warning.
func (c *Client) fetchUser(ctx context.Context, userID string) ([]peerClient, error) {
	uk, err := c.api.UserKeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	ps := c.acct.Peers[userID]
	if ps == nil {
		ps = &peerState{Clients: map[string]*e2ee.ClientIdentity{}}
		c.acct.Peers[userID] = ps
	}
	var list *e2ee.ClientList
	if len(uk.MasterKey) != 0 {
		if ps.MasterKey != nil && !bytes.Equal(ps.MasterKey, uk.MasterKey) {
			ps.Warnings = append(ps.Warnings, "master key changed")
			ps.Verified, ps.ListVersion = false, 0
		}
		ps.MasterKey = append([]byte(nil), uk.MasterKey...)
		if uk.ClientList != nil {
			l := &e2ee.ClientList{UserID: uk.ClientList.UserID, Version: uk.ClientList.Version}
			ok := uk.ClientList.UserID == userID &&
				fixed(l.MasterKey[:], uk.ClientList.MasterKey, "master_key") == nil &&
				fixed(l.Sig[:], uk.ClientList.Sig, "sig") == nil &&
				bytes.Equal(uk.ClientList.MasterKey, uk.MasterKey)
			for _, e := range uk.ClientList.Clients {
				en := e2ee.ClientListEntry{ClientID: e.ClientID}
				ok = ok && fixed(en.SigningKey[:], e.SigningKey, "signing_key") == nil
				l.Clients = append(l.Clients, en)
			}
			if !ok || l.Verify() != nil {
				return nil, fmt.Errorf("%w: the client list of %s", e2ee.ErrBadSignature, userID)
			}
			if l.Version < ps.ListVersion {
				return nil, fmt.Errorf("e2eeclient: the server sent an old client list of %s (version %d, seen %d)", userID, l.Version, ps.ListVersion)
			}
			ps.ListVersion = l.Version
			list = l
		}
	}
	var out []peerClient
	ps.InList = map[string]bool{}
	for _, b := range uk.Clients {
		if b.UserID != userID {
			continue
		}
		eb, err := toBundle(b)
		if err == nil {
			err = eb.Verify()
		}
		if err != nil {
			ps.Warnings = append(ps.Warnings, fmt.Sprintf("client %s: refused bundle (%v)", b.ClientID, err))
			continue
		}
		if old := ps.Clients[b.ClientID]; old != nil && !old.Equal(&eb.ClientIdentity) {
			ps.Warnings = append(ps.Warnings, fmt.Sprintf("client %s: identity changed", b.ClientID))
		}
		id := eb.ClientIdentity
		ps.Clients[b.ClientID] = &id
		v := list != nil && list.Contains(&id)
		ps.InList[b.ClientID] = v
		out = append(out, peerClient{bundle: eb, verified: v})
	}
	live := map[string]bool{}
	for _, p := range out {
		live[p.bundle.ClientID] = true
	}
	for id := range ps.Clients {
		if !live[id] {
			delete(ps.Clients, id)
		}
	}
	ps.FetchedAt = c.Now()
	return out, c.saveAccount()
}

// knownClients returns a user's client identities, fetching them when the
// cache is old or fresh is set.
func (c *Client) knownClients(ctx context.Context, userID string, fresh bool) ([]*e2ee.ClientIdentity, error) {
	ps := c.acct.Peers[userID]
	if fresh || ps == nil || c.Now().Sub(ps.FetchedAt) > KeysCacheMaxAge {
		if _, err := c.fetchUser(ctx, userID); err != nil {
			return nil, err
		}
		ps = c.acct.Peers[userID]
	}
	var out []*e2ee.ClientIdentity
	for _, id := range ps.Clients {
		out = append(out, id)
	}
	return out, nil
}

func peerKey(userID, clientID string) string { return name(userID, clientID) }

func sessionPath(userID, clientID string, base e2ee.DHPublic) string {
	return filepath.Join("sessions", peerKey(userID, clientID)+"."+hex.EncodeToString(base[:]))
}

func (c *Client) loadSession(rel string) (*e2ee.Session, error) {
	b, err := c.st.read(rel)
	if err != nil || b == nil {
		return nil, err
	}
	return e2ee.UnmarshalSession(b)
}

func (c *Client) saveSession(s *e2ee.Session) error {
	b, err := s.MarshalBinary()
	if err != nil {
		return err
	}
	r := s.Remote()
	return c.st.writeState(sessionPath(r.UserID, r.ClientID, s.BaseKey()), b)
}

// sendSession returns the session to send to a peer client with: the
// preferred one, else any, else a new one from a freshly fetched bundle.
func (c *Client) sendSession(ctx context.Context, userID, clientID string) (*e2ee.Session, error) {
	pk := peerKey(userID, clientID)
	if base, ok := c.acct.Preferred[pk]; ok {
		if s, err := c.loadSession(filepath.Join("sessions", pk+"."+base)); err != nil || s != nil {
			return s, err
		}
	}
	files, err := c.st.list("sessions", pk+".")
	if err != nil {
		return nil, err
	}
	if len(files) > 0 {
		return c.loadSession(files[0])
	}
	peers, err := c.fetchUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	for _, p := range peers {
		if p.bundle.ClientID != clientID {
			continue
		}
		s, err := e2ee.Initiate(c.Rand, c.keys, p.bundle)
		if err != nil {
			return nil, err
		}
		if err := c.saveSession(s); err != nil {
			return nil, err
		}
		c.prefer(s)
		return s, c.saveAccount()
	}
	return nil, fmt.Errorf("e2eeclient: %s has no client %s with valid keys", userID, clientID)
}

func (c *Client) prefer(s *e2ee.Session) {
	if c.acct.Preferred == nil {
		c.acct.Preferred = map[string]string{}
	}
	r, b := s.Remote(), s.BaseKey()
	c.acct.Preferred[peerKey(r.UserID, r.ClientID)] = hex.EncodeToString(b[:])
}

type outgoing struct {
	userID, clientID string
	payload          []byte
}

// sendPairwise encrypts each payload in the session of its client and
// sends them in batches of 100. Each session is saved before its
// ciphertext leaves.
func (c *Client) sendPairwise(ctx context.Context, msgs []outgoing) error {
	var batch []client.ToDeviceOut
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := c.api.SendToDevice(ctx, c.acct.ClientID, batch)
		batch = batch[:0]
		return err
	}
	for _, m := range msgs {
		s, err := c.sendSession(ctx, m.userID, m.clientID)
		if err != nil {
			return err
		}
		ct, err := s.Encrypt(c.Rand, m.payload)
		if err != nil {
			return err
		}
		if err := c.saveSession(s); err != nil {
			return err
		}
		env, err := (&e2ee.Envelope{GroupProtocol: e2ee.GroupPairwise, SenderUserID: c.acct.UserID, SenderClientID: c.acct.ClientID, Body: ct}).MarshalBinary()
		if err != nil {
			return err
		}
		batch = append(batch, client.ToDeviceOut{UserID: m.userID, ClientID: m.clientID, Ciphertext: env})
		if len(batch) == 100 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// openPairwise decrypts a to-device message: in the session its base key
// names, or as a new session from a prekey message.
func (c *Client) openPairwise(fromUser, fromClient string, ciphertext []byte, now time.Time) (*e2ee.Session, []byte, error) {
	env, err := e2ee.ParseEnvelope(ciphertext)
	if err != nil {
		return nil, nil, err
	}
	if env.GroupProtocol != e2ee.GroupPairwise || env.SenderUserID != fromUser || env.SenderClientID != fromClient {
		return nil, nil, fmt.Errorf("%w: envelope sender or protocol", e2ee.ErrInvalidMessage)
	}
	typ, err := e2ee.MessageType(env.Body)
	if err != nil {
		return nil, nil, err
	}
	pk := peerKey(fromUser, fromClient)
	if typ == e2ee.TypePrekeyMessage {
		pm, err := e2ee.ParsePrekeyMessage(env.Body)
		if err != nil {
			return nil, nil, err
		}
		if pm.Sender.UserID != fromUser || pm.Sender.ClientID != fromClient {
			return nil, nil, fmt.Errorf("%w: prekey message sender", e2ee.ErrInvalidMessage)
		}
		if s, err := c.loadSession(sessionPath(fromUser, fromClient, pm.BaseKey)); err != nil {
			return nil, nil, err
		} else if s != nil {
			pt, err := s.Decrypt(env.Body, now)
			return s, pt, err
		}
		return c.respond(pm, now)
	}
	files, err := c.st.list("sessions", pk+".")
	if err != nil {
		return nil, nil, err
	}
	var last error = e2ee.ErrWrongSession
	for _, f := range files {
		s, err := c.loadSession(f)
		if err != nil {
			return nil, nil, err
		}
		pt, err := s.Decrypt(env.Body, now)
		if err == nil {
			return s, pt, nil
		}
		last = err
	}
	return nil, nil, last
}

func findPriv(cur prekeyPriv, old []prekeyPriv, id uint32) []byte {
	if cur.ID == id {
		return cur.Priv
	}
	for _, p := range old {
		if p.ID == id {
			return p.Priv
		}
	}
	return nil
}

func (c *Client) respond(pm *e2ee.PrekeyMessage, now time.Time) (*e2ee.Session, []byte, error) {
	base := hex.EncodeToString(pm.BaseKey[:])
	if _, seen := c.acct.SeenBase[base]; seen {
		return nil, nil, fmt.Errorf("%w: prekey message replayed", e2ee.ErrDuplicate)
	}
	spkb := findPriv(c.acct.SPK, c.acct.OldSPK, pm.SignedPrekeyID)
	pqb := findPriv(c.acct.PQ, c.acct.OldPQ, pm.PQPrekeyID)
	if spkb == nil || pqb == nil {
		return nil, nil, e2ee.ErrMissingPrekey
	}
	spk, err := e2ee.NewDHKey(spkb)
	if err != nil {
		return nil, nil, err
	}
	pq, err := e2ee.NewKEMKey(pqb)
	if err != nil {
		return nil, nil, err
	}
	var opk *e2ee.DHKey
	oneTime := false
	if pm.HasOneTimePrekey {
		b, ok := c.acct.OneTime[pm.OneTimePrekeyID]
		if !ok && pm.OneTimePrekeyID == c.acct.LastResort.ID {
			b = c.acct.LastResort.Priv
		} else {
			oneTime = ok
		}
		if b == nil {
			return nil, nil, e2ee.ErrMissingPrekey
		}
		if opk, err = e2ee.NewDHKey(b); err != nil {
			return nil, nil, err
		}
	}
	s, pt, err := e2ee.Respond(c.keys, spk, pq, opk, pm, now)
	if err != nil {
		return nil, nil, err
	}
	if err := c.saveSession(s); err != nil {
		return nil, nil, err
	}
	if oneTime {
		delete(c.acct.OneTime, pm.OneTimePrekeyID)
	} else {
		if c.acct.SeenBase == nil {
			c.acct.SeenBase = map[string]time.Time{}
		}
		c.acct.SeenBase[base] = now
	}
	return s, pt, c.saveAccount()
}

// Sync reads the install's to-device inbox over REST, handles every
// message (sessions, sender keys, key requests) and acknowledges them,
// then retries the channel messages waiting for a key. It returns the
// messages that became readable.
func (c *Client) Sync(ctx context.Context) ([]*Decrypted, error) {
	for {
		msgs, _, err := c.api.ToDeviceMessages(ctx, c.acct.ClientID, "", 200)
		if err != nil {
			return nil, err
		}
		if len(msgs) == 0 {
			break
		}
		var ids []string
		for _, m := range msgs {
			ct, err := base64.StdEncoding.DecodeString(m.Ciphertext)
			if err == nil {
				err = c.HandleToDevice(ctx, m.FromUser, m.FromClient, ct)
			}
			if err != nil && ctx.Err() != nil {
				return nil, err
			}
			// A message that cannot be opened is dropped: it comes again
			// otherwise, and the key it carried is asked for again.
			ids = append(ids, m.ID)
		}
		if _, err := c.api.AckToDevice(ctx, c.acct.ClientID, ids); err != nil {
			return nil, err
		}
	}
	return c.RetryPending(ctx)
}

// HandleFrame handles a to_device frame of a socket; acknowledge it after.
func (c *Client) HandleFrame(ctx context.Context, td *client.ToDevice) error {
	ct, err := base64.StdEncoding.DecodeString(td.Ciphertext)
	if err != nil {
		return err
	}
	return c.HandleToDevice(ctx, td.FromUser, td.FromClient, ct)
}

// HandleToDevice opens one to-device message and acts on its payload.
func (c *Client) HandleToDevice(ctx context.Context, fromUser, fromClient string, ciphertext []byte) error {
	defer c.st.acquire()()
	now := c.Now()
	s, pt, err := c.openPairwise(fromUser, fromClient, ciphertext, now)
	if err != nil {
		return err
	}
	if err := c.saveSession(s); err != nil {
		return err
	}
	c.prefer(s)
	if err := c.saveAccount(); err != nil {
		return err
	}
	remote := s.Remote()
	typ, err := e2ee.MessageType(pt)
	if err != nil {
		return err
	}
	switch typ {
	case e2ee.TypeSenderKeyDistribution:
		d, err := e2ee.ParseSenderKeyDistribution(pt)
		if err != nil {
			return err
		}
		return c.acceptDistribution(ctx, d, &remote, now)
	case e2ee.TypeSenderKeyRequest:
		q, err := e2ee.ParseSenderKeyRequest(pt)
		if err != nil {
			return err
		}
		return c.answerRequest(ctx, q, &remote)
	case e2ee.TypeApplication:
		return nil
	}
	return fmt.Errorf("%w: pairwise payload type %d", e2ee.ErrInvalidMessage, typ)
}

var errNotMember = errors.New("e2eeclient: not a current member")
