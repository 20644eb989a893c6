package client

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/unhidra/unhidra"
)

type channelEnvelope struct {
	Channel *unhidra.Channel `json:"channel"`
}

type messageEnvelope struct {
	Message *unhidra.Message `json:"message"`
}

// CreateChannelInput is a new public or private channel.
type CreateChannelInput struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"` // unhidra.ChannelPublic (default) or unhidra.ChannelPrivate
	Topic string `json:"topic,omitempty"`
	// Encrypted asks for an end-to-end encrypted channel; nil leaves the
	// server's default (standard for channels).
	Encrypted *bool `json:"encrypted,omitempty"`
}

// CreateChannel creates a channel with the caller as its owner.
func (c *Client) CreateChannel(ctx context.Context, in CreateChannelInput) (*unhidra.Channel, error) {
	if in.Kind == "" {
		in.Kind = unhidra.ChannelPublic
	}
	var out channelEnvelope
	if err := c.do(ctx, "POST", "/api/v1/channels", in, &out); err != nil {
		return nil, err
	}
	return out.Channel, nil
}

// CreateDM opens the direct-message channel between the caller and
// userIDs (the caller is implied). The same member set and mode returns the
// existing DM with created false. encrypted must be false for clients that
// cannot encrypt (this SDK posts plain bodies), since the server defaults
// DMs to encrypted once it supports E2EE.
func (c *Client) CreateDM(ctx context.Context, userIDs []string, encrypted bool) (ch *unhidra.Channel, created bool, err error) {
	if len(userIDs) == 0 {
		return nil, false, errors.New("create DM: no members")
	}
	in := struct {
		Kind      string   `json:"kind"`
		Members   []string `json:"members"`
		Encrypted bool     `json:"encrypted"`
	}{unhidra.ChannelDirect, userIDs, encrypted}
	var out channelEnvelope
	status, err := c.doStatus(ctx, "POST", "/api/v1/channels", in, &out)
	if err != nil {
		return nil, false, err
	}
	return out.Channel, status == http.StatusCreated, nil
}

// Channels lists the caller's channels with their read state (last_seq,
// last_read_seq, unread_count, mention_count, muted).
func (c *Client) Channels(ctx context.Context) ([]*unhidra.Channel, error) {
	var out struct {
		Channels []*unhidra.Channel `json:"channels"`
	}
	if err := c.do(ctx, "GET", "/api/v1/channels", nil, &out); err != nil {
		return nil, err
	}
	return out.Channels, nil
}

// ChannelPage is one page of channels.
type ChannelPage struct {
	Channels   []*unhidra.Channel `json:"channels"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

// Browse lists public channels the caller can join whose name matches q.
func (c *Client) Browse(ctx context.Context, q string, opts ListOptions) (*ChannelPage, error) {
	var out ChannelPage
	if err := c.do(ctx, "GET", "/api/v1/channels/browse"+query("q", q, "cursor", opts.Cursor, "limit", opts.limit()), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Channel returns one channel (not_found for channels the caller may not
// see, private ones included).
func (c *Client) Channel(ctx context.Context, id string) (*unhidra.Channel, error) {
	if err := need("channel", id); err != nil {
		return nil, err
	}
	var out channelEnvelope
	if err := c.do(ctx, "GET", "/api/v1/channels/"+esc(id), nil, &out); err != nil {
		return nil, err
	}
	return out.Channel, nil
}

// ChannelUpdate changes a channel; nil fields are left alone.
type ChannelUpdate struct {
	Name    *string `json:"name,omitempty"`
	Topic   *string `json:"topic,omitempty"`
	Purpose *string `json:"purpose,omitempty"`
}

// UpdateChannel renames a channel or changes its topic or purpose.
func (c *Client) UpdateChannel(ctx context.Context, id string, in ChannelUpdate) (*unhidra.Channel, error) {
	if err := need("update channel", id); err != nil {
		return nil, err
	}
	var out channelEnvelope
	if err := c.do(ctx, "PATCH", "/api/v1/channels/"+esc(id), in, &out); err != nil {
		return nil, err
	}
	return out.Channel, nil
}

// Archive archives a channel.
func (c *Client) Archive(ctx context.Context, id string) error {
	if err := need("archive channel", id); err != nil {
		return err
	}
	return c.do(ctx, "DELETE", "/api/v1/channels/"+esc(id), nil, nil)
}

// Join makes the caller a member of a public channel and returns it.
func (c *Client) Join(ctx context.Context, id string) (*unhidra.Channel, error) {
	if err := need("join channel", id); err != nil {
		return nil, err
	}
	var out channelEnvelope
	if err := c.do(ctx, "POST", "/api/v1/channels/"+esc(id)+"/join", nil, &out); err != nil {
		return nil, err
	}
	return out.Channel, nil
}

// Leave ends the caller's membership of a channel.
func (c *Client) Leave(ctx context.Context, id string) error {
	if err := need("leave channel", id); err != nil {
		return err
	}
	return c.do(ctx, "POST", "/api/v1/channels/"+esc(id)+"/leave", nil, nil)
}

// MemberPage is one page of a channel's members.
type MemberPage struct {
	Members    []*unhidra.Member `json:"members"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// Members lists a channel's members, a page at a time.
func (c *Client) Members(ctx context.Context, channelID string, opts ListOptions) (*MemberPage, error) {
	if err := need("members", channelID); err != nil {
		return nil, err
	}
	var out MemberPage
	if err := c.do(ctx, "GET", "/api/v1/channels/"+esc(channelID)+"/members"+query("cursor", opts.Cursor, "limit", opts.limit()), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetMemberRole puts userID in the channel with role (one of
// unhidra.ChannelOwner … unhidra.ChannelMember): it adds a user who is not
// a member yet (created is then true), which is how a user is invited to a
// channel.
func (c *Client) SetMemberRole(ctx context.Context, channelID, userID, role string) (m *unhidra.Member, created bool, err error) {
	if err := errors.Join(need("channel", channelID), need("user", userID)); err != nil {
		return nil, false, err
	}
	var out struct {
		Member *unhidra.Member `json:"member"`
	}
	status, err := c.doStatus(ctx, "PUT", "/api/v1/channels/"+esc(channelID)+"/members/"+esc(userID), map[string]string{"role": role}, &out)
	if err != nil {
		return nil, false, err
	}
	return out.Member, status == http.StatusCreated, nil
}

// AddMember invites userID into the channel as a plain member.
func (c *Client) AddMember(ctx context.Context, channelID, userID string) (*unhidra.Member, bool, error) {
	return c.SetMemberRole(ctx, channelID, userID, unhidra.ChannelMember)
}

// RemoveMember removes userID from the channel.
func (c *Client) RemoveMember(ctx context.Context, channelID, userID string) error {
	if err := errors.Join(need("channel", channelID), need("user", userID)); err != nil {
		return err
	}
	return c.do(ctx, "DELETE", "/api/v1/channels/"+esc(channelID)+"/members/"+esc(userID), nil, nil)
}

// Prefs are the caller's own settings for a channel; nil fields are left
// alone.
type Prefs struct {
	Muted  *bool   `json:"muted,omitempty"`
	Notify *string `json:"notify,omitempty"` // all | mentions | none
	Hidden *bool   `json:"hidden,omitempty"`
}

// SetPrefs changes the caller's settings for a channel.
func (c *Client) SetPrefs(ctx context.Context, channelID string, p Prefs) error {
	if err := need("prefs", channelID); err != nil {
		return err
	}
	return c.do(ctx, "PATCH", "/api/v1/channels/"+esc(channelID)+"/prefs", p, nil)
}

// NewClientMsgID returns a fresh client_msg_id: 128 random bits in the
// alphabet the server accepts ([A-Za-z0-9_-], at most 64 characters).
func NewClientMsgID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Send posts a message. An empty ClientMsgID is filled with a fresh one, and
// in is updated in place so that a retry of the same *SendInput after a
// network error is stored once (the server answers the same message).
// ChannelID names the channel.
func (c *Client) Send(ctx context.Context, in *unhidra.SendInput) (*unhidra.Message, error) {
	if err := need("send", in.ChannelID); err != nil {
		return nil, err
	}
	if in.ClientMsgID == "" {
		in.ClientMsgID = NewClientMsgID()
	}
	body := struct {
		ClientMsgID  string   `json:"client_msg_id"`
		Body         string   `json:"body,omitempty"`
		Ciphertext   string   `json:"ciphertext,omitempty"`
		ThreadRootID string   `json:"thread_root_id,omitempty"`
		Attachments  []string `json:"attachments,omitempty"`
	}{in.ClientMsgID, in.Body, in.Ciphertext, in.ThreadRootID, in.Attachments}
	var out messageEnvelope
	if err := c.do(ctx, "POST", "/api/v1/channels/"+esc(in.ChannelID)+"/messages", body, &out); err != nil {
		return nil, err
	}
	return out.Message, nil
}

// SendText posts a plain-text message with a fresh client_msg_id.
func (c *Client) SendText(ctx context.Context, channelID, text string) (*unhidra.Message, error) {
	return c.Send(ctx, &unhidra.SendInput{ChannelID: channelID, Body: text})
}

// MessagesOptions selects a window of a channel's messages. After and
// Before are exclusive event seqs; with neither, the latest Limit messages.
type MessagesOptions struct {
	After  int64 // messages with seq > After (0: not set, unless FromStart)
	Before int64 // messages with seq < Before (0: not set)
	// FromStart sends after=0: the oldest messages first.
	FromStart bool
	Limit     int // 0: the server's default (50); at most 200
}

func (o MessagesOptions) query() string {
	var after, before, limit string
	if o.After > 0 || o.FromStart {
		after = strconv.FormatInt(o.After, 10)
	}
	if o.Before > 0 {
		before = strconv.FormatInt(o.Before, 10)
	}
	if o.Limit > 0 {
		limit = strconv.Itoa(o.Limit)
	}
	return query("after", after, "before", before, "limit", limit)
}

// MessagePage is a window of messages in ascending seq.
type MessagePage struct {
	Messages []*unhidra.Message `json:"messages"`
	HasMore  bool               `json:"has_more"`
}

// Messages returns messages of a channel in ascending seq.
func (c *Client) Messages(ctx context.Context, channelID string, opts MessagesOptions) (*MessagePage, error) {
	if err := need("messages", channelID); err != nil {
		return nil, err
	}
	var out MessagePage
	if err := c.do(ctx, "GET", "/api/v1/channels/"+esc(channelID)+"/messages"+opts.query(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// MessageEdit is the new content of a message: Body in a standard channel,
// Ciphertext in an encrypted one.
type MessageEdit struct {
	Body       string `json:"body,omitempty"`
	Ciphertext string `json:"ciphertext,omitempty"`
}

// Edit replaces a message's content.
func (c *Client) Edit(ctx context.Context, messageID string, in MessageEdit) (*unhidra.Message, error) {
	if err := need("edit message", messageID); err != nil {
		return nil, err
	}
	var out messageEnvelope
	if err := c.do(ctx, "PATCH", "/api/v1/messages/"+esc(messageID), in, &out); err != nil {
		return nil, err
	}
	return out.Message, nil
}

// Delete deletes a message.
func (c *Client) Delete(ctx context.Context, messageID string) error {
	if err := need("delete message", messageID); err != nil {
		return err
	}
	return c.do(ctx, "DELETE", "/api/v1/messages/"+esc(messageID), nil, nil)
}

// Edit is one earlier version of an edited message.
type Edit struct {
	EditedAt   time.Time `json:"edited_at"`
	EditorID   string    `json:"editor_id"`
	Body       string    `json:"body,omitempty"`
	Ciphertext string    `json:"ciphertext,omitempty"`
}

// History returns a message's edit history (moderators and the author).
func (c *Client) History(ctx context.Context, messageID string) ([]Edit, error) {
	if err := need("message history", messageID); err != nil {
		return nil, err
	}
	var out struct {
		Edits []Edit `json:"edits"`
	}
	if err := c.do(ctx, "GET", "/api/v1/messages/"+esc(messageID)+"/history", nil, &out); err != nil {
		return nil, err
	}
	return out.Edits, nil
}

// Message returns one message.
func (c *Client) Message(ctx context.Context, id string) (*unhidra.Message, error) {
	if err := need("message", id); err != nil {
		return nil, err
	}
	var out messageEnvelope
	if err := c.do(ctx, "GET", "/api/v1/messages/"+esc(id), nil, &out); err != nil {
		return nil, err
	}
	return out.Message, nil
}

// Thread is a thread root and a window of its replies.
type Thread struct {
	Root         *unhidra.Message   `json:"root"`
	Replies      []*unhidra.Message `json:"replies"`
	HasMore      bool               `json:"has_more"`
	Participants []string           `json:"participants,omitempty"` // user IDs
	Following    bool               `json:"following"`
}

// Thread returns a thread; opts pages through its replies.
func (c *Client) Thread(ctx context.Context, rootID string, opts MessagesOptions) (*Thread, error) {
	if err := need("thread", rootID); err != nil {
		return nil, err
	}
	var out Thread
	if err := c.do(ctx, "GET", "/api/v1/messages/"+esc(rootID)+"/thread"+opts.query(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Follow subscribes the caller to a thread's replies.
func (c *Client) Follow(ctx context.Context, rootID string) error {
	return c.messageVerb(ctx, "PUT", rootID, "/follow")
}

// Unfollow stops following a thread.
func (c *Client) Unfollow(ctx context.Context, rootID string) error {
	return c.messageVerb(ctx, "DELETE", rootID, "/follow")
}

// Pin pins a message to its channel.
func (c *Client) Pin(ctx context.Context, messageID string) error {
	return c.messageVerb(ctx, "PUT", messageID, "/pin")
}

// Unpin unpins a message.
func (c *Client) Unpin(ctx context.Context, messageID string) error {
	return c.messageVerb(ctx, "DELETE", messageID, "/pin")
}

// React adds the caller's reaction emoji to a message.
func (c *Client) React(ctx context.Context, messageID, emoji string) error {
	if emoji == "" {
		return need("react", emoji)
	}
	return c.messageVerb(ctx, "PUT", messageID, "/reactions/"+esc(emoji))
}

// Unreact removes the caller's reaction emoji from a message.
func (c *Client) Unreact(ctx context.Context, messageID, emoji string) error {
	if emoji == "" {
		return need("unreact", emoji)
	}
	return c.messageVerb(ctx, "DELETE", messageID, "/reactions/"+esc(emoji))
}

func (c *Client) messageVerb(ctx context.Context, method, messageID, suffix string) error {
	if err := need("message", messageID); err != nil {
		return err
	}
	return c.do(ctx, method, "/api/v1/messages/"+esc(messageID)+suffix, nil, nil)
}

// Pins lists a channel's pinned messages (limit 0: the server's default).
func (c *Client) Pins(ctx context.Context, channelID string, limit int) ([]*unhidra.Message, error) {
	if err := need("pins", channelID); err != nil {
		return nil, err
	}
	var out struct {
		Messages []*unhidra.Message `json:"messages"`
	}
	if err := c.do(ctx, "GET", "/api/v1/channels/"+esc(channelID)+"/pins"+query("limit", ListOptions{Limit: limit}.limit()), nil, &out); err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// Events returns a channel's durable events with seq > after, ascending, at
// most limit (0: the server's default page). Each Event.Frame is exactly the
// WebSocket frame of the event, so a client can fill a gap over REST with
// the same code that handles live frames (ParseFrame).
func (c *Client) Events(ctx context.Context, channelID string, after int64, limit int) ([]unhidra.Event, error) {
	if err := need("events", channelID); err != nil {
		return nil, err
	}
	var out struct {
		Events []unhidra.Event `json:"events"`
	}
	q := query("after", strconv.FormatInt(after, 10), "limit", ListOptions{Limit: limit}.limit())
	if err := c.do(ctx, "GET", "/api/v1/channels/"+esc(channelID)+"/events"+q, nil, &out); err != nil {
		return nil, err
	}
	return out.Events, nil
}

// MarkRead sets the caller's read position in a channel (a read receipt).
func (c *Client) MarkRead(ctx context.Context, channelID string, seq int64) error {
	if err := need("mark read", channelID); err != nil {
		return err
	}
	return c.do(ctx, "POST", "/api/v1/channels/"+esc(channelID)+"/read", map[string]int64{"seq": seq}, nil)
}

// ReadAll marks every channel of the caller read.
func (c *Client) ReadAll(ctx context.Context) error {
	return c.do(ctx, "POST", "/api/v1/channels/read-all", nil, nil)
}

// Highlight is a match in a search hit: offsets into the body counted in
// Unicode code points (runes), End exclusive.
type Highlight struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// SearchHit is one message found by Search.
type SearchHit struct {
	Message    *unhidra.Message `json:"message"`
	Highlights []Highlight      `json:"highlights"`
}

// SearchResult is one page of search hits.
type SearchResult struct {
	Hits       []SearchHit `json:"hits"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// Search finds messages in the standard channels the caller can read. q
// takes words, "phrases" and the operators in:<channel>, from:<username>,
// before:<YYYY-MM-DD> and after:<YYYY-MM-DD>.
func (c *Client) Search(ctx context.Context, q string, opts ListOptions) (*SearchResult, error) {
	var out SearchResult
	if err := c.do(ctx, "GET", "/api/v1/search"+query("q", q, "cursor", opts.Cursor, "limit", opts.limit()), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ResolveChannel finds one of the caller's channels by ID, by name
// ("general" or "#general", case-insensitively), or — when the caller is not
// a member — among the public channels it may join. It answers not_found
// when nothing matches and invalid_argument when a name is ambiguous.
func (c *Client) ResolveChannel(ctx context.Context, ref string) (*unhidra.Channel, error) {
	name := strings.TrimPrefix(ref, "#")
	if name == "" {
		return nil, need("channel", name)
	}
	mine, err := c.Channels(ctx)
	if err != nil {
		return nil, err
	}
	if ch := pickChannel(mine, ref, name); ch != nil {
		return ch, nil
	}
	page, err := c.Browse(ctx, name, ListOptions{Limit: 200})
	if err != nil && !IsCode(err, CodeNotFound) && !IsCode(err, CodeInvalid) {
		return nil, err
	}
	if page != nil {
		if ch := pickChannel(page.Channels, ref, name); ch != nil {
			return ch, nil
		}
	}
	// An ID the caller may see but that is not listed (a channel it left).
	if !strings.HasPrefix(ref, "#") && url.PathEscape(ref) == ref {
		if ch, err := c.Channel(ctx, ref); err == nil {
			return ch, nil
		}
	}
	return nil, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no channel " + ref}
}

func pickChannel(list []*unhidra.Channel, ref, name string) *unhidra.Channel {
	for _, ch := range list {
		if ch.ID == ref {
			return ch
		}
	}
	for _, ch := range list {
		if ch.Name != "" && strings.EqualFold(ch.Name, name) {
			return ch
		}
	}
	return nil
}
