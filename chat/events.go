package chat

import (
	"context"
	"log/slog"
	"time"

	"github.com/unhidra/unhidra"
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
// the seq inside the message before the frame exists).
func (c *change) record(ctx context.Context, seq int64, meta wire.Event, frame any) error {
	b := wire.Encode(frame)
	if err := c.tx.InsertEvent(ctx, &unhidra.Event{ChannelID: c.channelID, Seq: seq, Type: meta.Type, Frame: b, CreatedAt: c.now}); err != nil {
		return err
	}
	meta.ChannelID, meta.Seq, meta.At, meta.Frame = c.channelID, seq, c.now.UnixMicro(), b
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
// as everyone sees them: Me false).
func (c *change) emitMessage(ctx context.Context, typ string, m *unhidra.Message) (int64, error) {
	return c.emit(ctx, wire.Event{Type: typ, MessageID: m.ID}, func(seq int64) any {
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
