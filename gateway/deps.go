package gateway

import (
	"context"

	"github.com/unhidra/unhidra"
)

// Authenticator establishes the caller of a socket from an access token
// (auth.Service implements it). It checks the session is live, so a revoked
// session cannot open or re-authenticate a socket.
type Authenticator interface {
	Authenticate(ctx context.Context, accessToken string) (*unhidra.Principal, error)
	// Me returns the caller's account, for the hello frame.
	Me(ctx context.Context) (*unhidra.User, error)
}

// Chat is what the gateway needs from the chat service (chat.Service
// implements it). Methods that act for a user take the caller from ctx
// (unhidra.NewContextWithPrincipal) and enforce authorization themselves;
// the gateway never decides who may do what.
type Chat interface {
	// MemberChannels returns the channels the caller belongs to, each with
	// its current last event seq.
	MemberChannels(ctx context.Context) (map[string]int64, error)
	// Send posts a message as the caller. A retry with the same
	// client_msg_id and content returns the stored message with created ==
	// false; the same id with other content is a conflict. Errors are
	// *unhidra.Error (invalid_argument, not_found for channels the caller
	// cannot post to, conflict, payload_too_large, rate_limited).
	Send(ctx context.Context, in unhidra.SendInput) (msg *unhidra.Message, created bool, err error)
	// Events returns the caller's channel's events with seq > after in
	// ascending order, at most limit (not_found if the caller is not a
	// member).
	Events(ctx context.Context, channelID string, after int64, limit int) ([]unhidra.Event, error)
	// MarkRead records the caller's read position and broadcasts the receipt
	// (a read frame on unhidra.ChannelEphemeralSubject).
	MarkRead(ctx context.Context, channelID string, seq int64) error
	// Typing broadcasts that the caller is typing (a typing frame on
	// unhidra.ChannelEphemeralSubject); the service throttles it.
	Typing(ctx context.Context, channelID string) error
	// ChannelIDsOf lists the channels userID belongs to. It is not an
	// action of the caller: the gateway uses it to send a user's presence
	// only to sockets of users who share a channel with them.
	ChannelIDsOf(ctx context.Context, userID string) ([]string, error)
}
