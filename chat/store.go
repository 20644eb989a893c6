package chat

import (
	"context"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
)

// Store is what the chat service needs from durable storage.
// chatstore.Store (store/chatstore) implements it on SQLite and PostgreSQL;
// the contract suite in store/storetest pins down the semantics described
// here.
//
// Every write happens inside Tx, so a change and the channel event that
// describes it commit together or not at all. Errors are *unhidra.Error with
// ENotFound or EConflict where noted; anything else is internal.
type Store interface {
	Reader
	// Tx runs fn in one write transaction and commits if fn returns nil; any
	// error rolls everything back, including seqs taken with NextSeq.
	Tx(ctx context.Context, fn func(tx Tx) error) error
	// UserByID returns the user or ENotFound.
	UserByID(ctx context.Context, id string) (*unhidra.User, error)
}

// Reader holds the reads, available outside and inside a transaction
// (inside, they see the transaction's own writes).
type Reader interface {
	// Channel returns the channel without per-user fields, or ENotFound.
	Channel(ctx context.Context, id string) (*unhidra.Channel, error)
	// ChannelByDMKey returns the direct channel with that key, or ENotFound.
	ChannelByDMKey(ctx context.Context, key string) (*unhidra.Channel, error)
	// Member returns userID's membership of channelID, or ENotFound.
	Member(ctx context.Context, channelID, userID string) (*unhidra.Member, error)
	// CountOwners counts the channel's members with the owner role.
	CountOwners(ctx context.Context, channelID string) (int, error)
	// Members lists a channel's members ordered by user id, starting after
	// afterUserID, at most limit.
	Members(ctx context.Context, channelID, afterUserID string, limit int) ([]*unhidra.Member, error)
	// MemberIDs lists every member's user id.
	MemberIDs(ctx context.Context, channelID string) ([]string, error)
	// UserChannels returns userID's channels with the per-user fields filled:
	// Role, LastReadSeq, Muted, Notify, Hidden, UnreadCount (messages by
	// others, not deleted, with seq > LastReadSeq) and MentionCount
	// (mentions of the user in messages not deleted with seq > LastReadSeq).
	UserChannels(ctx context.Context, userID string) ([]*unhidra.Channel, error)
	// ChannelSeqs maps each of userID's channels to its last event seq.
	ChannelSeqs(ctx context.Context, userID string) (map[string]int64, error)
	// BrowsePublic lists public, unarchived channels whose name contains q
	// (case-insensitively), ordered by name, after the name after.
	BrowsePublic(ctx context.Context, q, after string, limit int) ([]*unhidra.Channel, error)

	// Message returns a message without reactions, or ENotFound.
	Message(ctx context.Context, id string) (*unhidra.Message, error)
	// MessageByClientID returns the message a sender posted with that
	// client_msg_id in the channel, with its content hash, or ENotFound.
	MessageByClientID(ctx context.Context, channelID, senderID, clientMsgID string) (*unhidra.Message, string, error)
	// Messages lists messages per q, always in ascending seq.
	Messages(ctx context.Context, q MessageQuery) ([]*unhidra.Message, error)
	// Reactions summarises the reactions on each of ids; Me is set for
	// viewer's own.
	Reactions(ctx context.Context, ids []string, viewer string) (map[string][]unhidra.ReactionCount, error)
	// Edits lists a message's earlier versions, oldest first.
	Edits(ctx context.Context, messageID string) ([]Edit, error)
	// ThreadParticipants lists the distinct senders of a thread's replies.
	ThreadParticipants(ctx context.Context, rootID string) ([]string, error)
	// Following reports whether userID follows the thread of rootID.
	Following(ctx context.Context, rootID, userID string) (bool, error)
	// Events returns the channel's events with seq > after, ascending, at
	// most limit, each with the current state of the message it is about
	// (EventRecord.Message).
	Events(ctx context.Context, channelID string, after int64, limit int) ([]EventRecord, error)
	// ChannelIDsByName returns the ids of userID's channels (of any kind)
	// whose name is one of names (lower-cased).
	ChannelIDsByName(ctx context.Context, userID string, names []string) ([]string, error)
	// UserIDsByUsername maps lower-cased usernames to user ids; names
	// without a user are absent.
	UserIDsByUsername(ctx context.Context, usernames []string) (map[string]string, error)
	// Search runs a parsed full-text query; see SearchQuery.
	Search(ctx context.Context, q SearchQuery) ([]*unhidra.Message, error)

	// SharesChannel reports whether two users are both members of some
	// public or private channel (direct channels do not count).
	SharesChannel(ctx context.Context, userA, userB string) (bool, error)
	// RetentionTargets lists the channels whose messages expire: those
	// whose retention (their own retention_days, else defaultDays) is above
	// zero and that are not on legal hold, with that retention.
	RetentionTargets(ctx context.Context, defaultDays int) ([]RetentionTarget, error)
	// DueMessages returns up to limit disappearing messages whose
	// expires_at is at or before now, not deleted and not under a legal
	// hold, in expiry order; of one channel, or of all when channelID is "".
	DueMessages(ctx context.Context, channelID string, now time.Time, limit int) ([]DueMessage, error)
	// EncryptedReactions lists the encrypted reactions of each of ids,
	// oldest first.
	EncryptedReactions(ctx context.Context, ids []string) (map[string][]unhidra.EncryptedReaction, error)
	// EncryptedReaction returns one encrypted reaction and its channel, or
	// ENotFound.
	EncryptedReaction(ctx context.Context, id string) (*unhidra.EncryptedReaction, string, error)
	// ExpiredMessageIDs returns up to limit ids of the channel's messages
	// not deleted, created before before, whose sender is not on legal
	// hold, oldest first.
	ExpiredMessageIDs(ctx context.Context, channelID string, before time.Time, limit int) ([]string, error)
	// ChannelRetention returns a channel's own retention_days (nil: the
	// server's), or ENotFound.
	ChannelRetention(ctx context.Context, channelID string) (*int, error)
	// Holds lists the legal holds, by kind and target.
	Holds(ctx context.Context) ([]Hold, error)
	// CountUserMessages counts the messages userID sent that are not
	// deleted.
	CountUserMessages(ctx context.Context, userID string) (int, error)
	// UserMessageChannels lists the channels holding messages of userID
	// that are not deleted.
	UserMessageChannels(ctx context.Context, userID string) ([]string, error)
	// ErasableMessageIDs returns up to limit ids of userID's messages in
	// channelID that are not deleted and not kept by a legal hold (on the
	// user or the channel), oldest first.
	ErasableMessageIDs(ctx context.Context, channelID, userID string, limit int) ([]string, error)
	// ErasureHolds reports whether a legal hold is on userID, and lists the
	// channels on hold that hold messages of userID not deleted.
	ErasureHolds(ctx context.Context, userID string) (onUser bool, channels []string, err error)
	// UserReactions returns up to limit of userID's reactions that no
	// legal hold keeps (on the user, or on the message's channel), ordered
	// by channel.
	UserReactions(ctx context.Context, userID string, limit int) ([]UserReaction, error)
	// AdminChannels lists public and private channels (never direct ones)
	// whose name contains q case-insensitively, ordered by (name, id) after
	// (afterName, afterID), at most limit, with their member counts and the
	// time of their last event.
	AdminChannels(ctx context.Context, q, afterName, afterID string, limit int) ([]*AdminChannel, error)
	// CountDirectChannels counts the direct channels.
	CountDirectChannels(ctx context.Context) (int, error)

	// ComplianceMessages returns up to q.Limit messages of standard (not
	// end-to-end encrypted) channels created in [q.From, q.To), not
	// deleted, ordered by (created_at, id) after q.After, each with its
	// channel's name.
	ComplianceMessages(ctx context.Context, q ComplianceQuery) ([]ComplianceRecord, error)
}

// Tx is one write transaction.
type Tx interface {
	Reader
	// LockChannel returns the channel and, on PostgreSQL, locks its row
	// until commit (ENotFound if absent): decisions read after it cannot be
	// raced by another node's writer of the channel.
	LockChannel(ctx context.Context, id string) (*unhidra.Channel, error)
	// NextSeq takes the channel's next event seq (ENotFound if there is no
	// such channel). On PostgreSQL it locks the channel row until commit, so
	// the writers of one channel are serialized; on SQLite the single writer
	// already is. Call it before reading what a decision depends on.
	NextSeq(ctx context.Context, channelID string) (int64, error)
	// Audit appends audit events to the log's outbox in this transaction:
	// they commit with the change they record, or not at all.
	Audit(ctx context.Context, events ...*audit.Event) error
	// InsertEvent stores ev (EConflict if its seq is taken); ev.Message is
	// ignored.
	InsertEvent(ctx context.Context, ev *EventRecord) error

	// InsertChannel stores a channel with last_seq 0; dmKey is "" for
	// non-direct channels. EConflict if a public channel has the name or the
	// dm key exists.
	InsertChannel(ctx context.Context, ch *unhidra.Channel, dmKey string) error
	// UpdateChannel writes ch's name, topic, purpose, updated_at and
	// archived_at (EConflict on a taken public name).
	UpdateChannel(ctx context.Context, ch *unhidra.Channel) error
	// InsertMember adds a membership (EConflict if it exists).
	InsertMember(ctx context.Context, m *unhidra.Member) error
	// SetRole changes a member's role (ENotFound if not a member).
	SetRole(ctx context.Context, channelID, userID, role string) error
	// DeleteMember removes a membership (ENotFound if not a member).
	DeleteMember(ctx context.Context, channelID, userID string) error
	// SetPrefs applies the non-nil fields of p (ENotFound if not a member).
	SetPrefs(ctx context.Context, channelID, userID string, p Prefs) error
	// SetLastRead moves the read position forward to seq and reports whether
	// it moved.
	SetLastRead(ctx context.Context, channelID, userID string, seq int64) (bool, error)
	// ReadAll moves every one of userID's read positions to its channel's
	// last seq and returns the positions that moved.
	ReadAll(ctx context.Context, userID string) (map[string]int64, error)

	// InsertMessage stores m (EConflict if the sender used its client_msg_id
	// in the channel already).
	InsertMessage(ctx context.Context, m *unhidra.Message, contentHash string) error
	// SetMentions replaces the mention rows of a message.
	SetMentions(ctx context.Context, m *unhidra.Message, userIDs []string) error
	// EditMessage replaces the content, sets edited_at and records the old
	// content in the edit history.
	EditMessage(ctx context.Context, old *unhidra.Message, editorID string, body, ciphertext string, at time.Time) error
	// TombstoneMessage erases a message's content from everywhere the
	// store keeps it and sets deleted_at: body, ciphertext, mentions, pin,
	// the content hash, the edit history and the reactions go; the row stays
	// as the tombstone (id, seq, sender, times, thread). ENotFound if there
	// is no such undeleted message.
	TombstoneMessage(ctx context.Context, id string, at time.Time) error
	// SetPinned sets the pin flag and reports whether it changed.
	SetPinned(ctx context.Context, id string, pinned bool) (bool, error)
	// SetDisappear sets a channel's disappearing-messages timer.
	SetDisappear(ctx context.Context, channelID string, seconds int, at time.Time) error
	// AddEncryptedReaction stores a reaction of an encrypted channel, added
	// by the event seq.
	AddEncryptedReaction(ctx context.Context, channelID string, er *unhidra.EncryptedReaction, seq int64) error
	// RemoveEncryptedReaction deletes it, redacts its ciphertext from the
	// event that added it, and reports whether it was there.
	RemoveEncryptedReaction(ctx context.Context, id string) (bool, error)
	// AddReaction adds one user's emoji and reports whether it was new;
	// RemoveReaction removes it and reports whether it was there.
	AddReaction(ctx context.Context, messageID, userID, emoji string, at time.Time) (bool, error)
	RemoveReaction(ctx context.Context, messageID, userID, emoji string) (bool, error)
	// BumpThread adds delta to a root's reply_count; a positive delta also
	// sets last_reply_at.
	BumpThread(ctx context.Context, rootID string, delta int, at time.Time) error
	// SetRetention sets a channel's own retention in days (nil: the
	// server's; 0: keep forever); ENotFound if there is no such channel.
	SetRetention(ctx context.Context, channelID string, days *int) error
	// PutHold places (or updates) a legal hold.
	PutHold(ctx context.Context, h Hold) error
	// DeleteHold releases a legal hold and reports whether there was one.
	DeleteHold(ctx context.Context, kind, targetID string) (bool, error)
	// ForgetUser deletes what the channels keep about userID beyond
	// memberships and messages: thread follows and mention rows.
	ForgetUser(ctx context.Context, userID string) error
	// SetFollow records whether userID follows the thread of rootID. With
	// onlyIfUnset it leaves an existing choice alone (auto-follow on reply
	// must not undo an explicit unfollow).
	SetFollow(ctx context.Context, rootID, userID string, follow, onlyIfUnset bool) error
}

// EventRecord is a channel event as the store keeps it. Its Frame holds no
// message content: a message's body, ciphertext, mentions, edit time and
// attachments live in the message's row alone, and Events returns each
// event with that row as it is now, from which the service renders the
// frame (events.go). An edit or a delete therefore changes every replay of
// the message at once, and deleting the row's content deletes it from the
// event log too.
type EventRecord struct {
	ChannelID string
	Seq       int64
	Type      string
	// MessageID is the message the event is about (message,
	// message_updated, message_deleted, reaction), or "".
	MessageID string
	// UserID is the member of member_joined and member_left, the reactor of
	// a reaction, or "".
	UserID    string
	Frame     []byte
	CreatedAt time.Time
	// Message is the current row of MessageID (without reactions), when
	// read back by Events; nil if there is no such row.
	Message *unhidra.Message
}

// UserReaction is one reaction of a user, with its message's channel.
type UserReaction struct {
	ChannelID, MessageID, Emoji string
	// ReactionID is set, and Emoji empty, for an encrypted reaction (its
	// emoji is inside its ciphertext).
	ReactionID string
}

// MessageQuery selects messages of one channel (or one thread).
type MessageQuery struct {
	ChannelID string
	// ThreadRootID lists a thread's replies; empty lists top-level messages.
	ThreadRootID string
	// PinnedOnly keeps only pinned, undeleted messages.
	PinnedOnly bool
	// FromAfter returns the first Limit messages with seq > After;
	// otherwise the latest Limit messages with seq < Before (0 = no bound).
	// Either way the result is in ascending seq.
	FromAfter     bool
	After, Before int64
	Limit         int
}

// SearchQuery is a parsed search, already resolved to ids.
type SearchQuery struct {
	UserID string // only channels this user is a member of, standard ones
	// Terms are words or phrases the body must contain, each matched as a
	// phrase of whole tokens.
	Terms      []string
	ChannelIDs []string // in: (empty: any of the user's channels)
	SenderIDs  []string // from: (empty: anyone)
	// Since and Until bound created_at: Since inclusive, Until exclusive.
	Since, Until *time.Time
	// Cursor: only messages older than (CreatedAt, ID) in the newest-first
	// order; zero for the first page.
	CursorAt time.Time
	CursorID string
	Limit    int
}

// Edit is one earlier version of a message.
type Edit struct {
	EditedAt   time.Time `json:"edited_at"`
	EditorID   string    `json:"editor_id"`
	Body       string    `json:"body,omitempty"`
	Ciphertext string    `json:"ciphertext,omitempty"`
}

// Prefs are a member's own channel preferences; nil leaves a field alone.
type Prefs struct {
	Muted  *bool
	Notify *string
	Hidden *bool
}
