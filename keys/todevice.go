package keys

import (
	"context"
	"encoding/base64"
	"log/slog"
	"sort"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/wire"
)

// ToDeviceInput is a send of pairwise ciphertext to client installs.
type ToDeviceInput struct {
	// FromClient names the sender's client when the access token is bound
	// to none yet (it must be one of the caller's clients); by default the
	// token's client_id.
	FromClient string           `json:"from_client,omitempty"`
	Messages   []ToDeviceTarget `json:"messages"`
}

// ToDeviceTarget is one message of a send.
type ToDeviceTarget struct {
	UserID     string `json:"user_id"`
	ClientID   string `json:"client_id"`
	Ciphertext string `json:"ciphertext" doc:"standard base64, at most 48 KiB of it"`
}

// SendToDevice stores messages for client installs until each client
// acknowledges it (or InboxTTL passes), and notifies the nodes holding
// their sockets. 1 to MaxToDeviceMessages messages, each for a live client
// of the user it names (ENotFound otherwise), whose inbox holds fewer than
// MaxInbox messages (EConflict). Nothing is stored unless all are. It
// returns the messages' ids, in order.
func (s *Service) SendToDevice(ctx context.Context, in ToDeviceInput) ([]string, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if len(in.Messages) == 0 || len(in.Messages) > MaxToDeviceMessages {
		return nil, unhidra.Errorf(unhidra.EInvalid, "messages must hold 1 to %d messages", MaxToDeviceMessages)
	}
	for i, m := range in.Messages {
		if err := unhidra.CheckID(indexed("messages", i, "user_id"), m.UserID); err != nil {
			return nil, err
		}
		if err := CheckClientID(indexed("messages", i, "client_id"), m.ClientID); err != nil {
			return nil, err
		}
		if err := checkCiphertext(indexed("messages", i, "ciphertext"), m.Ciphertext); err != nil {
			return nil, err
		}
	}
	from := p.ClientID
	if in.FromClient != "" {
		if err := CheckClientID("from_client", in.FromClient); err != nil {
			return nil, err
		}
		if from != "" && from != in.FromClient {
			return nil, unhidra.Errorf(unhidra.EInvalid, "from_client differs from the client this access token is bound to")
		}
		from = in.FromClient
	}
	if from == "" {
		return nil, unhidra.Errorf(unhidra.EInvalid, "this access token is bound to no client: pass from_client, or refresh the token after registering the client")
	}
	if _, err := ownClient(ctx, s.cfg.Store, p.UserID, from); err != nil {
		if unhidra.ErrorCode(err) == unhidra.ENotFound {
			return nil, unhidra.Errorf(unhidra.EInvalid, "from_client %s is not one of your clients", from)
		}
		return nil, err
	}
	if err := s.limited(ctx, s.cfg.SendLimit, "to-device sends", p.UserID); err != nil {
		return nil, err
	}
	now := s.clock()
	msgs := make([]*unhidra.ToDeviceMessage, len(in.Messages))
	ids := make([]string, len(in.Messages))
	targets := map[string]int{} // client id → messages for it
	for i, m := range in.Messages {
		ids[i] = newID()
		msgs[i] = &unhidra.ToDeviceMessage{ID: ids[i], UserID: m.UserID, ClientID: m.ClientID, FromUser: p.UserID, FromClient: from,
			Ciphertext: m.Ciphertext, CreatedAt: now, ExpiresAt: now.Add(InboxTTL)}
		targets[m.ClientID]++
	}
	clientIDs := make([]string, 0, len(targets))
	for id := range targets {
		clientIDs = append(clientIDs, id)
	}
	sort.Strings(clientIDs)
	err = s.cfg.Store.Tx(ctx, func(tx Tx) error {
		found, err := tx.ClientsByID(ctx, clientIDs)
		if err != nil {
			return err
		}
		owner := make(map[string]string, len(found))
		for _, c := range found {
			if c.RemovedAt == nil {
				owner[c.ClientID] = c.UserID
			}
		}
		for i, m := range in.Messages {
			if owner[m.ClientID] != m.UserID {
				return unhidra.Errorf(unhidra.ENotFound, "messages[%d]: user %s has no client %s", i, m.UserID, m.ClientID)
			}
		}
		counts, err := tx.CountToDevice(ctx, clientIDs)
		if err != nil {
			return err
		}
		for _, id := range clientIDs {
			if counts[id]+targets[id] > MaxInbox {
				return unhidra.Errorf(unhidra.EConflict, "the inbox of client %s is full (%d messages wait for it); try again after it has read them", id, counts[id])
			}
		}
		return tx.AddToDevice(ctx, msgs)
	})
	if err != nil {
		return nil, err
	}
	s.notify(ctx, msgs)
	return ids, nil
}

// checkCiphertext checks a to-device ciphertext: standard base64 of at
// most MaxToDeviceCiphertext characters that decodes.
func checkCiphertext(field, ct string) error {
	if ct == "" {
		return unhidra.Errorf(unhidra.EInvalid, "%s is required", field)
	}
	if len(ct) > MaxToDeviceCiphertext {
		return unhidra.Errorf(unhidra.EInvalid, "%s is longer than %d characters", field, MaxToDeviceCiphertext)
	}
	if _, err := decodeBase64(field, ct, base64.StdEncoding.DecodedLen(MaxToDeviceCiphertext)); err != nil {
		return err
	}
	return nil
}

// notify publishes a to_device notice per client (ids only) on its user's
// subject. A lost notice delays delivery to the next connect or read; it
// loses nothing.
func (s *Service) notify(ctx context.Context, msgs []*unhidra.ToDeviceMessage) {
	if s.cfg.Bus == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	type target struct{ user, client string }
	byTarget := map[target][]string{}
	var order []target
	for _, m := range msgs {
		t := target{m.UserID, m.ClientID}
		if _, ok := byTarget[t]; !ok {
			order = append(order, t)
		}
		byTarget[t] = append(byTarget[t], m.ID)
	}
	for _, t := range order {
		m := wire.Control{Type: wire.ControlToDevice, ClientID: t.client, IDs: byTarget[t]}
		if err := s.cfg.Bus.Publish(ctx, wire.UserSubject(t.user), m.Encode()); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "to-device notice not published; the messages wait for the next connect",
				slog.String("user_id", t.user), slog.String("client_id", t.client), slog.Any("err", err))
		}
	}
}

// inboxClient is the client whose inbox the caller reads or acknowledges:
// clientID if given, else the access token's client; it must be one of
// the caller's live clients (ENotFound otherwise).
func (s *Service) inboxClient(ctx context.Context, p *unhidra.Principal, clientID string) (string, error) {
	if clientID == "" {
		clientID = p.ClientID
	}
	if clientID == "" {
		return "", unhidra.Errorf(unhidra.EInvalid, "this access token is bound to no client: pass client_id, or refresh the token after registering the client")
	}
	if _, err := ownClient(ctx, s.cfg.Store, p.UserID, clientID); err != nil {
		return "", err
	}
	return clientID, nil
}

// ToDevice returns a page of the unacknowledged messages of one of the
// caller's clients (clientID, or the access token's), oldest first, with
// ids above after; more reports that another page follows.
func (s *Service) ToDevice(ctx context.Context, clientID, after string, limit int) (msgs []*unhidra.ToDeviceMessage, more bool, err error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, false, err
	}
	if clientID, err = s.inboxClient(ctx, p, clientID); err != nil {
		return nil, false, err
	}
	if after != "" {
		if err := unhidra.CheckID("after", after); err != nil {
			return nil, false, err
		}
	}
	if limit < 1 || limit > MaxInboxPage {
		return nil, false, unhidra.Errorf(unhidra.EInvalid, "limit must be 1 to %d", MaxInboxPage)
	}
	msgs, err = s.cfg.Store.ToDevice(ctx, p.UserID, clientID, nil, after, s.now(), limit+1)
	if err != nil {
		return nil, false, err
	}
	if len(msgs) > limit {
		return msgs[:limit], true, nil
	}
	return msgs, false, nil
}

// AckToDevice acknowledges messages of one of the caller's clients
// (clientID, or the access token's): they are deleted. Ids that are not
// waiting for that client are ignored; it returns how many were deleted.
func (s *Service) AckToDevice(ctx context.Context, clientID string, ids []string) (int, error) {
	p, err := writer(ctx)
	if err != nil {
		return 0, err
	}
	if len(ids) == 0 || len(ids) > wire.MaxAckIDs {
		return 0, unhidra.Errorf(unhidra.EInvalid, "ids must hold 1 to %d ids", wire.MaxAckIDs)
	}
	for _, id := range ids {
		if err := unhidra.CheckID("ids", id); err != nil {
			return 0, err
		}
	}
	if clientID, err = s.inboxClient(ctx, p, clientID); err != nil {
		return 0, err
	}
	return s.cfg.Store.AckToDevice(ctx, p.UserID, clientID, ids)
}

// PendingToDevice reads a client's unacknowledged messages for the node
// that holds its sockets (the gateway), not for a caller: those of ids
// when ids is not nil, else up to limit with ids above after, ascending.
func (s *Service) PendingToDevice(ctx context.Context, userID, clientID string, ids []string, after string, limit int) ([]*unhidra.ToDeviceMessage, error) {
	return s.cfg.Store.ToDevice(ctx, userID, clientID, ids, after, s.now(), limit)
}

// Sweep deletes the to-device messages past InboxTTL and the retired
// prekeys past RetiredGrace. Every node runs it; what another node
// deleted first is simply gone.
func (s *Service) Sweep(ctx context.Context, now time.Time) (messages, prekeys int64, err error) {
	return s.cfg.Store.Sweep(ctx, now, now.Add(-RetiredGrace))
}
