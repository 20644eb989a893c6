package chat

import (
	"context"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/wire"
)

// MemberChannels returns the caller's channels with their last event seq
// (gateway.Chat).
func (s *Service) MemberChannels(ctx context.Context) (map[string]int64, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	done := s.observe("channel_seqs")
	defer done()
	return s.store.ChannelSeqs(ctx, p.UserID)
}

// ChannelIDsOf lists the channels userID belongs to (gateway.Events; not
// an action of the caller).
func (s *Service) ChannelIDsOf(ctx context.Context, userID string) ([]string, error) {
	done := s.observe("channel_seqs")
	seqs, err := s.store.ChannelSeqs(ctx, userID)
	done()
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(seqs))
	for id := range seqs {
		ids = append(ids, id)
	}
	return ids, nil
}

// Events returns the caller's channel's events with seq > after, ascending,
// at most limit (1 to MaxEventsPage), as a socket replays them (render).
// Only members may replay: a member who left gets not_found (private) or
// permission_denied (public).
func (s *Service) Events(ctx context.Context, channelID string, after int64, limit int) ([]unhidra.Event, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if limit < 1 || limit > MaxEventsPage {
		limit = MaxEventsPage
	}
	if after < 0 {
		return nil, unhidra.Errorf(unhidra.EInvalid, "after must not be negative")
	}
	a, err := s.loadRead(ctx, p, channelID)
	if err != nil {
		return nil, err
	}
	if err := a.need(actRead); err != nil {
		return nil, err
	}
	recs, err := s.readEvents(ctx, channelID, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]unhidra.Event, len(recs))
	for i := range recs {
		typ, frame := render(&recs[i])
		out[i] = unhidra.Event{ChannelID: recs[i].ChannelID, Seq: recs[i].Seq, Type: typ, Frame: frame, CreatedAt: recs[i].CreatedAt}
	}
	return out, nil
}

func (s *Service) readEvents(ctx context.Context, channelID string, after int64, limit int) ([]EventRecord, error) {
	done := s.observe("events")
	defer done()
	return s.store.Events(ctx, channelID, after, limit)
}

// ChannelEvents returns a channel's events with seq > after, ascending, at
// most limit (1 to MaxEventsPage), rendered as Events renders them, with
// their metadata (gateway.Events). It is not an action of a caller: the
// gateway reads once for all of its sockets and bounds what each may
// receive by its subscription.
func (s *Service) ChannelEvents(ctx context.Context, channelID string, after int64, limit int) ([]wire.Event, error) {
	if limit < 1 || limit > MaxEventsPage {
		limit = MaxEventsPage
	}
	recs, err := s.readEvents(ctx, channelID, max(after, 0), limit)
	if err != nil {
		return nil, err
	}
	out := make([]wire.Event, len(recs))
	for i := range recs {
		r := &recs[i]
		typ, frame := render(r)
		out[i] = wire.Event{Type: typ, ChannelID: r.ChannelID, Seq: r.Seq, MessageID: r.MessageID, UserID: r.UserID,
			At: r.CreatedAt.UnixMicro(), Frame: frame}
	}
	return out, nil
}

// MarkRead moves the caller's read position in a channel forward to seq (a
// position never moves back) and broadcasts a read receipt when it moved.
func (s *Service) MarkRead(ctx context.Context, channelID string, seq int64) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if seq < 0 {
		return unhidra.Errorf(unhidra.EInvalid, "seq must not be negative")
	}
	a, err := s.loadRead(ctx, p, channelID)
	if err != nil {
		return err
	}
	if err := a.need(actRead); err != nil {
		return err
	}
	if seq > a.ch.LastSeq {
		return unhidra.Errorf(unhidra.EInvalid, "seq %d is beyond the channel's last event %d", seq, a.ch.LastSeq)
	}
	var moved bool
	done := s.observe("set_last_read")
	err = s.store.Tx(ctx, func(tx Tx) error {
		var err error
		moved, err = tx.SetLastRead(ctx, channelID, p.UserID, seq)
		return err
	})
	done()
	if err != nil {
		return err
	}
	if moved {
		s.publishEphemeral(ctx, wire.TypeRead, channelID, p.UserID, wire.ReadReceipt{Type: wire.TypeRead, ChannelID: channelID, UserID: p.UserID, Seq: seq})
	}
	return nil
}

// ReadAll marks every channel of the caller read up to its last event and
// broadcasts a receipt in each channel whose position moved.
func (s *Service) ReadAll(ctx context.Context) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	var moved map[string]int64
	done := s.observe("read_all")
	err = s.store.Tx(ctx, func(tx Tx) error {
		var err error
		moved, err = tx.ReadAll(ctx, p.UserID)
		return err
	})
	done()
	if err != nil {
		return err
	}
	for id, seq := range moved {
		s.publishEphemeral(ctx, wire.TypeRead, id, p.UserID, wire.ReadReceipt{Type: wire.TypeRead, ChannelID: id, UserID: p.UserID, Seq: seq})
	}
	return nil
}

// Typing broadcasts that the caller is typing in a channel, at most once
// per TypingInterval per user and channel; calls in between succeed and
// send nothing. A client may send a typing frame per keystroke, so the
// throttle is looked at before anything is read from the store: a
// throttled call has been authorized within the interval already.
func (s *Service) Typing(ctx context.Context, channelID string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	key := p.UserID + "/" + channelID
	if s.typingThrottled(key, s.now()) {
		return nil
	}
	a, err := s.loadRead(ctx, p, channelID)
	if err != nil {
		return err
	}
	if err := a.need(actPost); err != nil {
		return err
	}
	now := s.now()
	s.typingMu.Lock()
	last, ok := s.typing[key]
	send := !ok || now.Sub(last) >= TypingInterval || now.Before(last)
	if send {
		s.typing[key] = now
		if len(s.typing) > 10000 {
			// Forget stale entries so the map stays as small as the set of
			// people typing right now.
			for k, t := range s.typing {
				if now.Sub(t) >= TypingInterval {
					delete(s.typing, k)
				}
			}
		}
	}
	s.typingMu.Unlock()
	if send {
		s.publishEphemeral(ctx, wire.TypeTyping, channelID, p.UserID, wire.Typing{Type: wire.TypeTyping, ChannelID: channelID, UserID: p.UserID})
	}
	return nil
}

func (s *Service) typingThrottled(key string, now time.Time) bool {
	s.typingMu.Lock()
	defer s.typingMu.Unlock()
	last, ok := s.typing[key]
	return ok && now.Sub(last) < TypingInterval && !now.Before(last)
}
