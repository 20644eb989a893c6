package e2eeclient

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/e2ee"
)

// ErrKeyPending means a message cannot be decrypted yet: its sender key
// was asked for over the to-device inbox, and Sync (or RetryPending after
// the key arrives) decrypts it.
var ErrKeyPending = errors.New("e2eeclient: waiting for the message's key")

// Content is the plaintext of a channel message (the client's own format,
// JSON inside the ciphertext).
type Content struct {
	Type string `json:"type"` // "text"
	Body string `json:"body"`
}

// Decrypted is a channel message with its plaintext.
type Decrypted struct {
	MessageID, ChannelID, SenderUser, SenderClient string
	Content
}

// outbound is this install's sender key of one group and to whom it went.
type outbound struct {
	SentTo  []string `json:"sent_to"` // "user\x00client"
	Members []string `json:"members"`
}

func outPath(group string) string { return filepath.Join("outbound", name(group)) }
func inPath(group, user, cl string, chain uint32) string {
	return filepath.Join("inbound", name(group, user, cl, fmt.Sprint(chain)))
}

func (c *Client) saveSenderKey(k *e2ee.SenderKey) error {
	b, err := k.MarshalBinary()
	if err != nil {
		return err
	}
	return c.st.writeState(outPath(k.GroupID())+".key", b)
}

func (c *Client) saveInbound(k *e2ee.InboundSenderKey) error {
	b, err := k.MarshalBinary()
	if err != nil {
		return err
	}
	return c.st.writeState(inPath(k.GroupID(), k.UserID(), k.ClientID(), k.ChainID()), b)
}

func (c *Client) loadInbound(group, user, cl string, chain uint32) (*e2ee.InboundSenderKey, error) {
	b, err := c.st.read(inPath(group, user, cl, chain))
	if err != nil || b == nil {
		return nil, err
	}
	return e2ee.UnmarshalInboundSenderKey(b)
}

// members lists a channel's member user ids.
func (c *Client) members(ctx context.Context, channelID string) ([]string, error) {
	var out []string
	cursor := ""
	for {
		p, err := c.api.Members(ctx, channelID, client.ListOptions{Cursor: cursor, Limit: 200})
		if err != nil {
			return nil, err
		}
		for _, m := range p.Members {
			out = append(out, m.UserID)
		}
		if p.NextCursor == "" {
			slices.Sort(out)
			return out, nil
		}
		cursor = p.NextCursor
	}
}

// senderKey returns the sender key of the group, made or rotated as
// needed (a member gone, a week old, 10,000 messages), after sending it to
// every client of every member that does not have it yet.
func (c *Client) senderKey(ctx context.Context, group string) (*e2ee.SenderKey, error) {
	members, err := c.members(ctx, group)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(members, c.acct.UserID) {
		return nil, errNotMember
	}
	var meta outbound
	if _, err := c.st.readJSON(outPath(group)+".json", &meta); err != nil {
		return nil, err
	}
	var sk *e2ee.SenderKey
	if b, err := c.st.read(outPath(group) + ".key"); err != nil {
		return nil, err
	} else if b != nil {
		if sk, err = e2ee.UnmarshalSenderKey(b); err != nil {
			return nil, err
		}
	}
	now := c.Now()
	gone := false
	for _, m := range meta.Members {
		if !slices.Contains(members, m) {
			gone = true
		}
	}
	if sk == nil || gone || sk.NeedsRotation(now) {
		var nk *e2ee.SenderKey
		if sk == nil {
			nk, err = e2ee.NewSenderKey(c.Rand, c.keys, group, now)
		} else {
			nk, err = sk.Rotate(c.Rand, c.keys, now)
		}
		if err != nil {
			return nil, err
		}
		if sk != nil {
			// The old key is kept, to answer requests for what it sent.
			b, _ := sk.MarshalBinary()
			if err := c.st.write(outPath(group)+fmt.Sprintf(".old.%d", sk.ChainID()), b); err != nil {
				return nil, err
			}
		}
		// A copy for this install, so that its own messages read back.
		me := c.keys.Public()
		self, err := e2ee.NewInboundSenderKey(nk.Distribution(), &me)
		if err != nil {
			return nil, err
		}
		if err := c.saveInbound(self); err != nil {
			return nil, err
		}
		// The new key has generation 0 or so: it replaces the file whatever
		// the old one's generation.
		if err := c.st.remove(outPath(group) + ".key"); err != nil {
			return nil, err
		}
		if err := c.saveSenderKey(nk); err != nil {
			return nil, err
		}
		sk, meta.SentTo = nk, nil
	}
	meta.Members = members
	dist, err := sk.Distribution().MarshalBinary()
	if err != nil {
		return nil, err
	}
	var msgs []outgoing
	var newly []string
	for _, u := range members {
		ids, err := c.knownClients(ctx, u, false)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if u == c.acct.UserID && id.ClientID == c.acct.ClientID {
				continue
			}
			k := u + "\x00" + id.ClientID
			if slices.Contains(meta.SentTo, k) {
				continue
			}
			msgs = append(msgs, outgoing{u, id.ClientID, dist})
			newly = append(newly, k)
		}
	}
	if err := c.sendPairwise(ctx, msgs); err != nil {
		return nil, err
	}
	meta.SentTo = append(meta.SentTo, newly...)
	if err := c.st.writeJSON(outPath(group)+".json", &meta); err != nil {
		return nil, err
	}
	return sk, nil
}

// pendingSend is a message encrypted and not yet acknowledged by the
// server: a retry posts the same ciphertext under the same client_msg_id.
type pendingSend struct {
	In   unhidra.SendInput `json:"in"`
	Text string            `json:"text"`
}

// Prepare encrypts text for an encrypted channel (or DM) and keeps the
// result as a pending send until Post succeeds.
func (c *Client) Prepare(ctx context.Context, channelID, text string) (*unhidra.SendInput, error) {
	defer c.st.acquire()()
	sk, err := c.senderKey(ctx, channelID)
	if err != nil {
		return nil, err
	}
	pt, err := json.Marshal(Content{Type: "text", Body: text})
	if err != nil {
		return nil, err
	}
	body, err := sk.Encrypt(pt)
	if err != nil {
		return nil, err
	}
	// The advanced chain is saved before the ciphertext leaves.
	if err := c.saveSenderKey(sk); err != nil {
		return nil, err
	}
	env, err := (&e2ee.Envelope{GroupProtocol: e2ee.GroupSenderKeys, SenderUserID: c.acct.UserID, SenderClientID: c.acct.ClientID, Body: body}).MarshalBinary()
	if err != nil {
		return nil, err
	}
	in := &unhidra.SendInput{ChannelID: channelID, ClientMsgID: client.NewClientMsgID(), Ciphertext: base64.StdEncoding.EncodeToString(env)}
	if err := c.st.writeJSON(filepath.Join("pending", name(in.ClientMsgID)), pendingSend{*in, text}); err != nil {
		return nil, err
	}
	return in, nil
}

// Post sends a prepared message (again, after a failure: the server
// answers the same message) and forgets it once stored.
func (c *Client) Post(ctx context.Context, in *unhidra.SendInput) (*unhidra.Message, error) {
	m, err := c.api.Send(ctx, in)
	if err != nil {
		return nil, err
	}
	defer c.st.acquire()()
	var ps pendingSend
	if ok, err := c.st.readJSON(filepath.Join("pending", name(in.ClientMsgID)), &ps); err != nil {
		return nil, err
	} else if ok {
		if err := c.cache(m.ChannelID, &Decrypted{MessageID: m.ID, ChannelID: m.ChannelID, SenderUser: c.acct.UserID, SenderClient: c.acct.ClientID, Content: Content{Type: "text", Body: ps.Text}}); err != nil {
			return nil, err
		}
	}
	return m, c.st.remove(filepath.Join("pending", name(in.ClientMsgID)))
}

// Send encrypts and posts text.
func (c *Client) Send(ctx context.Context, channelID, text string) (*unhidra.Message, error) {
	in, err := c.Prepare(ctx, channelID, text)
	if err != nil {
		return nil, err
	}
	return c.Post(ctx, in)
}

// PendingSends returns the prepared messages not yet stored by the server.
func (c *Client) PendingSends() ([]*unhidra.SendInput, error) {
	defer c.st.acquire()()
	files, err := c.st.list("pending", "")
	if err != nil {
		return nil, err
	}
	var out []*unhidra.SendInput
	for _, f := range files {
		var ps pendingSend
		if _, err := c.st.readJSON(f, &ps); err != nil {
			return nil, err
		}
		out = append(out, &ps.In)
	}
	return out, nil
}

// channelCache is the local history of one channel: plaintexts by message
// id (a sender-key message decrypts once), and those waiting for a key.
type channelCache struct {
	Plain   map[string]*Decrypted `json:"plain"`
	Pending map[string]*waiting   `json:"pending"`
}

type waiting struct {
	Msg         *unhidra.Message `json:"msg"`
	RequestedAt time.Time        `json:"requested_at"`
}

func cachePath(ch string) string { return filepath.Join("messages", name(ch)) }

func (c *Client) loadCache(ch string) (*channelCache, error) {
	cc := &channelCache{}
	if _, err := c.st.readJSON(cachePath(ch), cc); err != nil {
		return nil, err
	}
	if cc.Plain == nil {
		cc.Plain = map[string]*Decrypted{}
	}
	if cc.Pending == nil {
		cc.Pending = map[string]*waiting{}
	}
	return cc, nil
}

func (c *Client) cache(ch string, d *Decrypted) error {
	cc, err := c.loadCache(ch)
	if err != nil {
		return err
	}
	cc.Plain[d.MessageID] = d
	delete(cc.Pending, d.MessageID)
	return c.st.writeJSON(cachePath(ch), cc)
}

// Decrypt returns a channel message's plaintext: from the local history,
// or by decrypting it with its sender's key. Without the key it asks the
// sender's clients and this user's other clients for it and returns
// ErrKeyPending; the message is retried by Sync and RetryPending.
func (c *Client) Decrypt(ctx context.Context, m *unhidra.Message) (*Decrypted, error) {
	defer c.st.acquire()()
	return c.decrypt(ctx, m)
}

func (c *Client) decrypt(ctx context.Context, m *unhidra.Message) (*Decrypted, error) {
	cc, err := c.loadCache(m.ChannelID)
	if err != nil {
		return nil, err
	}
	if d := cc.Plain[m.ID]; d != nil {
		return d, nil
	}
	if m.Deleted || m.Ciphertext == "" {
		return nil, fmt.Errorf("%w: no ciphertext", e2ee.ErrInvalidMessage)
	}
	raw, err := base64.StdEncoding.DecodeString(m.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext: %v", e2ee.ErrInvalidMessage, err)
	}
	env, err := e2ee.ParseEnvelope(raw)
	if err != nil {
		return nil, err
	}
	if env.GroupProtocol != e2ee.GroupSenderKeys || env.SenderUserID != m.Sender.ID {
		return nil, fmt.Errorf("%w: envelope sender or protocol", e2ee.ErrInvalidMessage)
	}
	skm, err := e2ee.ParseSenderKeyMessage(env.Body)
	if err != nil {
		return nil, err
	}
	now := c.Now()
	k, err := c.loadInbound(m.ChannelID, env.SenderUserID, env.SenderClientID, skm.ChainID)
	if err != nil {
		return nil, err
	}
	var pt []byte
	if k == nil {
		err = e2ee.ErrWrongSession
	} else {
		pt, err = k.Decrypt(env.Body, now)
	}
	if errors.Is(err, e2ee.ErrWrongSession) {
		w := cc.Pending[m.ID]
		if w == nil {
			w = &waiting{Msg: m}
			cc.Pending[m.ID] = w
		}
		if now.Sub(w.RequestedAt) > time.Minute {
			w.RequestedAt = now
			if rerr := c.requestKey(ctx, m.ChannelID, env.SenderUserID, env.SenderClientID, skm.ChainID, skm.Iteration); rerr != nil {
				w.RequestedAt = time.Time{}
			}
		}
		if err := c.st.writeJSON(cachePath(m.ChannelID), cc); err != nil {
			return nil, err
		}
		return nil, ErrKeyPending
	}
	if err != nil {
		return nil, err
	}
	var ct Content
	if err := json.Unmarshal(pt, &ct); err != nil {
		return nil, fmt.Errorf("%w: content: %v", e2ee.ErrInvalidMessage, err)
	}
	d := &Decrypted{MessageID: m.ID, ChannelID: m.ChannelID, SenderUser: env.SenderUserID, SenderClient: env.SenderClientID, Content: ct}
	cc.Plain[m.ID] = d
	delete(cc.Pending, m.ID)
	if err := c.st.writeJSON(cachePath(m.ChannelID), cc); err != nil {
		return nil, err
	}
	return d, c.saveInbound(k)
}

// requestKey asks the sender's client and this user's other clients for
// a chain from an iteration on.
func (c *Client) requestKey(ctx context.Context, group, user, cl string, chain, iter uint32) error {
	q, err := (&e2ee.SenderKeyRequest{GroupID: group, UserID: user, ClientID: cl, ChainID: chain, Iteration: iter}).MarshalBinary()
	if err != nil {
		return err
	}
	msgs := []outgoing{{user, cl, q}}
	own, err := c.knownClients(ctx, c.acct.UserID, false)
	if err != nil {
		return err
	}
	for _, id := range own {
		if id.ClientID != c.acct.ClientID && !(user == c.acct.UserID && id.ClientID == cl) {
			msgs = append(msgs, outgoing{c.acct.UserID, id.ClientID, q})
		}
	}
	return c.sendPairwise(ctx, msgs)
}

// RetryPending decrypts again the messages that waited for a key.
func (c *Client) RetryPending(ctx context.Context) ([]*Decrypted, error) {
	defer c.st.acquire()()
	files, err := c.st.list("messages", "")
	if err != nil {
		return nil, err
	}
	var out []*Decrypted
	for _, f := range files {
		var cc channelCache
		if _, err := c.st.readJSON(f, &cc); err != nil {
			return nil, err
		}
		for _, w := range cc.Pending {
			d, err := c.decrypt(ctx, w.Msg)
			if err == nil {
				out = append(out, d)
			} else if !errors.Is(err, ErrKeyPending) {
				return out, err
			}
		}
	}
	return out, nil
}

// Undecryptable counts the messages still waiting for a key.
func (c *Client) Undecryptable() (int, error) {
	defer c.st.acquire()()
	files, err := c.st.list("messages", "")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range files {
		var cc channelCache
		if _, err := c.st.readJSON(f, &cc); err != nil {
			return 0, err
		}
		n += len(cc.Pending)
	}
	return n, nil
}

// acceptDistribution stores a sender key received over a pairwise
// session. One sent by its own client is checked against that session's
// identity; one forwarded by this user's other client against the
// sender's identity from the directory.
func (c *Client) acceptDistribution(ctx context.Context, d *e2ee.SenderKeyDistribution, from *e2ee.ClientIdentity, now time.Time) error {
	sender := from
	if d.UserID != from.UserID || d.ClientID != from.ClientID {
		if from.UserID != c.acct.UserID {
			return fmt.Errorf("%w: a sender key forwarded by another user", e2ee.ErrBadSignature)
		}
		if _, err := c.knownClients(ctx, d.UserID, true); err != nil {
			return err
		}
		sender = c.acct.Peers[d.UserID].Clients[d.ClientID]
		if sender == nil {
			return fmt.Errorf("e2eeclient: unknown sender client %s", d.ClientID)
		}
	}
	k, err := c.loadInbound(d.GroupID, d.UserID, d.ClientID, d.ChainID)
	if err != nil {
		return err
	}
	if k == nil {
		if k, err = e2ee.NewInboundSenderKey(d, sender); err != nil {
			return err
		}
	} else if d.Iteration < k.FirstIteration() {
		if err := d.Verify(sender); err != nil {
			return err
		}
		if err := k.Merge(d, now); err != nil {
			return err
		}
	} else {
		return nil
	}
	return c.saveInbound(k)
}

// answerRequest answers a key request: for this install's own chain, to
// current members of the group; for another sender's chain it holds, to
// this user's own other clients only.
func (c *Client) answerRequest(ctx context.Context, q *e2ee.SenderKeyRequest, from *e2ee.ClientIdentity) error {
	var d *e2ee.SenderKeyDistribution
	if q.UserID == c.acct.UserID && q.ClientID == c.acct.ClientID {
		members, err := c.members(ctx, q.GroupID)
		if err != nil {
			return err
		}
		if !slices.Contains(members, from.UserID) {
			return errNotMember
		}
		var sk *e2ee.SenderKey
		for _, p := range []string{outPath(q.GroupID) + ".key", outPath(q.GroupID) + fmt.Sprintf(".old.%d", q.ChainID)} {
			b, err := c.st.read(p)
			if err != nil {
				return err
			}
			if b == nil {
				continue
			}
			k, err := e2ee.UnmarshalSenderKey(b)
			if err != nil {
				return err
			}
			if k.ChainID() == q.ChainID {
				sk = k
				break
			}
		}
		if sk == nil {
			return nil
		}
		if d, err = sk.DistributionAt(q.Iteration); err != nil {
			return err
		}
	} else {
		if from.UserID != c.acct.UserID {
			return nil
		}
		k, err := c.loadInbound(q.GroupID, q.UserID, q.ClientID, q.ChainID)
		if err != nil || k == nil {
			return err
		}
		d = k.Export(q.Iteration)
	}
	b, err := d.MarshalBinary()
	if err != nil {
		return err
	}
	return c.sendPairwise(ctx, []outgoing{{from.UserID, from.ClientID, b}})
}
