package chat

import (
	"context"
	"encoding/base64"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
)

// The admins' view of channels: every public and private channel, whether
// or not they are a member, its members, and archiving it. Direct channels
// stay out of it (they have no name and their members are their
// identity); they are only counted. Nothing here reads messages.

// AdminChannel is a public or private channel as the admins' list shows it.
type AdminChannel struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Kind        string     `json:"kind" doc:"public or private"`
	Encrypted   bool       `json:"encrypted"`
	Archived    bool       `json:"archived"`
	ArchivedAt  *time.Time `json:"archived_at,omitempty"`
	CreatedBy   string     `json:"created_by"`
	CreatedAt   time.Time  `json:"created_at"`
	MemberCount int        `json:"member_count"`
	// LastSeq is the seq of the channel's last event.
	LastSeq int64 `json:"last_seq"`
	// LastActivityAt is when the channel's last event happened (a message,
	// a reaction, a member joining…).
	LastActivityAt *time.Time `json:"last_activity_at,omitempty" doc:"time of the channel's last event"`
}

// AdminChannelPage is one page of AdminChannels.
type AdminChannelPage struct {
	Channels   []*AdminChannel
	NextCursor string
	// DirectCount is how many direct channels the server has.
	DirectCount int
}

// AdminChannels lists public and private channels whose name contains q,
// by name, a page of limit after cursor (admins only).
func (s *Service) AdminChannels(ctx context.Context, q, cursor string, limit int) (*AdminChannelPage, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(q) > 80 {
		return nil, unhidra.Errorf(unhidra.EInvalid, "q is at most 80 characters")
	}
	afterName, afterID, err := decodeChannelCursor(cursor)
	if err != nil {
		return nil, err
	}
	done := s.observe("admin_channels")
	chs, err := s.store.AdminChannels(ctx, q, afterName, afterID, limit+1)
	done()
	if err != nil {
		return nil, err
	}
	pg := &AdminChannelPage{Channels: chs}
	if len(chs) > limit {
		pg.Channels = chs[:limit]
		last := pg.Channels[limit-1]
		pg.NextCursor = encodeChannelCursor(strings.ToLower(last.Name), last.ID)
	}
	if pg.Channels == nil {
		pg.Channels = []*AdminChannel{}
	}
	if pg.DirectCount, err = s.store.CountDirectChannels(ctx); err != nil {
		return nil, err
	}
	return pg, nil
}

// The cursor of AdminChannels: the last row's (lower-cased name, id).
func encodeChannelCursor(name, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(name + "\x00" + id))
}

func decodeChannelCursor(c string) (name, id string, err error) {
	if c == "" {
		return "", "", nil
	}
	bad := unhidra.Errorf(unhidra.EInvalid, "cursor is not valid")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", "", bad
	}
	name, id, ok := strings.Cut(string(b), "\x00")
	if !ok || unhidra.CheckParam("cursor", name, 80) != nil || unhidra.CheckID("cursor", id) != nil {
		return "", "", bad
	}
	return name, id, nil
}

// adminChannel loads a public or private channel for an admin; a direct
// channel is not found, as it is for every admin who is not in it.
func (s *Service) adminChannel(ctx context.Context, r Reader, tx Tx, id string) (*unhidra.Channel, error) {
	if err := unhidra.CheckID("channel id", id); err != nil {
		return nil, err
	}
	var ch *unhidra.Channel
	var err error
	if tx != nil {
		ch, err = tx.LockChannel(ctx, id)
	} else {
		ch, err = r.Channel(ctx, id)
	}
	if err == nil && ch.Kind == unhidra.ChannelDirect {
		err = unhidra.Errorf(unhidra.ENotFound, "channel not found")
	}
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil, unhidra.Errorf(unhidra.ENotFound, "channel not found")
	}
	return ch, err
}

// AdminChannelMembers lists the members of any public or private channel,
// by user id, after after (admins only). Members' read positions and
// preferences are their own and are left out.
func (s *Service) AdminChannelMembers(ctx context.Context, id, after string, limit int) ([]*unhidra.Member, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if after != "" {
		if err := unhidra.CheckID("after", after); err != nil {
			return nil, err
		}
	}
	if _, err := s.adminChannel(ctx, s.store, nil, id); err != nil {
		return nil, err
	}
	done := s.observe("members")
	ms, err := s.store.Members(ctx, id, after, limit)
	done()
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		m.LastReadSeq, m.Muted, m.Notify, m.Hidden = 0, false, "", false
	}
	if ms == nil {
		ms = []*unhidra.Member{}
	}
	return ms, nil
}

// AdminArchiveChannel archives any public or private channel, as its owner
// can (admins only). Archiving twice is not an error.
func (s *Service) AdminArchiveChannel(ctx context.Context, id string) error {
	if _, err := requireAdmin(ctx); err != nil {
		return err
	}
	if err := unhidra.CheckID("channel id", id); err != nil {
		return err
	}
	return s.inChannel(ctx, "admin_archive_channel", id, func(c *change) error {
		ch, err := s.adminChannel(ctx, c.tx, c.tx, id)
		if err != nil || ch.Archived {
			return err
		}
		ch.ArchivedAt, ch.Archived, ch.UpdatedAt = &c.now, true, c.now
		if err := c.tx.UpdateChannel(ctx, ch); err != nil {
			return err
		}
		if err := c.audit(ctx, audit.ActionChannelArchive, "channel", ch.ID, nil); err != nil {
			return err
		}
		_, err = c.emitChannel(ctx, ch)
		return err
	})
}
