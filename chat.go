package unhidra

import "time"

// Channel kinds.
const (
	ChannelPublic  = "public"
	ChannelPrivate = "private"
	ChannelDirect  = "direct"
)

// Channel member roles, strongest first.
const (
	ChannelOwner     = "owner"
	ChannelAdmin     = "admin"
	ChannelModerator = "moderator"
	ChannelMember    = "member"
)

// Message kinds.
const (
	MessageText      = "text"
	MessageTelemetry = "telemetry"
	MessageEvent     = "event"
	MessageCommand   = "command"
	MessageSystem    = "system"
)

// Sender types.
const (
	SenderUser   = "user"
	SenderDevice = "device"
)

// Channel is a conversation: public, private or direct. The per-caller
// fields (Role … Muted) are filled when a channel is listed for a user.
type Channel struct {
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	Kind      string `json:"kind"`
	Encrypted bool   `json:"encrypted"`
	// DisappearAfterS is the channel's disappearing-messages timer in
	// seconds (0: off): each message sent while it is set expires that long
	// after it was sent.
	DisappearAfterS int        `json:"disappear_after_s"`
	Topic           string     `json:"topic"`
	Purpose         string     `json:"purpose"`
	CreatedBy       string     `json:"created_by"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	Archived        bool       `json:"archived"`
	LastSeq         int64      `json:"last_seq"`
	Members         []string   `json:"members,omitempty"` // direct channels: the fixed member set
	ArchivedAt      *time.Time `json:"archived_at,omitempty"`

	Role         string `json:"role,omitempty"`
	LastReadSeq  int64  `json:"last_read_seq"`
	UnreadCount  int    `json:"unread_count"`
	MentionCount int    `json:"mention_count"`
	Muted        bool   `json:"muted"`
	Notify       string `json:"notify,omitempty"`
	Hidden       bool   `json:"hidden"`
}

// Member is one user's membership of a channel.
type Member struct {
	ChannelID   string    `json:"channel_id"`
	UserID      string    `json:"user_id"`
	Role        string    `json:"role"`
	JoinedAt    time.Time `json:"joined_at"`
	LastReadSeq int64     `json:"last_read_seq"`
	Muted       bool      `json:"muted"`
	Notify      string    `json:"notify"` // all | mentions | none
	Hidden      bool      `json:"hidden"`
}

// Sender identifies who posted a message.
type Sender struct {
	Type string `json:"type"` // user | device
	ID   string `json:"id"`
}

// ReactionCount summarises one emoji on a message. Me is true when the
// viewer reacted; in frames fanned out to everyone it is false.
type ReactionCount struct {
	Emoji string `json:"emoji"`
	Count int    `json:"count"`
	Me    bool   `json:"me"`
}

// Message is a message in a channel (API.md "A message").
type Message struct {
	ID           string          `json:"id"`
	ChannelID    string          `json:"channel_id"`
	Seq          int64           `json:"seq"`
	ClientMsgID  string          `json:"client_msg_id"`
	Sender       Sender          `json:"sender"`
	Kind         string          `json:"kind"`
	Body         string          `json:"body,omitempty"`
	Ciphertext   string          `json:"ciphertext,omitempty"`
	ThreadRootID string          `json:"thread_root_id,omitempty"`
	ReplyCount   int             `json:"reply_count"`
	LastReplyAt  *time.Time      `json:"last_reply_at,omitempty"`
	Reactions    []ReactionCount `json:"reactions"`
	// EncryptedReactions are the reactions of a message in an encrypted
	// channel: the emoji is inside each one's ciphertext.
	EncryptedReactions []EncryptedReaction `json:"encrypted_reactions,omitempty"`
	Attachments        []string            `json:"attachments"`
	Mentions           []string            `json:"mentions,omitempty"` // user IDs; "channel" for @channel
	Pinned             bool                `json:"pinned"`
	CreatedAt          time.Time           `json:"created_at"`
	EditedAt           *time.Time          `json:"edited_at,omitempty"`
	Deleted            bool                `json:"deleted"`
	// ExpiresAt is when a disappearing message is deleted (absent: never).
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// EncryptedReaction is one reaction in an encrypted channel: who reacted
// to which message is in the clear, the emoji in Ciphertext (an e2ee
// envelope, standard base64).
type EncryptedReaction struct {
	ID         string    `json:"id"`
	MessageID  string    `json:"message_id"`
	UserID     string    `json:"user_id"`
	Ciphertext string    `json:"ciphertext"`
	CreatedAt  time.Time `json:"created_at"`
}

// SendInput is a request to post a message.
type SendInput struct {
	ChannelID    string   `json:"channel_id"`
	ClientMsgID  string   `json:"client_msg_id"`
	Body         string   `json:"body,omitempty"`
	Ciphertext   string   `json:"ciphertext,omitempty"`
	ThreadRootID string   `json:"thread_root_id,omitempty"`
	Attachments  []string `json:"attachments,omitempty"`
}
