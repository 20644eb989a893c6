package chat

import (
	"context"

	"github.com/unhidra/unhidra"
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

// ChannelIDsOf lists the channels userID belongs to (gateway.Chat; not an
// action of the caller).
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
// at most limit (1 to MaxEventsPage). Only members may replay: a member who
// left gets not_found (private) or permission_denied (public).
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
	done := s.observe("events")
	defer done()
	evs, err := s.store.Events(ctx, channelID, after, limit)
	if evs == nil && err == nil {
		evs = []unhidra.Event{}
	}
	return evs, err
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
		s.publishJSON(context.WithoutCancel(ctx), unhidra.ChannelEphemeralSubject(channelID),
			readFrame{Type: "read", ChannelID: channelID, UserID: p.UserID, Seq: seq})
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
		s.publishJSON(context.WithoutCancel(ctx), unhidra.ChannelEphemeralSubject(id),
			readFrame{Type: "read", ChannelID: id, UserID: p.UserID, Seq: seq})
	}
	return nil
}

// Typing broadcasts that the caller is typing in a channel, at most once
// per TypingInterval per user and channel; calls in between succeed and
// send nothing.
func (s *Service) Typing(ctx context.Context, channelID string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	a, err := s.loadRead(ctx, p, channelID)
	if err != nil {
		return err
	}
	if err := a.need(actPost); err != nil {
		return err
	}
	now := s.now()
	key := p.UserID + "/" + channelID
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
		s.publishJSON(context.WithoutCancel(ctx), unhidra.ChannelEphemeralSubject(channelID),
			typingFrame{Type: "typing", ChannelID: channelID, UserID: p.UserID})
	}
	return nil
}
