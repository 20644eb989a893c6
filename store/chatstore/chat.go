package chatstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/chat"
	"github.com/unhidra/unhidra/store"
)

const channelColumns = `c.id, c.name, c.kind, c.encrypted, c.topic, c.purpose, c.created_by, c.created_at,
	c.updated_at, c.archived_at, c.last_seq, c.dm_key, c.disappear_after_s`

func scanChannel(s store.Scanner, extra ...any) (*unhidra.Channel, error) {
	var ch unhidra.Channel
	var created, updated int64
	var archived sql.NullInt64
	var dmKey sql.NullString
	dest := append([]any{&ch.ID, &ch.Name, &ch.Kind, &ch.Encrypted, &ch.Topic, &ch.Purpose, &ch.CreatedBy,
		&created, &updated, &archived, &ch.LastSeq, &dmKey, &ch.DisappearAfterS}, extra...)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	ch.CreatedAt, ch.UpdatedAt, ch.ArchivedAt = store.Time(created), store.Time(updated), store.TimePtr(archived)
	ch.Archived = ch.ArchivedAt != nil
	if dmKey.Valid {
		ch.Members = dmKeyMembers(dmKey.String)
	}
	return &ch, nil
}

// dmKeyMembers returns the member ids recorded in a direct channel's key
// ("<mode>:<id>,<id>,…").
func dmKeyMembers(key string) []string {
	_, ids, ok := strings.Cut(key, ":")
	if !ok || ids == "" {
		return nil
	}
	return strings.Split(ids, ",")
}

func (r reader) Channel(ctx context.Context, id string) (*unhidra.Channel, error) {
	ch, err := scanChannel(r.c.QueryRow(ctx, `SELECT `+channelColumns+` FROM channels c WHERE c.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.NotFound("channel")
	} else if err != nil {
		return nil, fmt.Errorf("channel: %w", err)
	}
	return ch, nil
}

func (r reader) ChannelByDMKey(ctx context.Context, key string) (*unhidra.Channel, error) {
	ch, err := scanChannel(r.c.QueryRow(ctx, `SELECT `+channelColumns+` FROM channels c WHERE c.dm_key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.NotFound("channel")
	} else if err != nil {
		return nil, fmt.Errorf("channel by dm key: %w", err)
	}
	return ch, nil
}

const memberColumns = `channel_id, user_id, role, joined_at, last_read_seq, muted, notify, hidden`

func scanMember(s store.Scanner) (*unhidra.Member, error) {
	var m unhidra.Member
	var joined int64
	if err := s.Scan(&m.ChannelID, &m.UserID, &m.Role, &joined, &m.LastReadSeq, &m.Muted, &m.Notify, &m.Hidden); err != nil {
		return nil, err
	}
	m.JoinedAt = store.Time(joined)
	return &m, nil
}

func (r reader) Member(ctx context.Context, channelID, userID string) (*unhidra.Member, error) {
	m, err := scanMember(r.c.QueryRow(ctx, `SELECT `+memberColumns+` FROM channel_members WHERE channel_id = ? AND user_id = ?`, channelID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.NotFound("member")
	} else if err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	return m, nil
}

func (r reader) CountOwners(ctx context.Context, channelID string) (int, error) {
	var n int
	if err := r.c.QueryRow(ctx, `SELECT COUNT(*) FROM channel_members WHERE channel_id = ? AND role = ?`,
		channelID, unhidra.ChannelOwner).Scan(&n); err != nil {
		return 0, fmt.Errorf("count owners: %w", err)
	}
	return n, nil
}

func (r reader) Members(ctx context.Context, channelID, after string, limit int) ([]*unhidra.Member, error) {
	rows, err := r.c.Query(ctx, `SELECT `+memberColumns+` FROM channel_members
		WHERE channel_id = ? AND user_id > ? ORDER BY user_id LIMIT ?`, channelID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	return store.Collect(rows, "members", scanMember)
}

func (r reader) MemberIDs(ctx context.Context, channelID string) ([]string, error) {
	rows, err := r.c.Query(ctx, `SELECT user_id FROM channel_members WHERE channel_id = ? ORDER BY user_id`, channelID)
	if err != nil {
		return nil, fmt.Errorf("member ids: %w", err)
	}
	return store.Collect(rows, "member ids", func(s store.Scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	})
}

func (r reader) UserChannels(ctx context.Context, userID string) ([]*unhidra.Channel, error) {
	rows, err := r.c.Query(ctx, `SELECT `+channelColumns+`, cm.role, cm.last_read_seq, cm.muted, cm.notify, cm.hidden,
			(SELECT COUNT(*) FROM messages m WHERE m.channel_id = c.id AND m.seq > cm.last_read_seq
				AND m.sender_id <> cm.user_id AND m.deleted_at IS NULL),
			(SELECT COUNT(*) FROM mentions mn WHERE mn.user_id = cm.user_id AND mn.channel_id = c.id
				AND mn.seq > cm.last_read_seq)
		FROM channel_members cm JOIN channels c ON c.id = cm.channel_id
		WHERE cm.user_id = ?
		ORDER BY c.kind, c.name_lower, c.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("user channels: %w", err)
	}
	return store.Collect(rows, "user channels", func(s store.Scanner) (*unhidra.Channel, error) {
		var ch *unhidra.Channel
		var role, notify string
		var lastRead int64
		var muted, hidden bool
		var unread, mentions int
		ch, err := scanChannel(s, &role, &lastRead, &muted, &notify, &hidden, &unread, &mentions)
		if err != nil {
			return nil, err
		}
		ch.Role, ch.LastReadSeq, ch.Muted, ch.Notify, ch.Hidden = role, lastRead, muted, notify, hidden
		ch.UnreadCount, ch.MentionCount = unread, mentions
		return ch, nil
	})
}

func (r reader) ChannelSeqs(ctx context.Context, userID string) (map[string]int64, error) {
	rows, err := r.c.Query(ctx, `SELECT c.id, c.last_seq FROM channel_members cm JOIN channels c ON c.id = cm.channel_id
		WHERE cm.user_id = ?`, userID)
	if err != nil {
		return nil, fmt.Errorf("channel seqs: %w", err)
	}
	return scanSeqs(rows, "channel seqs")
}

func (r reader) BrowsePublic(ctx context.Context, q, after string, limit int) ([]*unhidra.Channel, error) {
	rows, err := r.c.Query(ctx, `SELECT `+channelColumns+` FROM channels c
		WHERE c.kind = ? AND c.archived_at IS NULL AND c.name_lower LIKE ? ESCAPE '\' AND c.name_lower > ?
		ORDER BY c.name_lower LIMIT ?`,
		unhidra.ChannelPublic, "%"+store.EscapeLike(store.Fold(q))+"%", store.Fold(after), limit)
	if err != nil {
		return nil, fmt.Errorf("browse channels: %w", err)
	}
	return store.Collect(rows, "browse channels", func(s store.Scanner) (*unhidra.Channel, error) { return scanChannel(s) })
}

const messageColumns = `m.id, m.channel_id, m.seq, m.client_msg_id, m.sender_type, m.sender_id, m.kind, m.body,
	m.ciphertext, m.thread_root_id, m.mentions, m.reply_count, m.last_reply_at, m.pinned, m.created_at,
	m.edited_at, m.deleted_at, m.expires_at`

func scanMessage(s store.Scanner, extra ...any) (*unhidra.Message, error) {
	var m unhidra.Message
	var root sql.NullString
	var mentions string
	var lastReply, edited, deleted, expires sql.NullInt64
	var created int64
	dest := append([]any{&m.ID, &m.ChannelID, &m.Seq, &m.ClientMsgID, &m.Sender.Type, &m.Sender.ID, &m.Kind, &m.Body,
		&m.Ciphertext, &root, &mentions, &m.ReplyCount, &lastReply, &m.Pinned, &created, &edited, &deleted, &expires}, extra...)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	m.ThreadRootID = root.String
	if mentions != "" {
		m.Mentions = strings.Fields(mentions)
	}
	m.LastReplyAt, m.EditedAt = store.TimePtr(lastReply), store.TimePtr(edited)
	m.CreatedAt = store.Time(created)
	m.Deleted = deleted.Valid
	if !m.Deleted {
		m.ExpiresAt = store.TimePtr(expires)
	}
	m.Reactions = []unhidra.ReactionCount{}
	m.Attachments = []string{}
	return &m, nil
}

func (r reader) Message(ctx context.Context, id string) (*unhidra.Message, error) {
	m, err := scanMessage(r.c.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages m WHERE m.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.NotFound("message")
	} else if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	return m, nil
}

func (r reader) MessageByClientID(ctx context.Context, channelID, senderID, clientMsgID string) (*unhidra.Message, string, error) {
	var hash string
	m, err := scanMessage(r.c.QueryRow(ctx, `SELECT `+messageColumns+`, m.content_hash FROM messages m
		WHERE m.channel_id = ? AND m.sender_id = ? AND m.client_msg_id = ?`, channelID, senderID, clientMsgID), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", store.NotFound("message")
	} else if err != nil {
		return nil, "", fmt.Errorf("message by client id: %w", err)
	}
	return m, hash, nil
}

func (r reader) Messages(ctx context.Context, q chat.MessageQuery) ([]*unhidra.Message, error) {
	var where strings.Builder
	args := []any{q.ChannelID}
	where.WriteString(`m.channel_id = ?`)
	switch {
	case q.PinnedOnly:
		// Pins list replies as well as top-level messages.
	case q.ThreadRootID != "":
		where.WriteString(` AND m.thread_root_id = ?`)
		args = append(args, q.ThreadRootID)
	default:
		where.WriteString(` AND m.thread_root_id IS NULL`)
	}
	if q.PinnedOnly {
		where.WriteString(` AND m.pinned = ? AND m.deleted_at IS NULL`)
		args = append(args, true)
	}
	order := "DESC"
	if q.FromAfter {
		where.WriteString(` AND m.seq > ?`)
		args = append(args, q.After)
		order = "ASC"
	} else if q.Before > 0 {
		where.WriteString(` AND m.seq < ?`)
		args = append(args, q.Before)
	}
	args = append(args, q.Limit)
	rows, err := r.c.Query(ctx, `SELECT `+messageColumns+` FROM messages m WHERE `+where.String()+
		` ORDER BY m.seq `+order+` LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	ms, err := store.Collect(rows, "messages", func(s store.Scanner) (*unhidra.Message, error) { return scanMessage(s) })
	if err != nil {
		return nil, err
	}
	if !q.FromAfter {
		slices.Reverse(ms)
	}
	return ms, nil
}

func (r reader) Reactions(ctx context.Context, ids []string, viewer string) (map[string][]unhidra.ReactionCount, error) {
	out := map[string][]unhidra.ReactionCount{}
	if len(ids) == 0 {
		return out, nil
	}
	args := []any{viewer}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := r.c.Query(ctx, `SELECT message_id, emoji, COUNT(*), SUM(CASE WHEN user_id = ? THEN 1 ELSE 0 END), MIN(created_at)
		FROM reactions WHERE message_id IN (`+store.Placeholders(len(ids))+`)
		GROUP BY message_id, emoji ORDER BY message_id, MIN(created_at), emoji`, args...)
	if err != nil {
		return nil, fmt.Errorf("reactions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var rc unhidra.ReactionCount
		var me, first int64
		if err := rows.Scan(&id, &rc.Emoji, &rc.Count, &me, &first); err != nil {
			return nil, fmt.Errorf("reactions: %w", err)
		}
		rc.Me = me > 0
		out[id] = append(out[id], rc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reactions: %w", err)
	}
	return out, nil
}

func (r reader) Edits(ctx context.Context, messageID string) ([]chat.Edit, error) {
	rows, err := r.c.Query(ctx, `SELECT edited_at, editor_id, old_body, old_ciphertext FROM message_edits
		WHERE message_id = ? ORDER BY edited_at, old_body`, messageID)
	if err != nil {
		return nil, fmt.Errorf("edits: %w", err)
	}
	return store.Collect(rows, "edits", func(s store.Scanner) (chat.Edit, error) {
		var e chat.Edit
		var at int64
		err := s.Scan(&at, &e.EditorID, &e.Body, &e.Ciphertext)
		e.EditedAt = store.Time(at)
		return e, err
	})
}

func (r reader) ThreadParticipants(ctx context.Context, rootID string) ([]string, error) {
	rows, err := r.c.Query(ctx, `SELECT sender_id FROM messages WHERE thread_root_id = ?
		GROUP BY sender_id ORDER BY MIN(seq)`, rootID)
	if err != nil {
		return nil, fmt.Errorf("thread participants: %w", err)
	}
	return store.Collect(rows, "thread participants", func(s store.Scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	})
}

func (r reader) Following(ctx context.Context, rootID, userID string) (bool, error) {
	var f bool
	err := r.c.QueryRow(ctx, `SELECT following FROM thread_follows WHERE root_id = ? AND user_id = ?`, rootID, userID).Scan(&f)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("following: %w", err)
	}
	return f, nil
}

// Events reads a page of events, then the current rows of the messages
// they are about in one more query, from which the service renders the
// frames (chat.EventRecord).
func (r reader) Events(ctx context.Context, channelID string, after int64, limit int) ([]chat.EventRecord, error) {
	rows, err := r.c.Query(ctx, `SELECT channel_id, seq, type, message_id, user_id, frame, created_at FROM channel_events
		WHERE channel_id = ? AND seq > ? ORDER BY seq LIMIT ?`, channelID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	evs, err := store.Collect(rows, "events", func(s store.Scanner) (chat.EventRecord, error) {
		var ev chat.EventRecord
		var msgID, userID sql.NullString
		var frame string
		var at int64
		err := s.Scan(&ev.ChannelID, &ev.Seq, &ev.Type, &msgID, &userID, &frame, &at)
		ev.MessageID, ev.UserID, ev.Frame, ev.CreatedAt = msgID.String, userID.String, []byte(frame), store.Time(at)
		return ev, err
	})
	if err != nil {
		return nil, err
	}
	var ids []any
	seen := map[string]bool{}
	for _, ev := range evs {
		if ev.MessageID != "" && !seen[ev.MessageID] {
			seen[ev.MessageID] = true
			ids = append(ids, ev.MessageID)
		}
	}
	if len(ids) == 0 {
		return evs, nil
	}
	rows, err = r.c.Query(ctx, `SELECT `+messageColumns+` FROM messages m WHERE m.id IN (`+store.Placeholders(len(ids))+`)`, ids...)
	if err != nil {
		return nil, fmt.Errorf("events: messages: %w", err)
	}
	ms, err := store.Collect(rows, "events: messages", func(s store.Scanner) (*unhidra.Message, error) { return scanMessage(s) })
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*unhidra.Message, len(ms))
	for _, m := range ms {
		byID[m.ID] = m
	}
	for i := range evs {
		evs[i].Message = byID[evs[i].MessageID]
	}
	return evs, nil
}

// nullString stores "" as NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (r reader) ChannelIDsByName(ctx context.Context, userID string, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	folded := make([]string, len(names))
	for i, n := range names {
		folded[i] = store.Fold(n)
	}
	cond, arg := r.c.InList("c.name_lower", folded)
	rows, err := r.c.Query(ctx, `SELECT c.id FROM channel_members cm JOIN channels c ON c.id = cm.channel_id
		WHERE cm.user_id = ? AND `+cond+` ORDER BY c.id`, userID, arg)
	if err != nil {
		return nil, fmt.Errorf("channels by name: %w", err)
	}
	return store.Collect(rows, "channels by name", func(s store.Scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	})
}

func (r reader) UserIDsByUsername(ctx context.Context, usernames []string) (map[string]string, error) {
	out := map[string]string{}
	if len(usernames) == 0 {
		return out, nil
	}
	args := make([]any, len(usernames))
	for i, u := range usernames {
		args[i] = store.Fold(u)
	}
	rows, err := r.c.Query(ctx, `SELECT username_lower, id FROM users WHERE username_lower IN (`+store.Placeholders(len(args))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("users by username: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, id string
		if err := rows.Scan(&name, &id); err != nil {
			return nil, fmt.Errorf("users by username: %w", err)
		}
		out[name] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("users by username: %w", err)
	}
	return out, nil
}

// The writes of a chat transaction.

func (t tx) LockChannel(ctx context.Context, id string) (*unhidra.Channel, error) {
	// A locking read, not a write: the one write to the channel row per
	// event stays NextSeq's.
	ch, err := scanChannel(t.c.QueryRow(ctx, `SELECT `+channelColumns+` FROM channels c WHERE c.id = ?`+t.c.ForUpdate(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.NotFound("channel")
	} else if err != nil {
		return nil, fmt.Errorf("lock channel: %w", err)
	}
	return ch, nil
}

func (t tx) NextSeq(ctx context.Context, channelID string) (int64, error) {
	var seq int64
	err := t.c.QueryRow(ctx, `UPDATE channels SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq`, channelID).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, store.NotFound("channel")
	} else if err != nil {
		return 0, fmt.Errorf("next seq: %w", err)
	}
	return seq, nil
}

func (t tx) InsertEvent(ctx context.Context, ev *chat.EventRecord) error {
	_, err := t.c.Exec(ctx, `INSERT INTO channel_events (channel_id, seq, type, message_id, user_id, frame, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		ev.ChannelID, ev.Seq, ev.Type, nullString(ev.MessageID), nullString(ev.UserID), string(ev.Frame), store.Micros(ev.CreatedAt))
	if store.IsUniqueViolation(err) {
		return &unhidra.Error{Code: unhidra.EConflict, Message: "event seq already taken", Err: err}
	} else if err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	return nil
}

func (t tx) InsertChannel(ctx context.Context, ch *unhidra.Channel, dmKey string) error {
	var key any
	if dmKey != "" {
		key = dmKey
	}
	_, err := t.c.Exec(ctx, `INSERT INTO channels (id, name, name_lower, kind, encrypted, topic, purpose, created_by,
			created_at, updated_at, archived_at, last_seq, dm_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, ?)`,
		ch.ID, ch.Name, store.Fold(ch.Name), ch.Kind, ch.Encrypted, ch.Topic, ch.Purpose, ch.CreatedBy,
		store.Micros(ch.CreatedAt), store.Micros(ch.UpdatedAt), key)
	if store.IsUniqueViolation(err) {
		return &unhidra.Error{Code: unhidra.EConflict, Message: "a public channel with that name exists", Err: err}
	} else if err != nil {
		return fmt.Errorf("insert channel: %w", err)
	}
	return nil
}

func (t tx) UpdateChannel(ctx context.Context, ch *unhidra.Channel) error {
	n, err := t.c.ExecN(ctx, `UPDATE channels SET name = ?, name_lower = ?, topic = ?, purpose = ?, updated_at = ?, archived_at = ?
		WHERE id = ?`, ch.Name, store.Fold(ch.Name), ch.Topic, ch.Purpose, store.Micros(ch.UpdatedAt), store.MicrosPtr(ch.ArchivedAt), ch.ID)
	if store.IsUniqueViolation(err) {
		return &unhidra.Error{Code: unhidra.EConflict, Message: "a public channel with that name exists", Err: err}
	} else if err != nil {
		return fmt.Errorf("update channel: %w", err)
	}
	if n == 0 {
		return store.NotFound("channel")
	}
	return nil
}

func (t tx) InsertMember(ctx context.Context, m *unhidra.Member) error {
	if m.Notify == "" {
		m.Notify = "all"
	}
	_, err := t.c.Exec(ctx, `INSERT INTO channel_members (channel_id, user_id, role, joined_at, last_read_seq, muted, notify, hidden)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ChannelID, m.UserID, m.Role, store.Micros(m.JoinedAt), m.LastReadSeq, m.Muted, m.Notify, m.Hidden)
	switch {
	case store.IsUniqueViolation(err):
		return &unhidra.Error{Code: unhidra.EConflict, Message: "already a member", Err: err}
	case store.IsForeignKeyViolation(err):
		return &unhidra.Error{Code: unhidra.ENotFound, Message: "user or channel not found", Err: err}
	}
	if err != nil {
		return fmt.Errorf("insert member: %w", err)
	}
	return nil
}

func (t tx) SetRole(ctx context.Context, channelID, userID, role string) error {
	n, err := t.c.ExecN(ctx, `UPDATE channel_members SET role = ? WHERE channel_id = ? AND user_id = ?`, role, channelID, userID)
	if err != nil {
		return fmt.Errorf("set role: %w", err)
	}
	if n == 0 {
		return store.NotFound("member")
	}
	return nil
}

func (t tx) DeleteMember(ctx context.Context, channelID, userID string) error {
	n, err := t.c.ExecN(ctx, `DELETE FROM channel_members WHERE channel_id = ? AND user_id = ?`, channelID, userID)
	if err != nil {
		return fmt.Errorf("delete member: %w", err)
	}
	if n == 0 {
		return store.NotFound("member")
	}
	return nil
}

func (t tx) SetPrefs(ctx context.Context, channelID, userID string, p chat.Prefs) error {
	n, err := t.c.ExecN(ctx, `UPDATE channel_members SET muted = COALESCE(?, muted), notify = COALESCE(?, notify),
			hidden = COALESCE(?, hidden)
		WHERE channel_id = ? AND user_id = ?`, p.Muted, p.Notify, p.Hidden, channelID, userID)
	if err != nil {
		return fmt.Errorf("set prefs: %w", err)
	}
	if n == 0 {
		return store.NotFound("member")
	}
	return nil
}

func (t tx) SetLastRead(ctx context.Context, channelID, userID string, seq int64) (bool, error) {
	n, err := t.c.ExecN(ctx, `UPDATE channel_members SET last_read_seq = ?
		WHERE channel_id = ? AND user_id = ? AND last_read_seq < ?`, seq, channelID, userID, seq)
	if err != nil {
		return false, fmt.Errorf("set last read: %w", err)
	}
	return n > 0, nil
}

func (t tx) ReadAll(ctx context.Context, userID string) (map[string]int64, error) {
	rows, err := t.c.Query(ctx, `UPDATE channel_members
		SET last_read_seq = (SELECT c.last_seq FROM channels c WHERE c.id = channel_members.channel_id)
		WHERE user_id = ? AND last_read_seq < (SELECT c.last_seq FROM channels c WHERE c.id = channel_members.channel_id)
		RETURNING channel_id, last_read_seq`, userID)
	if err != nil {
		return nil, fmt.Errorf("read all: %w", err)
	}
	return scanSeqs(rows, "read all")
}

func (t tx) InsertMessage(ctx context.Context, m *unhidra.Message, contentHash string) error {
	var root any
	if m.ThreadRootID != "" {
		root = m.ThreadRootID
	}
	_, err := t.c.Exec(ctx, `INSERT INTO messages (id, channel_id, seq, client_msg_id, content_hash, sender_type, sender_id,
			kind, body, ciphertext, thread_root_id, mentions, reply_count, last_reply_at, pinned, created_at, edited_at, deleted_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, ?, NULL, NULL, ?)`,
		m.ID, m.ChannelID, m.Seq, m.ClientMsgID, contentHash, m.Sender.Type, m.Sender.ID,
		m.Kind, m.Body, m.Ciphertext, root, strings.Join(m.Mentions, " "), false, store.Micros(m.CreatedAt), store.MicrosPtr(m.ExpiresAt))
	if store.IsUniqueViolation(err) {
		return &unhidra.Error{Code: unhidra.EConflict, Message: "client_msg_id already used in this channel", Err: err}
	} else if err != nil {
		return fmt.Errorf("insert message: %w", err)
	}
	return nil
}

func (t tx) SetMentions(ctx context.Context, m *unhidra.Message, userIDs []string) error {
	if _, err := t.c.Exec(ctx, `UPDATE messages SET mentions = ? WHERE id = ?`, strings.Join(m.Mentions, " "), m.ID); err != nil {
		return fmt.Errorf("set mentions: %w", err)
	}
	if _, err := t.c.Exec(ctx, `DELETE FROM mentions WHERE message_id = ?`, m.ID); err != nil {
		return fmt.Errorf("set mentions: %w", err)
	}
	for _, u := range userIDs {
		if _, err := t.c.Exec(ctx, `INSERT INTO mentions (message_id, channel_id, seq, user_id) VALUES (?, ?, ?, ?)
			ON CONFLICT (message_id, user_id) DO NOTHING`, m.ID, m.ChannelID, m.Seq, u); err != nil {
			return fmt.Errorf("set mentions: %w", err)
		}
	}
	return nil
}

func (t tx) EditMessage(ctx context.Context, old *unhidra.Message, editorID, body, ciphertext string, at time.Time) error {
	if _, err := t.c.Exec(ctx, `INSERT INTO message_edits (message_id, edited_at, editor_id, old_body, old_ciphertext)
		VALUES (?, ?, ?, ?, ?)`, old.ID, store.Micros(at), editorID, old.Body, old.Ciphertext); err != nil {
		return fmt.Errorf("edit message: %w", err)
	}
	n, err := t.c.ExecN(ctx, `UPDATE messages SET body = ?, ciphertext = ?, edited_at = ? WHERE id = ?`,
		body, ciphertext, store.Micros(at), old.ID)
	if err != nil {
		return fmt.Errorf("edit message: %w", err)
	}
	if n == 0 {
		return store.NotFound("message")
	}
	return nil
}

func (t tx) TombstoneMessage(ctx context.Context, id string, at time.Time) error {
	n, err := t.c.ExecN(ctx, `UPDATE messages SET body = '', ciphertext = '', mentions = '', content_hash = '', pinned = ?, deleted_at = ?, expires_at = NULL
		WHERE id = ? AND deleted_at IS NULL`, false, store.Micros(at), id)
	if err != nil {
		return fmt.Errorf("delete message: %w", err)
	}
	if n == 0 {
		return store.NotFound("message")
	}
	for _, q := range []string{
		`DELETE FROM mentions WHERE message_id = ?`,
		`DELETE FROM message_edits WHERE message_id = ?`,
		`DELETE FROM reactions WHERE message_id = ?`,
		`DELETE FROM encrypted_reactions WHERE message_id = ?`,
		// The event log keeps no content of a deleted message: its
		// reaction events (emoji, or an encrypted reaction's ciphertext)
		// are redacted to ids; they replay as its tombstone.
		`UPDATE channel_events SET frame = '{"type":"reaction","channel_id":"' || channel_id || '","message_id":"' || message_id || '","seq":' || seq || '}'
			WHERE message_id = ? AND type = 'reaction'`,
	} {
		if _, err := t.c.Exec(ctx, q, id); err != nil {
			return fmt.Errorf("delete message: %w", err)
		}
	}
	t.c.Erased()
	return nil
}

func (t tx) SetPinned(ctx context.Context, id string, pinned bool) (bool, error) {
	n, err := t.c.ExecN(ctx, `UPDATE messages SET pinned = ? WHERE id = ? AND pinned <> ? AND deleted_at IS NULL`, pinned, id, pinned)
	if err != nil {
		return false, fmt.Errorf("set pinned: %w", err)
	}
	return n > 0, nil
}

func (t tx) AddReaction(ctx context.Context, messageID, userID, emoji string, at time.Time) (bool, error) {
	n, err := t.c.ExecN(ctx, `INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (message_id, user_id, emoji) DO NOTHING`, messageID, userID, emoji, store.Micros(at))
	if err != nil {
		return false, fmt.Errorf("add reaction: %w", err)
	}
	return n > 0, nil
}

func (t tx) RemoveReaction(ctx context.Context, messageID, userID, emoji string) (bool, error) {
	n, err := t.c.ExecN(ctx, `DELETE FROM reactions WHERE message_id = ? AND user_id = ? AND emoji = ?`, messageID, userID, emoji)
	if err != nil {
		return false, fmt.Errorf("remove reaction: %w", err)
	}
	return n > 0, nil
}

func (t tx) BumpThread(ctx context.Context, rootID string, delta int, at time.Time) error {
	var err error
	if delta > 0 {
		_, err = t.c.Exec(ctx, `UPDATE messages SET reply_count = reply_count + ?, last_reply_at = ? WHERE id = ?`, delta, store.Micros(at), rootID)
	} else {
		_, err = t.c.Exec(ctx, `UPDATE messages SET reply_count = reply_count + ? WHERE id = ?`, delta, rootID)
	}
	if err != nil {
		return fmt.Errorf("bump thread: %w", err)
	}
	return nil
}

func (t tx) SetFollow(ctx context.Context, rootID, userID string, follow, onlyIfUnset bool) error {
	q := `INSERT INTO thread_follows (root_id, user_id, following) VALUES (?, ?, ?)
		ON CONFLICT (root_id, user_id) DO UPDATE SET following = excluded.following`
	if onlyIfUnset {
		q = `INSERT INTO thread_follows (root_id, user_id, following) VALUES (?, ?, ?)
		ON CONFLICT (root_id, user_id) DO NOTHING`
	}
	if _, err := t.c.Exec(ctx, q, rootID, userID, follow); err != nil {
		return fmt.Errorf("set follow: %w", err)
	}
	return nil
}

// scanSeqs reads (channel id, seq) rows into a map and closes them.
func scanSeqs(rows *sql.Rows, what string) (map[string]int64, error) {
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out[id] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
