package chat

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/wire"
)

// change collects what one transaction on a channel emits: its events and
// the control messages to publish after the commit.
type change struct {
	s         *Service
	tx        Tx
	channelID string
	now       time.Time
	events    []wire.Event
	subscribe []userControl
	unsub     []userControl
}

// audit records an action of the caller in the change's transaction.
func (c *change) audit(ctx context.Context, action, targetType, targetID string, meta map[string]string) error {
	e := &audit.Event{Action: action, ActorType: audit.ActorSystem, TargetType: targetType, TargetID: targetID,
		IP: audit.CleanIP(audit.ClientIP(ctx)), Metadata: meta, Time: c.now}
	if p := unhidra.PrincipalFromContext(ctx); p != nil {
		e.ActorType, e.ActorID = audit.ActorUser, p.UserID
	}
	return c.tx.Audit(ctx, e)
}

// userControl is a control message for one user's sockets.
type userControl struct {
	userID string
	msg    wire.Control
}

// emit takes the channel's next seq, builds the event's frame with it and
// stores the event. meta carries the event's type and what it is about
// (MessageID, UserID); frame receives the seq.
func (c *change) emit(ctx context.Context, meta wire.Event, frame func(seq int64) any) (int64, error) {
	seq, err := c.tx.NextSeq(ctx, c.channelID)
	if err != nil {
		return 0, err
	}
	return seq, c.record(ctx, seq, meta, frame(seq))
}

// record stores the event of a seq taken already with NextSeq (Send needs
// the seq inside the message before the frame exists) and queues its live
// frame for publication.
func (c *change) record(ctx context.Context, seq int64, meta wire.Event, frame any) error {
	stored, live := encodeFrames(frame)
	rec := &EventRecord{ChannelID: c.channelID, Seq: seq, Type: meta.Type, MessageID: meta.MessageID, UserID: meta.UserID,
		Frame: stored, CreatedAt: c.now}
	if err := c.tx.InsertEvent(ctx, rec); err != nil {
		return err
	}
	meta.ChannelID, meta.Seq, meta.At, meta.Frame = c.channelID, seq, c.now.UnixMicro(), live
	c.events = append(c.events, meta)
	return nil
}

func (c *change) subscribeUser(userID string, seq int64) {
	c.subscribe = append(c.subscribe, userControl{userID, wire.Control{Type: wire.ControlSubscribe, ChannelID: c.channelID, Seq: seq}})
}

func (c *change) unsubscribeUser(userID string, seq int64) {
	c.unsub = append(c.unsub, userControl{userID, wire.Control{Type: wire.ControlUnsubscribe, ChannelID: c.channelID, Seq: seq}})
}

// inChannel runs fn in a transaction on channelID while holding the
// channel's lock, and after the commit publishes, still under the lock:
// subscribe controls, then the events in seq order, then unsubscribe
// controls. Holding the lock across commit and publish is what keeps one
// node's publications of a channel in seq order.
func (s *Service) inChannel(ctx context.Context, op, channelID string, fn func(c *change) error) error {
	mu := s.lockFor(channelID)
	mu.Lock()
	defer mu.Unlock()
	var c *change
	done := s.observe(op)
	err := s.store.Tx(ctx, func(tx Tx) error {
		c = &change{s: s, tx: tx, channelID: channelID, now: s.now().UTC().Truncate(time.Microsecond)}
		return fn(c)
	})
	done()
	if err != nil {
		return err
	}
	// The change is durable; a failed publish must not fail the request
	// (the gateway fills gaps from the store).
	pctx := context.WithoutCancel(ctx)
	for _, m := range c.subscribe {
		s.publish(pctx, wire.UserSubject(m.userID), m.msg.Encode())
	}
	for i := range c.events {
		s.publish(pctx, wire.ChannelEventsSubject(c.channelID), c.events[i].Append(nil))
	}
	for _, m := range c.unsub {
		s.publish(pctx, wire.UserSubject(m.userID), m.msg.Encode())
	}
	return nil
}

// publishEphemeral sends a frame that is not a channel event (typing, a
// read receipt) to the channel's sockets.
func (s *Service) publishEphemeral(ctx context.Context, typ, channelID, userID string, frame any) {
	ev := wire.Event{Type: typ, ChannelID: channelID, UserID: userID, Frame: wire.Encode(frame)}
	s.publish(context.WithoutCancel(ctx), wire.ChannelEphemeralSubject(channelID), ev.Append(nil))
}

func (s *Service) publish(ctx context.Context, subject string, data []byte) {
	if s.bus == nil {
		return
	}
	if err := s.bus.Publish(ctx, subject, data); err != nil {
		s.log.Warn("publish failed", slog.String("subject", subject), slog.Any("err", err))
	}
}

// emitMessage stores a message or message_updated event for m (reactions
// as everyone sees them: Me false). supersedes says the event changes m's
// content (an edit).
func (c *change) emitMessage(ctx context.Context, typ string, m *unhidra.Message, supersedes bool) (int64, error) {
	return c.emit(ctx, wire.Event{Type: typ, MessageID: m.ID, Supersedes: supersedes}, func(seq int64) any {
		if typ == wire.TypeMessage {
			m.Seq = seq
		}
		return wire.MessageFrame{Type: typ, ChannelID: m.ChannelID, Seq: seq, Message: m}
	})
}

func (c *change) emitMember(ctx context.Context, typ, userID, role string) (int64, error) {
	return c.emit(ctx, wire.Event{Type: typ, UserID: userID}, func(seq int64) any {
		return wire.Member{Type: typ, ChannelID: c.channelID, UserID: userID, Role: role, Seq: seq}
	})
}

func (c *change) emitChannel(ctx context.Context, ch *unhidra.Channel) (int64, error) {
	return c.emit(ctx, wire.Event{Type: wire.TypeChannelUpdated}, func(seq int64) any {
		pub := publicChannel(ch)
		pub.LastSeq = seq
		return wire.ChannelUpdated{Type: wire.TypeChannelUpdated, ChannelID: ch.ID, Seq: seq, Channel: pub}
	})
}

// publicChannel strips the per-user fields, for frames everyone receives.
func publicChannel(ch *unhidra.Channel) *unhidra.Channel {
	c := *ch
	c.Role, c.LastReadSeq, c.UnreadCount, c.MentionCount, c.Muted, c.Notify, c.Hidden = "", 0, 0, 0, false, "", false
	return &c
}

// Message content and the event log. A message's content (body,
// ciphertext, mentions, edit time, attachments) is kept in its row and
// nowhere else: an event's frame is stored without it (encodeFrames) and
// rendered with the message as it is now when it is read back (render).
// So after an edit every replay shows the current version (an earlier one
// is readable only through the edit history, by those who may), and after
// a delete every event of the message replays as its tombstone, with no
// rewrite of the log.

// stripContent clears the content fields of m.
func stripContent(m *unhidra.Message) {
	m.Body, m.Ciphertext, m.Mentions, m.EditedAt, m.Attachments, m.Deleted = "", "", nil, nil, nil, false
	m.EncryptedReactions = nil
}

// withContent copies the content fields of cur into m.
func withContent(m, cur *unhidra.Message) {
	m.Body, m.Ciphertext, m.Mentions, m.EditedAt, m.Attachments, m.Deleted = cur.Body, cur.Ciphertext, cur.Mentions, cur.EditedAt, cur.Attachments, cur.Deleted
	if m.Attachments == nil {
		m.Attachments = []string{}
	}
}

// tombstone is what remains of a deleted message: its id, seq, sender,
// kind, times and place in a thread.
func tombstone(m *unhidra.Message) *unhidra.Message {
	t := *m
	stripContent(&t)
	t.Deleted, t.Pinned, t.Reactions, t.Attachments, t.ExpiresAt = true, false, []unhidra.ReactionCount{}, []string{}, nil
	return &t
}

// encodeFrames returns a frame as stored and as sent live: the same bytes,
// except that a message frame is stored without its message's content.
func encodeFrames(frame any) (stored, live []byte) {
	mf, ok := frame.(wire.MessageFrame)
	if !ok || mf.Message == nil {
		b := wire.Encode(frame)
		return b, b
	}
	live = wire.Encode(mf)
	bare := *mf.Message
	stripContent(&bare)
	mf.Message = &bare
	return wire.Encode(mf), live
}

// render returns the type and frame an event replays as, given the current
// row of the message it is about (rec.Message): a message event and its
// updates with the current content; every event of a deleted message —
// reactions too, whose emoji go with it — as the tombstone (a message
// event stays message, the others become message_updated); everything else
// as stored.
func render(rec *EventRecord) (string, []byte) {
	switch rec.Type {
	case wire.TypeMessage, wire.TypeMessageUpdated, wire.TypeReaction:
	default:
		return rec.Type, rec.Frame
	}
	var mf wire.MessageFrame
	if rec.Type != wire.TypeReaction && (json.Unmarshal(rec.Frame, &mf) != nil || mf.Message == nil) {
		// A stored message frame always decodes; if one ever does not,
		// replaying it unrendered could not leak content (none is stored).
		return rec.Type, rec.Frame
	}
	cur := rec.Message
	if cur == nil || cur.Deleted {
		typ := wire.TypeMessageUpdated
		if rec.Type == wire.TypeMessage {
			typ = wire.TypeMessage
		}
		switch {
		case cur != nil:
		case mf.Message != nil:
			cur = mf.Message
		default:
			cur = &unhidra.Message{ID: rec.MessageID, ChannelID: rec.ChannelID}
		}
		return typ, wire.Encode(wire.MessageFrame{Type: typ, ChannelID: rec.ChannelID, Seq: rec.Seq, Message: tombstone(cur)})
	}
	if rec.Type == wire.TypeReaction {
		return rec.Type, rec.Frame
	}
	withContent(mf.Message, cur)
	return rec.Type, wire.Encode(mf)
}
