package chat

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/wire"
)

// CreateChannelInput is a request to create a channel or open a DM.
type CreateChannelInput struct {
	Name      string
	Kind      string
	Encrypted *bool // default false (DMs too, until the server has E2EE)
	Topic     string
	Purpose   string
	Members   []string // direct: the other members (the caller is implied)
}

// ChannelUpdate lists the fields UpdateChannel may change; nil: unchanged.
type ChannelUpdate struct {
	Name, Topic, Purpose *string
}

var channelNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,79}$`)

// normalizeName lower-cases a channel name and checks it: 1 to 80 of a-z,
// 0-9, '.', '_' and '-', starting with a letter or digit, so that it can
// stand in a search's in: operator.
func normalizeName(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "#")))
	if !channelNameRE.MatchString(n) {
		return "", unhidra.Errorf(unhidra.EInvalid, "name must be 1 to 80 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
	}
	return n, nil
}

// CreateChannel creates a public or private channel with the caller as its
// owner, or opens a direct channel. A DM with the same member set and mode
// as an existing one returns that one with created == false.
func (s *Service) CreateChannel(ctx context.Context, in CreateChannelInput) (*unhidra.Channel, bool, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, false, err
	}
	if in.Kind == unhidra.ChannelDirect {
		return s.createDirect(ctx, p, in)
	}
	if p.Role == unhidra.RoleGuest {
		return nil, false, unhidra.Errorf(unhidra.EPermission, "guests may not create channels")
	}
	if in.Kind != unhidra.ChannelPublic && in.Kind != unhidra.ChannelPrivate {
		return nil, false, unhidra.Errorf(unhidra.EInvalid, `kind must be "public", "private" or "direct"`)
	}
	if len(in.Members) > 0 {
		return nil, false, unhidra.Errorf(unhidra.EInvalid, "members is only for direct channels; add members after creating the channel")
	}
	name, err := normalizeName(in.Name)
	if err != nil {
		return nil, false, err
	}
	if err := unhidra.CheckText("topic", in.Topic, 250); err != nil {
		return nil, false, err
	}
	if err := unhidra.CheckText("purpose", in.Purpose, 250); err != nil {
		return nil, false, err
	}
	now := s.now().UTC().Truncate(1000)
	ch := &unhidra.Channel{
		ID: newID(), Name: name, Kind: in.Kind, Encrypted: in.Encrypted != nil && *in.Encrypted,
		Topic: in.Topic, Purpose: in.Purpose, CreatedBy: p.UserID, CreatedAt: now, UpdatedAt: now,
	}
	err = s.inChannel(ctx, "create_channel", ch.ID, func(c *change) error {
		if err := c.tx.InsertChannel(ctx, ch, ""); err != nil {
			return err
		}
		// The kind and mode, not the name or topic (user text).
		if err := c.audit(ctx, audit.ActionChannelCreate, "channel", ch.ID,
			map[string]string{"kind": ch.Kind, "encrypted": strconv.FormatBool(ch.Encrypted)}); err != nil {
			return err
		}
		m := &unhidra.Member{ChannelID: ch.ID, UserID: p.UserID, Role: unhidra.ChannelOwner, JoinedAt: c.now}
		if err := c.tx.InsertMember(ctx, m); err != nil {
			return err
		}
		seq, err := c.emitMember(ctx, wire.TypeMemberJoined, p.UserID, m.Role)
		if err != nil {
			return err
		}
		if err := setRead(ctx, c.tx, ch.ID, p.UserID, seq); err != nil {
			return err
		}
		c.subscribeUser(p.UserID, seq)
		ch.LastSeq, ch.LastReadSeq = seq, seq
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	ch.Role, ch.Notify = unhidra.ChannelOwner, "all"
	return ch, true, nil
}

func setRead(ctx context.Context, tx Tx, channelID, userID string, seq int64) error {
	_, err := tx.SetLastRead(ctx, channelID, userID, seq)
	return err
}

// dmKey identifies a direct channel by mode and member set.
func dmKey(encrypted bool, members []string) string {
	mode := "standard"
	if encrypted {
		mode = "encrypted"
	}
	return mode + ":" + strings.Join(members, ",")
}

func (s *Service) createDirect(ctx context.Context, p *unhidra.Principal, in CreateChannelInput) (*unhidra.Channel, bool, error) {
	if in.Name != "" || in.Topic != "" || in.Purpose != "" {
		return nil, false, unhidra.Errorf(unhidra.EInvalid, "direct channels have no name, topic or purpose")
	}
	set := map[string]bool{p.UserID: true}
	for _, id := range in.Members {
		if id == "" || len(id) > 64 {
			return nil, false, unhidra.Errorf(unhidra.EInvalid, "members must be user ids")
		}
		set[id] = true
	}
	if len(set) < 2 {
		return nil, false, unhidra.Errorf(unhidra.EInvalid, "a direct channel needs at least one other member")
	}
	if len(set) > MaxDirectMembers {
		return nil, false, unhidra.Errorf(unhidra.EInvalid, "a direct channel has at most %d members", MaxDirectMembers)
	}
	members := make([]string, 0, len(set))
	for id := range set {
		members = append(members, id)
	}
	slices.Sort(members)
	for _, id := range members {
		if id == p.UserID {
			continue
		}
		done := s.observe("user_by_id")
		u, err := s.store.UserByID(ctx, id)
		done()
		if unhidra.ErrorCode(err) == unhidra.ENotFound || (err == nil && u.Disabled) {
			return nil, false, unhidra.Errorf(unhidra.ENotFound, "user %s not found", id)
		} else if err != nil {
			return nil, false, err
		}
		if p.Role == unhidra.RoleGuest {
			shared, err := s.store.SharesChannel(ctx, p.UserID, id)
			if err != nil {
				return nil, false, err
			}
			if !shared {
				// Not found rather than forbidden: a guest learns nothing
				// of the people outside their channels.
				return nil, false, unhidra.Errorf(unhidra.ENotFound, "user %s not found", id)
			}
		}
	}
	encrypted := in.Encrypted != nil && *in.Encrypted
	key := dmKey(encrypted, members)
	existing := func() (*unhidra.Channel, bool, error) {
		done := s.observe("channel_by_dm_key")
		ch, err := s.store.ChannelByDMKey(ctx, key)
		done()
		if err != nil {
			return nil, false, err
		}
		v, err := s.channelView(ctx, p.UserID, ch.ID)
		return v, false, err
	}
	if ch, created, err := existing(); err == nil {
		return ch, created, nil
	} else if unhidra.ErrorCode(err) != unhidra.ENotFound {
		return nil, false, err
	}
	now := s.now().UTC().Truncate(1000)
	ch := &unhidra.Channel{
		ID: newID(), Kind: unhidra.ChannelDirect, Encrypted: encrypted, CreatedBy: p.UserID,
		CreatedAt: now, UpdatedAt: now, Members: members,
	}
	// The caller joins first, so the first event (seq 1) is theirs.
	order := append([]string{p.UserID}, slices.DeleteFunc(slices.Clone(members), func(id string) bool { return id == p.UserID })...)
	err := s.inChannel(ctx, "create_direct", ch.ID, func(c *change) error {
		if err := c.tx.InsertChannel(ctx, ch, key); err != nil {
			return err
		}
		for _, id := range order {
			m := &unhidra.Member{ChannelID: ch.ID, UserID: id, Role: unhidra.ChannelMember, JoinedAt: c.now}
			if err := c.tx.InsertMember(ctx, m); err != nil {
				return err
			}
			seq, err := c.emitMember(ctx, wire.TypeMemberJoined, id, m.Role)
			if err != nil {
				return err
			}
			c.subscribeUser(id, seq)
		}
		return nil
	})
	if unhidra.ErrorCode(err) == unhidra.EConflict {
		// Another request created the same DM first: that one is the DM.
		return existing()
	} else if err != nil {
		return nil, false, err
	}
	v, err := s.channelView(ctx, p.UserID, ch.ID)
	return v, true, err
}

// channelView returns a channel with userID's per-user fields.
func (s *Service) channelView(ctx context.Context, userID, channelID string) (*unhidra.Channel, error) {
	done := s.observe("user_channels")
	chs, err := s.store.UserChannels(ctx, userID)
	done()
	if err != nil {
		return nil, err
	}
	for _, ch := range chs {
		if ch.ID == channelID {
			return ch, nil
		}
	}
	return nil, unhidra.Errorf(unhidra.ENotFound, "channel not found")
}

// ListChannels returns the caller's channels with their unread and mention
// counts.
func (s *Service) ListChannels(ctx context.Context) ([]*unhidra.Channel, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	done := s.observe("user_channels")
	defer done()
	chs, err := s.store.UserChannels(ctx, p.UserID)
	if chs == nil && err == nil {
		chs = []*unhidra.Channel{}
	}
	return chs, err
}

// BrowseChannels lists public, unarchived channels whose name contains q,
// by name, after the name after.
func (s *Service) BrowseChannels(ctx context.Context, q, after string, limit int) ([]*unhidra.Channel, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if p.Role == unhidra.RoleGuest {
		return []*unhidra.Channel{}, nil // guests see only the channels they are in
	}
	if len(q) > 80 || len(after) > 80 {
		return nil, unhidra.Errorf(unhidra.EInvalid, "q is at most 80 characters")
	}
	done := s.observe("browse_public")
	defer done()
	chs, err := s.store.BrowsePublic(ctx, q, after, limit)
	if chs == nil && err == nil {
		chs = []*unhidra.Channel{}
	}
	return chs, err
}

// GetChannel returns a channel: with the caller's per-user fields when a
// member, the bare public channel otherwise.
func (s *Service) GetChannel(ctx context.Context, id string) (*unhidra.Channel, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.loadRead(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if a.m == nil {
		return a.ch, nil
	}
	return s.channelView(ctx, p.UserID, id)
}

func (s *Service) loadRead(ctx context.Context, p *unhidra.Principal, id string) (*access, error) {
	done := s.observe("load_channel")
	defer done()
	return s.load(ctx, s.store, nil, p, id)
}

// UpdateChannel renames a channel or changes its topic or purpose.
func (s *Service) UpdateChannel(ctx context.Context, id string, upd ChannelUpdate) (*unhidra.Channel, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if upd.Name != nil {
		n, err := normalizeName(*upd.Name)
		if err != nil {
			return nil, err
		}
		upd.Name = &n
	}
	if upd.Topic != nil {
		if err := unhidra.CheckText("topic", *upd.Topic, 250); err != nil {
			return nil, err
		}
	}
	if upd.Purpose != nil {
		if err := unhidra.CheckText("purpose", *upd.Purpose, 250); err != nil {
			return nil, err
		}
	}
	err = s.inChannel(ctx, "update_channel", id, func(c *change) error {
		a, err := s.load(ctx, c.tx, c.tx, p, id)
		if err != nil {
			return err
		}
		if err := a.need(actRename); err != nil {
			return err
		}
		ch := a.ch
		changed := false
		for _, f := range []struct {
			v   *string
			dst *string
		}{{upd.Name, &ch.Name}, {upd.Topic, &ch.Topic}, {upd.Purpose, &ch.Purpose}} {
			if f.v != nil && *f.v != *f.dst {
				*f.dst, changed = *f.v, true
			}
		}
		if !changed {
			return nil
		}
		ch.UpdatedAt = c.now
		if err := c.tx.UpdateChannel(ctx, ch); err != nil {
			return err
		}
		_, err = c.emitChannel(ctx, ch)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.GetChannel(ctx, id)
}

// ArchiveChannel makes a channel read-only for good. Archiving twice is not
// an error.
func (s *Service) ArchiveChannel(ctx context.Context, id string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.inChannel(ctx, "archive_channel", id, func(c *change) error {
		a, err := s.load(ctx, c.tx, c.tx, p, id)
		if err != nil {
			return err
		}
		if a.ch.Archived {
			if a.allowed(actArchive) {
				return nil
			}
			return unhidra.Errorf(unhidra.EPermission, "you may not %s", actionNames[actArchive])
		}
		if err := a.need(actArchive); err != nil {
			return err
		}
		a.ch.ArchivedAt, a.ch.Archived, a.ch.UpdatedAt = &c.now, true, c.now
		if err := c.tx.UpdateChannel(ctx, a.ch); err != nil {
			return err
		}
		if err := c.audit(ctx, audit.ActionChannelArchive, "channel", a.ch.ID, nil); err != nil {
			return err
		}
		_, err = c.emitChannel(ctx, a.ch)
		return err
	})
}

// Join makes the caller a member of a public channel. Joining twice is not
// an error.
func (s *Service) Join(ctx context.Context, id string) (*unhidra.Channel, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.inChannel(ctx, "join", id, func(c *change) error {
		a, err := s.load(ctx, c.tx, c.tx, p, id)
		if err != nil {
			return err
		}
		if a.m != nil {
			return nil
		}
		if a.ch.Kind != unhidra.ChannelPublic {
			return unhidra.Errorf(unhidra.ENotFound, "channel not found")
		}
		if a.ch.Archived {
			return unhidra.Errorf(unhidra.EPermission, "this channel is archived and read-only")
		}
		return addMember(ctx, c, p.UserID, unhidra.ChannelMember)
	})
	if err != nil {
		return nil, err
	}
	return s.channelView(ctx, p.UserID, id)
}

// addMember inserts a membership, emits member_joined, starts the new
// member's read position at their own join and subscribes their sockets.
func addMember(ctx context.Context, c *change, userID, role string) error {
	m := &unhidra.Member{ChannelID: c.channelID, UserID: userID, Role: role, JoinedAt: c.now}
	if err := c.tx.InsertMember(ctx, m); err != nil {
		return err
	}
	if err := c.audit(ctx, audit.ActionMemberAdd, "user", userID, map[string]string{"channel_id": c.channelID, "role": role}); err != nil {
		return err
	}
	seq, err := c.emitMember(ctx, wire.TypeMemberJoined, userID, role)
	if err != nil {
		return err
	}
	if err := setRead(ctx, c.tx, c.channelID, userID, seq); err != nil {
		return err
	}
	c.subscribeUser(userID, seq)
	return nil
}

// removeMember deletes a membership, emits member_left and unsubscribes the
// member's sockets after it. The last owner cannot go while others stay.
func removeMember(ctx context.Context, c *change, target *unhidra.Member) error {
	if target.Role == unhidra.ChannelOwner {
		owners, err := c.tx.CountOwners(ctx, c.channelID)
		if err != nil {
			return err
		}
		ids, err := c.tx.MemberIDs(ctx, c.channelID)
		if err != nil {
			return err
		}
		if owners == 1 && len(ids) > 1 {
			return unhidra.Errorf(unhidra.EConflict, "the last owner cannot leave: make another member an owner first")
		}
	}
	if err := c.tx.DeleteMember(ctx, c.channelID, target.UserID); err != nil {
		return err
	}
	if err := c.audit(ctx, audit.ActionMemberRemove, "user", target.UserID, map[string]string{"channel_id": c.channelID, "role": target.Role}); err != nil {
		return err
	}
	seq, err := c.emitMember(ctx, wire.TypeMemberLeft, target.UserID, "")
	if err != nil {
		return err
	}
	c.unsubscribeUser(target.UserID, seq)
	return nil
}

// Leave ends the caller's membership. Members of a direct channel cannot
// leave it (its member set is its identity).
func (s *Service) Leave(ctx context.Context, id string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.inChannel(ctx, "leave", id, func(c *change) error {
		a, err := s.load(ctx, c.tx, c.tx, p, id)
		if err != nil {
			return err
		}
		if a.m == nil {
			return unhidra.Errorf(unhidra.EConflict, "you are not a member of this channel")
		}
		if a.ch.Kind == unhidra.ChannelDirect {
			return unhidra.Errorf(unhidra.EPermission, "the members of a direct channel are fixed")
		}
		return removeMember(ctx, c, a.m)
	})
}

// Members lists a channel's members by user id.
func (s *Service) Members(ctx context.Context, id, after string, limit int) ([]*unhidra.Member, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.loadRead(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if err := a.need(actRead); err != nil {
		return nil, err
	}
	done := s.observe("members")
	defer done()
	ms, err := s.store.Members(ctx, id, after, limit)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		// Another member's read position and preferences are their own.
		if m.UserID != p.UserID {
			m.LastReadSeq, m.Muted, m.Notify, m.Hidden = 0, false, "", false
		}
	}
	if ms == nil {
		ms = []*unhidra.Member{}
	}
	return ms, nil
}

// SetMember adds userID to the channel with role, or changes their role if
// they are a member already (a member_joined event with the new role).
// created reports an addition.
func (s *Service) SetMember(ctx context.Context, channelID, userID, role string) (*unhidra.Member, bool, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, false, err
	}
	if !validRole(role) {
		return nil, false, unhidra.Errorf(unhidra.EInvalid, `role must be "owner", "admin", "moderator" or "member"`)
	}
	var created bool
	err = s.inChannel(ctx, "set_member", channelID, func(c *change) error {
		a, err := s.load(ctx, c.tx, c.tx, p, channelID)
		if err != nil {
			return err
		}
		target, err := c.tx.Member(ctx, channelID, userID)
		if unhidra.ErrorCode(err) == unhidra.ENotFound {
			if err := a.need(actAddMember); err != nil {
				return err
			}
			if role != unhidra.ChannelMember && !a.canSetRole(unhidra.ChannelMember, role) {
				return unhidra.Errorf(unhidra.EPermission, "you may not give the role %s", role)
			}
			u, err := s.store.UserByID(ctx, userID)
			if unhidra.ErrorCode(err) == unhidra.ENotFound || (err == nil && u.Disabled) {
				return unhidra.Errorf(unhidra.ENotFound, "user not found")
			} else if err != nil {
				return err
			}
			created = true
			return addMember(ctx, c, userID, role)
		} else if err != nil {
			return err
		}
		if err := a.need(actView); err != nil {
			return err
		}
		if !a.canSetRole(target.Role, role) || a.ch.Kind == unhidra.ChannelDirect {
			return unhidra.Errorf(unhidra.EPermission, "you may not %s", actionNames[actSetRole])
		}
		if err := a.need(actSetRole); err != nil {
			return err
		}
		if target.Role == role {
			return nil
		}
		if target.Role == unhidra.ChannelOwner {
			n, err := c.tx.CountOwners(ctx, channelID)
			if err != nil {
				return err
			}
			if n == 1 {
				return unhidra.Errorf(unhidra.EConflict, "a channel needs an owner: make another member an owner first")
			}
		}
		if err := c.tx.SetRole(ctx, channelID, userID, role); err != nil {
			return err
		}
		if err := c.audit(ctx, audit.ActionMemberRole, "user", userID, map[string]string{"channel_id": channelID, "old_role": target.Role, "role": role}); err != nil {
			return err
		}
		_, err = c.emitMember(ctx, wire.TypeMemberJoined, userID, role)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	done := s.observe("member")
	defer done()
	m, err := s.store.Member(ctx, channelID, userID)
	if err != nil {
		return nil, false, err
	}
	if m.UserID != p.UserID {
		m.LastReadSeq, m.Muted, m.Notify, m.Hidden = 0, false, "", false
	}
	return m, created, nil
}

// RemoveMember removes userID from the channel. Removing oneself is
// leaving.
func (s *Service) RemoveMember(ctx context.Context, channelID, userID string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if userID == p.UserID {
		return s.Leave(ctx, channelID)
	}
	return s.inChannel(ctx, "remove_member", channelID, func(c *change) error {
		a, err := s.load(ctx, c.tx, c.tx, p, channelID)
		if err != nil {
			return err
		}
		if err := a.need(actRemoveMember); err != nil {
			return err
		}
		target, err := c.tx.Member(ctx, channelID, userID)
		if unhidra.ErrorCode(err) == unhidra.ENotFound {
			return unhidra.Errorf(unhidra.ENotFound, "member not found")
		} else if err != nil {
			return err
		}
		if !a.canRemove(target.Role) {
			return unhidra.Errorf(unhidra.EPermission, "you may not %s", actionNames[actRemoveMember])
		}
		return removeMember(ctx, c, target)
	})
}

// SetPrefs changes the caller's own preferences for a channel.
func (s *Service) SetPrefs(ctx context.Context, id string, prefs Prefs) (*unhidra.Channel, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if prefs.Notify != nil {
		switch *prefs.Notify {
		case "all", "mentions", "none":
		default:
			return nil, unhidra.Errorf(unhidra.EInvalid, `notify must be "all", "mentions" or "none"`)
		}
	}
	a, err := s.loadRead(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if a.m == nil {
		return nil, unhidra.Errorf(unhidra.EPermission, "join this channel to set preferences for it")
	}
	done := s.observe("set_prefs")
	err = s.store.Tx(ctx, func(tx Tx) error { return tx.SetPrefs(ctx, id, p.UserID, prefs) })
	done()
	if err != nil {
		return nil, err
	}
	return s.channelView(ctx, p.UserID, id)
}
