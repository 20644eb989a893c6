package gateway

import (
	"context"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/wire"
)

// Authenticator establishes the caller of a socket from an access token
// (auth.Service implements it). It checks the session is live, so a revoked
// session cannot open or re-authenticate a socket.
type Authenticator interface {
	Authenticate(ctx context.Context, accessToken string) (*unhidra.Principal, error)
	// Me returns the caller's account, for the hello frame.
	Me(ctx context.Context) (*unhidra.User, error)
}

// Chat is what the gateway asks of the chat service for a socket's user
// (chat.Service implements it). Each method takes the caller from ctx
// (unhidra.NewContextWithPrincipal) and decides itself whether the caller
// may do it; the gateway never decides who may do what.
type Chat interface {
	// MemberChannels returns the channels the caller belongs to, each with
	// its current last event seq.
	MemberChannels(ctx context.Context) (map[string]int64, error)
	// Send posts a message as the caller. A retry with the same
	// client_msg_id and content returns the stored message with created ==
	// false. Errors are *unhidra.Error, the same as for the REST call.
	Send(ctx context.Context, in unhidra.SendInput) (msg *unhidra.Message, created bool, err error)
	// MarkRead records the caller's read position and broadcasts the
	// receipt (on wire.ChannelEphemeralSubject).
	MarkRead(ctx context.Context, channelID string, seq int64) error
	// Typing broadcasts that the caller is typing (on
	// wire.ChannelEphemeralSubject); the service throttles it.
	Typing(ctx context.Context, channelID string) error
}

// Events reads channel events and memberships for the node, not for a
// caller (chat.Service implements it). The gateway reads a channel's
// events once for every local socket that needs them and hands each socket
// only what its subscription allows: a subscription exists only for a
// channel that Chat.MemberChannels or a control message from the chat
// service gave the socket's user, and ends at that user's member_left.
type Events interface {
	// ChannelEvents returns the channel's events with seq > after,
	// ascending, at most limit, with their metadata, as they replay (a
	// deleted message's events as its tombstone, docs/api.md).
	ChannelEvents(ctx context.Context, channelID string, after int64, limit int) ([]wire.Event, error)
	// ChannelIDsOf lists the channels userID belongs to, so that a user's
	// presence reaches only sockets of users who share a channel with them.
	ChannelIDsOf(ctx context.Context, userID string) ([]string, error)
}
