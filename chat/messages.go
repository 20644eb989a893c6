package chat

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/e2ee"
	"github.com/unhidra/unhidra/wire"
)

var clientMsgIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// checkBody validates a standard message body.
func checkBody(body string) error {
	if !utf8.ValidString(body) {
		return unhidra.Errorf(unhidra.EInvalid, "body must be valid UTF-8")
	}
	if strings.TrimSpace(body) == "" {
		return unhidra.Errorf(unhidra.EInvalid, "body is required and must not be blank")
	}
	if n := utf8.RuneCountInString(body); n > MaxBodyChars {
		return unhidra.Errorf(unhidra.ETooLarge, "body is %d characters; the limit is %d", n, MaxBodyChars)
	}
	for _, r := range body {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return unhidra.Errorf(unhidra.EInvalid, "body must not contain control characters other than newline and tab")
		}
	}
	return nil
}

// checkCiphertext validates an encrypted message or reaction: standard
// base64 of at most MaxCiphertextBytes that decodes as an e2ee envelope of
// the sender-keys group protocol, sent by senderID (the caller). The
// server cannot check more: the content is the clients' to read.
func checkCiphertext(ct, senderID string) error {
	if ct == "" {
		return unhidra.Errorf(unhidra.EInvalid, "ciphertext is required in an encrypted channel")
	}
	if base64.StdEncoding.DecodedLen(len(ct)) > MaxCiphertextBytes+3 {
		return unhidra.Errorf(unhidra.ETooLarge, "ciphertext is larger than %d bytes", MaxCiphertextBytes)
	}
	b, err := base64.StdEncoding.DecodeString(ct)
	if err != nil {
		return unhidra.Errorf(unhidra.EInvalid, "ciphertext must be standard base64")
	}
	if len(b) > MaxCiphertextBytes {
		return unhidra.Errorf(unhidra.ETooLarge, "ciphertext is larger than %d bytes", MaxCiphertextBytes)
	}
	env, err := e2ee.ParseEnvelope(b)
	if err != nil {
		return unhidra.Errorf(unhidra.EInvalid, "ciphertext is not an end-to-end envelope (%v)", err)
	}
	if env.GroupProtocol != e2ee.GroupSenderKeys {
		return unhidra.Errorf(unhidra.EInvalid, "ciphertext in a channel must be a sender-key envelope (group_protocol 1)")
	}
	if env.SenderUserID != senderID {
		return unhidra.Errorf(unhidra.EInvalid, "the envelope's sender user id must be the caller's")
	}
	return nil
}

// checkContent validates body/ciphertext against the channel's mode.
func checkContent(ch *unhidra.Channel, senderID, body, ciphertext string) error {
	if ch.Encrypted {
		if body != "" {
			return unhidra.Errorf(unhidra.EInvalid, "this channel is end-to-end encrypted: send ciphertext, not body")
		}
		return checkCiphertext(ciphertext, senderID)
	}
	if ciphertext != "" {
		return unhidra.Errorf(unhidra.EInvalid, "this channel is not encrypted: send body, not ciphertext")
	}
	return checkBody(body)
}

// contentHash is what makes two sends with one client_msg_id "the same":
// kept at insert, so it survives later edits and deletion.
func contentHash(in unhidra.SendInput) string {
	h := sha256.New()
	for _, s := range []string{in.Body, in.Ciphertext, in.ThreadRootID} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Send posts a message as the caller (see gateway.Chat). A reply
// (ThreadRootID) also updates the root's reply_count and last_reply_at with a
// message_updated event, and makes the replier and the root's author follow
// the thread unless they chose otherwise.
func (s *Service) Send(ctx context.Context, in unhidra.SendInput) (*unhidra.Message, bool, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, false, err
	}
	if !clientMsgIDRE.MatchString(in.ClientMsgID) {
		return nil, false, unhidra.Errorf(unhidra.EInvalid, "client_msg_id must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'")
	}
	if len(in.Attachments) > 0 {
		// There is no files service yet, so no file id can be known.
		return nil, false, unhidra.Errorf(unhidra.EInvalid, "unknown file %q", truncate(in.Attachments[0], 64))
	}
	if in.ChannelID == "" {
		return nil, false, unhidra.Errorf(unhidra.EInvalid, "channel_id is required")
	}
	if err := unhidra.CheckID("channel_id", in.ChannelID); err != nil {
		return nil, false, err
	}
	if in.ThreadRootID != "" {
		if err := unhidra.CheckID("thread_root_id", in.ThreadRootID); err != nil {
			return nil, false, err
		}
	}
	hash := contentHash(in)
	var msg *unhidra.Message
	created := false
	err = s.inChannel(ctx, "send", in.ChannelID, func(c *change) error {
		a, err := s.load(ctx, c.tx, c.tx, p, in.ChannelID)
		if err != nil {
			return err
		}
		if err := a.need(actPost); err != nil {
			return err
		}
		prev, prevHash, err := c.tx.MessageByClientID(ctx, in.ChannelID, p.UserID, in.ClientMsgID)
		switch unhidra.ErrorCode(err) {
		case "":
			if prev.Deleted {
				// Stored, then deleted: its content (and so its hash) is
				// gone, and the retry's answer is what remains.
				msg = prev
				return nil
			}
			if prevHash != hash {
				return unhidra.Errorf(unhidra.EConflict, "client_msg_id %s was already used for a different message", in.ClientMsgID)
			}
			msg = prev
			return nil
		case unhidra.ENotFound:
		default:
			return err
		}
		if err := checkContent(a.ch, p.UserID, in.Body, in.Ciphertext); err != nil {
			return err
		}
		var root *unhidra.Message
		if in.ThreadRootID != "" {
			root, err = c.tx.Message(ctx, in.ThreadRootID)
			if unhidra.ErrorCode(err) == unhidra.ENotFound || (err == nil && root.ChannelID != in.ChannelID) {
				return unhidra.Errorf(unhidra.EInvalid, "thread_root_id is not a message of this channel")
			} else if err != nil {
				return err
			}
			if root.ThreadRootID != "" {
				return unhidra.Errorf(unhidra.EInvalid, "thread_root_id is itself a reply; reply to its root %s", root.ThreadRootID)
			}
		}
		msg = &unhidra.Message{
			ID: newID(), ChannelID: in.ChannelID, ClientMsgID: in.ClientMsgID,
			Sender: unhidra.Sender{Type: unhidra.SenderUser, ID: p.UserID}, Kind: unhidra.MessageText,
			Body: in.Body, Ciphertext: in.Ciphertext, ThreadRootID: in.ThreadRootID,
			Reactions: []unhidra.ReactionCount{}, Attachments: []string{}, CreatedAt: c.now,
		}
		if a.ch.Encrypted {
			msg.EncryptedReactions = []unhidra.EncryptedReaction{}
		}
		if d := a.ch.DisappearAfterS; d > 0 {
			at := c.now.Add(time.Duration(d) * time.Second)
			msg.ExpiresAt = &at
		}
		var mentioned []string
		if !a.ch.Encrypted {
			if msg.Mentions, mentioned, err = s.resolveMentions(ctx, c.tx, in.ChannelID, p.UserID, in.Body); err != nil {
				return err
			}
		}
		seq, err := c.tx.NextSeq(ctx, in.ChannelID)
		if err != nil {
			return err
		}
		msg.Seq = seq
		if err := c.tx.InsertMessage(ctx, msg, hash); err != nil {
			return err
		}
		if len(mentioned) > 0 {
			if err := c.tx.SetMentions(ctx, msg, mentioned); err != nil {
				return err
			}
		}
		if err := c.record(ctx, seq, wire.Event{Type: wire.TypeMessage, MessageID: msg.ID}, wire.MessageFrame{Type: wire.TypeMessage, ChannelID: msg.ChannelID, Seq: seq, Message: msg}); err != nil {
			return err
		}
		// The sender has read their own message.
		if err := setRead(ctx, c.tx, in.ChannelID, p.UserID, seq); err != nil {
			return err
		}
		created = true
		if root == nil {
			return nil
		}
		if err := c.tx.BumpThread(ctx, root.ID, 1, c.now); err != nil {
			return err
		}
		for _, u := range []string{root.Sender.ID, p.UserID} {
			if err := c.tx.SetFollow(ctx, root.ID, u, true, true); err != nil {
				return err
			}
		}
		return s.emitUpdated(ctx, c, root.ID, false)
	})
	if err != nil {
		return nil, false, err
	}
	if !created {
		if err := s.withReactions(ctx, p.UserID, msg); err != nil {
			return nil, false, err
		}
	}
	return msg, created, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// emitUpdated emits message_updated with the message as it now is;
// supersedes says its content changed (an edit).
func (s *Service) emitUpdated(ctx context.Context, c *change, id string, supersedes bool) error {
	m, err := c.tx.Message(ctx, id)
	if err != nil {
		return err
	}
	rs, err := c.tx.Reactions(ctx, []string{id}, "")
	if err != nil {
		return err
	}
	if rs[id] != nil {
		m.Reactions = rs[id]
	}
	_, err = c.emitMessage(ctx, wire.TypeMessageUpdated, m, supersedes)
	return err
}

// resolveMentions parses a body's mentions and returns what the message
// records (member user ids, and "channel" for @channel/@here) and which
// users get a mention row (the sender never does). Names that are not
// members of the channel are ignored.
func (s *Service) resolveMentions(ctx context.Context, r Reader, channelID, senderID, body string) (recorded, users []string, err error) {
	names, all := ParseMentions(body)
	if len(names) == 0 && !all {
		return nil, nil, nil
	}
	members, err := r.MemberIDs(ctx, channelID)
	if err != nil {
		return nil, nil, err
	}
	isMember := map[string]bool{}
	for _, id := range members {
		isMember[id] = true
	}
	ids, err := r.UserIDsByUsername(ctx, names)
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	for _, n := range names {
		if id, ok := ids[n]; ok && isMember[id] && !seen[id] {
			seen[id] = true
			recorded = append(recorded, id)
		}
	}
	if all {
		recorded = append(recorded, "channel")
		for _, id := range members {
			seen[id] = true
		}
	}
	for _, id := range members {
		if seen[id] && id != senderID {
			users = append(users, id)
		}
	}
	return recorded, users, nil
}

// withReactions fills the reactions of ms as viewer sees them.
func (s *Service) withReactions(ctx context.Context, viewer string, ms ...*unhidra.Message) error {
	ids := make([]string, 0, len(ms))
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	done := s.observe("reactions")
	rs, err := s.store.Reactions(ctx, ids, viewer)
	done()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if r := rs[m.ID]; r != nil {
			m.Reactions = r
		} else {
			m.Reactions = []unhidra.ReactionCount{}
		}
	}
	return s.withEncryptedReactions(ctx, ms...)
}

// Page asks for one page of a seq-ordered list.
type Page struct {
	// After, when HasAfter, returns the first Limit items with seq > After;
	// otherwise the latest Limit items with seq < Before (0: no bound).
	HasAfter      bool
	After, Before int64
	Limit         int
}

// Messages returns a page of a channel's top-level messages in ascending
// seq, and whether there are more in the direction of the page.
func (s *Service) Messages(ctx context.Context, channelID string, pg Page) ([]*unhidra.Message, bool, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, false, err
	}
	a, err := s.loadRead(ctx, p, channelID)
	if err != nil {
		return nil, false, err
	}
	if err := a.need(actRead); err != nil {
		return nil, false, err
	}
	return s.page(ctx, p.UserID, MessageQuery{ChannelID: channelID}, pg)
}

func (s *Service) page(ctx context.Context, viewer string, q MessageQuery, pg Page) ([]*unhidra.Message, bool, error) {
	q.FromAfter, q.After, q.Before, q.Limit = pg.HasAfter, pg.After, pg.Before, pg.Limit+1
	done := s.observe("messages")
	ms, err := s.store.Messages(ctx, q)
	done()
	if err != nil {
		return nil, false, err
	}
	more := len(ms) > pg.Limit
	if more {
		if pg.HasAfter {
			ms = ms[:pg.Limit]
		} else {
			ms = ms[1:]
		}
	}
	if err := s.withReactions(ctx, viewer, ms...); err != nil {
		return nil, false, err
	}
	if ms == nil {
		ms = []*unhidra.Message{}
	}
	return ms, more, nil
}

// messageAccess loads a message and the caller's access to its channel. A
// message in a channel the caller may not see is not_found.
func (s *Service) messageAccess(ctx context.Context, r Reader, tx Tx, p *unhidra.Principal, id string) (*unhidra.Message, *access, error) {
	if err := unhidra.CheckID("message id", id); err != nil {
		return nil, nil, err
	}
	m, err := r.Message(ctx, id)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil, nil, unhidra.Errorf(unhidra.ENotFound, "message not found")
	} else if err != nil {
		return nil, nil, err
	}
	a, err := s.load(ctx, r, tx, p, m.ChannelID)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil, nil, unhidra.Errorf(unhidra.ENotFound, "message not found")
	} else if err != nil {
		return nil, nil, err
	}
	if !a.allowed(actRead) && !a.allowed(actDeleteOthers) {
		// Someone who cannot read a channel does not learn its message ids.
		return nil, nil, unhidra.Errorf(unhidra.ENotFound, "message not found")
	}
	return m, a, nil
}

// inMessage runs fn in a transaction on the channel of message id, with
// the message and the caller's access loaded under the channel lock.
func (s *Service) inMessage(ctx context.Context, op string, p *unhidra.Principal, id string, fn func(c *change, m *unhidra.Message, a *access) error) error {
	if err := unhidra.CheckID("message id", id); err != nil {
		return err
	}
	done := s.observe("message")
	m, err := s.store.Message(ctx, id)
	done()
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return unhidra.Errorf(unhidra.ENotFound, "message not found")
	} else if err != nil {
		return err
	}
	return s.inChannel(ctx, op, m.ChannelID, func(c *change) error {
		m, a, err := s.messageAccess(ctx, c.tx, c.tx, p, id)
		if err != nil {
			return err
		}
		return fn(c, m, a)
	})
}

// GetMessage returns one message.
func (s *Service) GetMessage(ctx context.Context, id string) (*unhidra.Message, error) {
	m, _, p, err := s.readableMessage(ctx, id)
	if err != nil {
		return nil, err
	}
	return m, s.withReactions(ctx, p.UserID, m)
}

// readableMessage loads a message the caller may read, with the caller's
// access to its channel.
func (s *Service) readableMessage(ctx context.Context, id string) (*unhidra.Message, *access, *unhidra.Principal, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	done := s.observe("message")
	m, a, err := s.messageAccess(ctx, s.store, nil, p, id)
	done()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := a.need(actRead); err != nil {
		return nil, nil, nil, err
	}
	return m, a, p, nil
}

// EditInput is a new version of a message; exactly one of the fields, per
// the channel's mode.
type EditInput struct {
	Body, Ciphertext string
}

// Edit replaces the content of the caller's own message, keeping the old
// version in its edit history.
func (s *Service) Edit(ctx context.Context, id string, in EditInput) (*unhidra.Message, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.inMessage(ctx, "edit", p, id, func(c *change, m *unhidra.Message, a *access) error {
		if err := a.need(actPost); err != nil {
			return err
		}
		if m.Sender.ID != p.UserID {
			return unhidra.Errorf(unhidra.EPermission, "only the author may edit a message")
		}
		if m.Deleted {
			return unhidra.Errorf(unhidra.EConflict, "the message was deleted")
		}
		if err := checkContent(a.ch, p.UserID, in.Body, in.Ciphertext); err != nil {
			return err
		}
		if m.Body == in.Body && m.Ciphertext == in.Ciphertext {
			return nil
		}
		if err := c.tx.EditMessage(ctx, m, p.UserID, in.Body, in.Ciphertext, c.now); err != nil {
			return err
		}
		if !a.ch.Encrypted {
			m.Body = in.Body
			recorded, users, err := s.resolveMentions(ctx, c.tx, m.ChannelID, p.UserID, in.Body)
			if err != nil {
				return err
			}
			m.Mentions = recorded
			if err := c.tx.SetMentions(ctx, m, users); err != nil {
				return err
			}
		}
		return s.emitUpdated(ctx, c, m.ID, true)
	})
	if err != nil {
		return nil, err
	}
	return s.GetMessage(ctx, id)
}

// Delete erases a message: its content goes from everywhere the server
// keeps it (the row, the edit history, reactions, the search index; the
// event log never held it, see events.go), and what remains is the
// tombstone: id, seq, sender, times, thread. Authors may delete their own;
// moderators and up anyone's. Deleting twice is not an error.
func (s *Service) Delete(ctx context.Context, id string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.inMessage(ctx, "delete", p, id, func(c *change, m *unhidra.Message, a *access) error {
		if m.Sender.ID == p.UserID {
			if err := a.need(actPost); err != nil {
				return err
			}
		} else if err := a.need(actDeleteOthers); err != nil {
			return err
		}
		if !m.Deleted && m.Sender.ID != p.UserID {
			// A moderator's delete: ids only, never the content.
			if err := c.audit(ctx, audit.ActionMessageDelete, "message", m.ID,
				map[string]string{"channel_id": m.ChannelID, "sender_id": m.Sender.ID}); err != nil {
				return err
			}
		}
		return s.deleteMessage(ctx, c, m)
	})
}

// deleteMessage tombstones m (a no-op when it already is) and emits what a
// delete emits: its message_deleted and, for a reply, the root's update.
// Deleting by a member and by retention are this one code path.
func (s *Service) deleteMessage(ctx context.Context, c *change, m *unhidra.Message) error {
	if m.Deleted {
		return nil
	}
	if err := c.tx.TombstoneMessage(ctx, m.ID, c.now); err != nil {
		return err
	}
	if _, err := c.emit(ctx, wire.Event{Type: wire.TypeMessageDeleted, MessageID: m.ID, Supersedes: true}, func(seq int64) any {
		return wire.MessageDeleted{Type: wire.TypeMessageDeleted, ChannelID: m.ChannelID, MessageID: m.ID, Seq: seq}
	}); err != nil {
		return err
	}
	if m.ThreadRootID == "" {
		return nil
	}
	if err := c.tx.BumpThread(ctx, m.ThreadRootID, -1, c.now); err != nil {
		return err
	}
	return s.emitUpdated(ctx, c, m.ThreadRootID, false)
}

// EditHistory returns a message's earlier versions, oldest first: to its
// author and to the channel's moderators and up.
func (s *Service) EditHistory(ctx context.Context, id string) ([]Edit, error) {
	m, a, p, err := s.readableMessage(ctx, id)
	if err != nil {
		return nil, err
	}
	if m.Sender.ID != p.UserID {
		if err := a.need(actEditHistory); err != nil {
			return nil, err
		}
	}
	done := s.observe("edits")
	defer done()
	es, err := s.store.Edits(ctx, id)
	if es == nil && err == nil {
		es = []Edit{}
	}
	return es, err
}

// Thread is a thread root with a page of its replies.
type Thread struct {
	Root         *unhidra.Message   `json:"root"`
	Replies      []*unhidra.Message `json:"replies"`
	HasMore      bool               `json:"has_more"`
	Participants []string           `json:"participants"`
	Following    bool               `json:"following"`
}

// Thread returns a root and its replies in ascending seq, from after
// (exclusive; 0 for the start).
func (s *Service) Thread(ctx context.Context, id string, after int64, limit int) (*Thread, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	root, err := s.GetMessage(ctx, id)
	if err != nil {
		return nil, err
	}
	if root.ThreadRootID != "" {
		return nil, unhidra.Errorf(unhidra.EInvalid, "message %s is a reply; its thread is %s", id, root.ThreadRootID)
	}
	replies, more, err := s.page(ctx, p.UserID, MessageQuery{ChannelID: root.ChannelID, ThreadRootID: id}, Page{HasAfter: true, After: after, Limit: limit})
	if err != nil {
		return nil, err
	}
	t := &Thread{Root: root, Replies: replies, HasMore: more}
	done := s.observe("thread_participants")
	t.Participants, err = s.store.ThreadParticipants(ctx, id)
	done()
	if err != nil {
		return nil, err
	}
	if t.Participants == nil {
		t.Participants = []string{}
	}
	done = s.observe("following")
	t.Following, err = s.store.Following(ctx, id, p.UserID)
	done()
	return t, err
}

// Follow makes the caller follow (or stop following) the thread of a
// top-level message.
func (s *Service) Follow(ctx context.Context, id string, follow bool) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	m, err := s.GetMessage(ctx, id)
	if err != nil {
		return err
	}
	if m.ThreadRootID != "" {
		return unhidra.Errorf(unhidra.EInvalid, "follow the thread's root %s, not a reply", m.ThreadRootID)
	}
	done := s.observe("set_follow")
	defer done()
	return s.store.Tx(ctx, func(tx Tx) error { return tx.SetFollow(ctx, id, p.UserID, follow, false) })
}

// Pin pins or unpins a message (moderators and up; any member in a direct
// channel). It emits message_updated only when the pin state changes.
func (s *Service) Pin(ctx context.Context, id string, pin bool) (*unhidra.Message, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.inMessage(ctx, "pin", p, id, func(c *change, m *unhidra.Message, a *access) error {
		if err := a.need(actPin); err != nil {
			return err
		}
		if m.Deleted {
			return unhidra.Errorf(unhidra.EConflict, "the message was deleted")
		}
		changed, err := c.tx.SetPinned(ctx, id, pin)
		if err != nil || !changed {
			return err
		}
		return s.emitUpdated(ctx, c, id, false)
	})
	if err != nil {
		return nil, err
	}
	return s.GetMessage(ctx, id)
}

// Pins lists a channel's pinned messages in ascending seq.
func (s *Service) Pins(ctx context.Context, channelID string, limit int) ([]*unhidra.Message, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.loadRead(ctx, p, channelID)
	if err != nil {
		return nil, err
	}
	if err := a.need(actRead); err != nil {
		return nil, err
	}
	ms, _, err := s.page(ctx, p.UserID, MessageQuery{ChannelID: channelID, PinnedOnly: true}, Page{Limit: limit})
	return ms, err
}

// React adds (or removes) the caller's emoji on a message; once per user
// and emoji. It emits a reaction event only when something changed.
func (s *Service) React(ctx context.Context, id, emoji string, add bool) (*unhidra.Message, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := CheckEmoji(emoji); err != nil {
		return nil, err
	}
	err = s.inMessage(ctx, "react", p, id, func(c *change, m *unhidra.Message, a *access) error {
		if err := a.need(actPost); err != nil {
			return err
		}
		if a.ch.Encrypted {
			return unhidra.Errorf(unhidra.EInvalid, "this channel is end-to-end encrypted: react with ciphertext (PUT /messages/{id}/reactions)")
		}
		if m.Deleted {
			return unhidra.Errorf(unhidra.EConflict, "the message was deleted")
		}
		var changed bool
		var err error
		if add {
			changed, err = c.tx.AddReaction(ctx, id, p.UserID, emoji, c.now)
		} else {
			changed, err = c.tx.RemoveReaction(ctx, id, p.UserID, emoji)
		}
		if err != nil || !changed {
			return err
		}
		_, err = c.emit(ctx, wire.Event{Type: wire.TypeReaction, MessageID: id, UserID: p.UserID}, func(seq int64) any {
			return wire.Reaction{Type: wire.TypeReaction, ChannelID: m.ChannelID, MessageID: id, Emoji: emoji, UserID: p.UserID, Added: add, Seq: seq}
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.GetMessage(ctx, id)
}

// CheckEmoji accepts one emoji (possibly a ZWJ sequence with modifiers),
// at most 64 bytes, and refuses text.
func CheckEmoji(e string) error {
	bad := unhidra.Errorf(unhidra.EInvalid, "emoji must be a Unicode emoji, such as 👍")
	if e == "" || len(e) > 64 || !utf8.ValidString(e) {
		return bad
	}
	pictographic := false
	for _, r := range e {
		switch {
		case r < 0x80:
			// Keycaps: 1️⃣ is '1' + U+FE0F + U+20E3.
			if !strings.ContainsRune("#*0123456789", r) {
				return bad
			}
		case unicode.IsControl(r), unicode.IsSpace(r), unicode.IsLetter(r):
			return bad
		case unicode.Is(unicode.So, r), r >= 0x1F000 && r <= 0x1FAFF, r >= 0x2600 && r <= 0x27BF:
			pictographic = true
		}
	}
	if !pictographic {
		return bad
	}
	return nil
}
