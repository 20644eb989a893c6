package chat

import (
	"context"

	"github.com/unhidra/unhidra"
)

// action is something a caller may or may not do in a channel. The matrix
// (docs/permissions.md) is this file: allowed says who may do what.
type action int

const (
	actView         action = iota // see the channel's metadata
	actRead                       // history, members, pins, threads, events
	actPost                       // send, react, follow
	actRename                     // name, topic, purpose
	actArchive                    // archive (DELETE /channels/{id})
	actAddMember                  // invite someone
	actRemoveMember               // remove someone (and the target's role must be lower)
	actSetRole                    // change someone's role (see canSetRole)
	actDeleteOthers               // delete someone else's message
	actPin                        // pin and unpin
	actEditHistory                // read someone else's edit history
	actDisappear                  // set the disappearing-messages timer
)

var actionNames = map[action]string{
	actView: "view this channel", actRead: "read this channel", actPost: "post in this channel",
	actRename: "change this channel's name, topic or purpose", actArchive: "archive this channel",
	actAddMember: "add members to this channel", actRemoveMember: "remove this member",
	actSetRole: "change this member's role", actDeleteOthers: "delete other people's messages here",
	actPin: "pin messages here", actEditHistory: "see the edit history of other people's messages",
	actDisappear: "set this channel's disappearing-messages timer",
}

// rank orders the channel roles; 0 is "not a member".
func rank(role string) int {
	switch role {
	case unhidra.ChannelOwner:
		return 4
	case unhidra.ChannelAdmin:
		return 3
	case unhidra.ChannelModerator:
		return 2
	case unhidra.ChannelMember:
		return 1
	}
	return 0
}

func validRole(role string) bool { return rank(role) > 0 }

// minRank is the weakest channel role allowed each moderation action in
// public and private channels. Direct channels have no moderation: every
// member is a plain member, and only actView, actRead, actPost, actPin,
// actDisappear and actEditHistory (own messages only) apply.
var minRank = map[action]int{
	actView:         1,
	actRead:         1,
	actPost:         1,
	actRename:       3, // admin
	actArchive:      4, // owner
	actAddMember:    2, // moderator
	actRemoveMember: 2, // moderator (and only members below them)
	actSetRole:      3, // admin (see canSetRole)
	actDeleteOthers: 2, // moderator
	actPin:          2, // moderator
	actEditHistory:  2, // moderator
	actDisappear:    2, // moderator (any member in a direct channel)
}

// access is what the service knows about a caller and a channel when it
// decides.
type access struct {
	p        *unhidra.Principal
	ch       *unhidra.Channel
	m        *unhidra.Member // nil: not a member
	sysAdmin bool
	guest    bool
}

// role is the caller's effective channel role. A system admin who is not a
// member acts as an owner of public channels (to moderate the public space)
// and has no power at all in private and direct channels, which stay
// invisible to them.
func (a *access) role() string {
	if a.guest {
		// A guest is at most a plain member, whatever role they were given.
		if a.m != nil {
			return unhidra.ChannelMember
		}
		return ""
	}
	if a.m != nil {
		if a.sysAdmin && a.ch.Kind == unhidra.ChannelPublic {
			return unhidra.ChannelOwner
		}
		return a.m.Role
	}
	if a.sysAdmin && a.ch.Kind == unhidra.ChannelPublic {
		return unhidra.ChannelOwner
	}
	return ""
}

// allowed reports whether the caller may do act.
func (a *access) allowed(act action) bool {
	if a.ch.Kind == unhidra.ChannelDirect {
		switch act {
		case actView, actRead, actPost, actPin, actDisappear:
			return a.m != nil
		}
		return false
	}
	if a.m == nil {
		// Non-members may see a public channel exists; reading and posting
		// take membership (join first), whoever the caller is. Guests see
		// only the channels they are in.
		switch act {
		case actView:
			return a.ch.Kind == unhidra.ChannelPublic && !a.guest
		case actRead, actPost, actPin, actDisappear:
			return false
		}
	}
	return rank(a.role()) >= minRank[act]
}

// need returns nil if the caller may do act, and otherwise the error to
// answer: not_found where the caller may not even see the channel,
// permission_denied where they may.
func (a *access) need(act action) error {
	if !a.allowed(actView) {
		return unhidra.Errorf(unhidra.ENotFound, "channel not found")
	}
	if !a.allowed(act) {
		if act == actRead || act == actPost {
			return unhidra.Errorf(unhidra.EPermission, "join this channel to %s", actionNames[act][:4])
		}
		return unhidra.Errorf(unhidra.EPermission, "you may not %s", actionNames[act])
	}
	if a.ch.Archived {
		switch act {
		case actView, actRead, actEditHistory:
		default:
			return unhidra.Errorf(unhidra.EPermission, "this channel is archived and read-only")
		}
	}
	return nil
}

// canSetRole decides a role change of target (current role from, new role
// to) by the caller. Owners may give any role to anyone; admins may move
// members and moderators between those two roles; nobody else may change
// roles. Demoting the last owner is refused separately (conflict).
func (a *access) canSetRole(from, to string) bool {
	if a.ch.Kind == unhidra.ChannelDirect {
		return false
	}
	r := rank(a.role())
	switch {
	case r >= 4:
		return true
	case r >= 3:
		return rank(from) < 3 && rank(to) < 3
	}
	return false
}

// canRemove decides whether the caller may remove a member with role
// target: only members below the caller's own role, except that owners may
// remove anyone.
func (a *access) canRemove(target string) bool {
	if !a.allowed(actRemoveMember) {
		return false
	}
	r := rank(a.role())
	return r >= 4 || rank(target) < r
}

// load reads the channel and the caller's membership on r. In a
// transaction pass it as tx too: the channel row is then locked first
// (Tx.LockChannel), so the decision cannot be raced by another writer of
// the channel. An id that is not an id is invalid_argument.
func (s *Service) load(ctx context.Context, r Reader, tx Tx, p *unhidra.Principal, channelID string) (*access, error) {
	if err := unhidra.CheckID("channel_id", channelID); err != nil {
		return nil, err
	}
	var ch *unhidra.Channel
	var err error
	if tx != nil {
		ch, err = tx.LockChannel(ctx, channelID)
	} else {
		ch, err = r.Channel(ctx, channelID)
	}
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil, unhidra.Errorf(unhidra.ENotFound, "channel not found")
	} else if err != nil {
		return nil, err
	}
	a := &access{p: p, ch: ch, sysAdmin: p.Role == unhidra.RoleAdmin, guest: p.Role == unhidra.RoleGuest}
	m, err := r.Member(ctx, channelID, p.UserID)
	switch unhidra.ErrorCode(err) {
	case "":
		a.m = m
	case unhidra.ENotFound:
	default:
		return nil, err
	}
	if !a.allowed(actView) {
		return nil, unhidra.Errorf(unhidra.ENotFound, "channel not found")
	}
	return a, nil
}
