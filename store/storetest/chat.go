package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/chat"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/authstore"
	"github.com/unhidra/unhidra/store/chatstore"
	"github.com/unhidra/unhidra/wire"
)

// Chat runs the contract cases of chat.Store, on chatstore.Store, as
// parallel subtests of t, with the same open as Accounts. The cases create
// their users with authstore.Store, as the server does.
func Chat(t *testing.T, open func(t *testing.T) *store.DB) {
	cases := []struct {
		name string
		fn   func(t *testing.T, users auth.Store, st chat.Store)
	}{
		{"Chat/SeqGapFreeUnderConcurrentPosts", testSeqConcurrent},
		{"Chat/RollbackReturnsSeq", testSeqRollback},
		{"Chat/ClientMsgIDUnique", testClientMsgIDUnique},
		{"Chat/DMKeyUnique", testDMKeyUnique},
		{"Chat/PublicNamesUniquePrivateNot", testChannelNames},
		{"Chat/MessagesPagination", testMessagesPagination},
		{"Chat/UnreadAndMentionCounts", testUnreadCounts},
		{"Chat/SearchMembersOnlyStandardOnly", testChatSearch},
		{"Chat/ChannelIDsByNameMembersOnly", testChannelIDsByName},
		{"Chat/Reactions", testChatReactions},
		{"Chat/EventsCarryTheirMessageAsItIsNow", testEventsCarryMessage},
		{"Chat/TombstoneErasesContent", testTombstoneErases},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			c.fn(t, authstore.New(db), chatstore.New(db))
		})
	}
	t.Run("Chat/SearchEveryPlanPaginatesExactly", func(t *testing.T) {
		t.Parallel()
		testSearchPlans(t, open(t))
	})
}

func newChannel(t *testing.T, st chat.Store, id, name, kind string, encrypted bool, members ...string) *unhidra.Channel {
	t.Helper()
	ch := &unhidra.Channel{ID: id, Name: name, Kind: kind, Encrypted: encrypted, CreatedBy: members[0], CreatedAt: now, UpdatedAt: now}
	mustOK(t, st.Tx(t.Context(), func(tx chat.Tx) error {
		if err := tx.InsertChannel(t.Context(), ch, ""); err != nil {
			return err
		}
		for _, m := range members {
			if err := tx.InsertMember(t.Context(), &unhidra.Member{ChannelID: id, UserID: m, Role: unhidra.ChannelMember, JoinedAt: now}); err != nil {
				return err
			}
		}
		return nil
	}))
	return ch
}

// post stores a message and its event in one transaction, as the service
// does.
func post(ctx context.Context, st chat.Store, channelID, sender, cmid, body string) (*unhidra.Message, error) {
	var m *unhidra.Message
	err := st.Tx(ctx, func(tx chat.Tx) error {
		seq, err := tx.NextSeq(ctx, channelID)
		if err != nil {
			return err
		}
		m = &unhidra.Message{ID: fmt.Sprintf("%s-%s-%s", channelID, sender, cmid), ChannelID: channelID, Seq: seq, ClientMsgID: cmid,
			Sender: unhidra.Sender{Type: unhidra.SenderUser, ID: sender}, Kind: unhidra.MessageText, Body: body, CreatedAt: now.Add(time.Duration(seq) * time.Millisecond)}
		if err := tx.InsertMessage(ctx, m, "h-"+body); err != nil {
			return err
		}
		return tx.InsertEvent(ctx, &chat.EventRecord{ChannelID: channelID, Seq: seq, Type: wire.TypeMessage, MessageID: m.ID,
			Frame: []byte(fmt.Sprintf(`{"type":"message","channel_id":%q,"seq":%d}`, channelID, seq)), CreatedAt: now})
	})
	return m, err
}

func testSeqConcurrent(t *testing.T, users auth.Store, st chat.Store) {
	a, b := newUser(t, users, "alice"), newUser(t, users, "bobby")
	newChannel(t, st, "c1", "one", unhidra.ChannelPublic, false, a.ID, b.ID)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := post(t.Context(), st, "c1", a.ID, fmt.Sprintf("w%d-%d", w, i), "hello"); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	evs, err := st.Events(t.Context(), "c1", 0, 1000)
	mustOK(t, err)
	if len(evs) != workers*each {
		t.Fatalf("%d events, want %d", len(evs), workers*each)
	}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
	ch, err := st.Channel(t.Context(), "c1")
	mustOK(t, err)
	if ch.LastSeq != workers*each {
		t.Fatalf("last_seq = %d", ch.LastSeq)
	}
}

func testSeqRollback(t *testing.T, users auth.Store, st chat.Store) {
	a := newUser(t, users, "alice")
	newChannel(t, st, "c1", "one", unhidra.ChannelPublic, false, a.ID)
	boom := errors.New("boom")
	err := st.Tx(t.Context(), func(tx chat.Tx) error {
		if _, err := tx.NextSeq(t.Context(), "c1"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	m, err := post(t.Context(), st, "c1", a.ID, "x", "after rollback")
	mustOK(t, err)
	if m.Seq != 1 {
		t.Fatalf("seq after rollback = %d, want 1", m.Seq)
	}
	wantCode(t, st.Tx(t.Context(), func(tx chat.Tx) error { _, err := tx.NextSeq(t.Context(), "nope"); return err }), unhidra.ENotFound)
}

func testClientMsgIDUnique(t *testing.T, users auth.Store, st chat.Store) {
	a, b := newUser(t, users, "alice"), newUser(t, users, "bobby")
	newChannel(t, st, "c1", "one", unhidra.ChannelPublic, false, a.ID, b.ID)
	_, err := post(t.Context(), st, "c1", a.ID, "same", "one")
	mustOK(t, err)
	wantCode(t, st.Tx(t.Context(), func(tx chat.Tx) error {
		return tx.InsertMessage(t.Context(), &unhidra.Message{ID: "other", ChannelID: "c1", Seq: 99, ClientMsgID: "same",
			Sender: unhidra.Sender{Type: unhidra.SenderUser, ID: a.ID}, Kind: unhidra.MessageText, Body: "two", CreatedAt: now}, "h")
	}), unhidra.EConflict)
	// Another sender may use the same id.
	_, err = post(t.Context(), st, "c1", b.ID, "same", "mine")
	mustOK(t, err)
	m, hash, err := st.MessageByClientID(t.Context(), "c1", a.ID, "same")
	mustOK(t, err)
	if m.Body != "one" || hash != "h-one" {
		t.Fatalf("by client id = %+v %q", m, hash)
	}
}

func testDMKeyUnique(t *testing.T, users auth.Store, st chat.Store) {
	a, b := newUser(t, users, "alice"), newUser(t, users, "bobby")
	key := "standard:" + a.ID + "," + b.ID
	ins := func(id string) error {
		return st.Tx(t.Context(), func(tx chat.Tx) error {
			return tx.InsertChannel(t.Context(), &unhidra.Channel{ID: id, Kind: unhidra.ChannelDirect, CreatedBy: a.ID, CreatedAt: now, UpdatedAt: now}, key)
		})
	}
	mustOK(t, ins("d1"))
	wantCode(t, ins("d2"), unhidra.EConflict)
	ch, err := st.ChannelByDMKey(t.Context(), key)
	mustOK(t, err)
	if ch.ID != "d1" || len(ch.Members) != 2 {
		t.Fatalf("dm = %+v", ch)
	}
}

func testChannelNames(t *testing.T, users auth.Store, st chat.Store) {
	a := newUser(t, users, "alice")
	newChannel(t, st, "p1", "dup", unhidra.ChannelPrivate, false, a.ID)
	newChannel(t, st, "p2", "dup", unhidra.ChannelPrivate, false, a.ID)
	newChannel(t, st, "c1", "dup", unhidra.ChannelPublic, false, a.ID)
	wantCode(t, st.Tx(t.Context(), func(tx chat.Tx) error {
		return tx.InsertChannel(t.Context(), &unhidra.Channel{ID: "c2", Name: "dup", Kind: unhidra.ChannelPublic, CreatedBy: a.ID, CreatedAt: now, UpdatedAt: now}, "")
	}), unhidra.EConflict)
	chs, err := st.BrowsePublic(t.Context(), "du", "", 10)
	mustOK(t, err)
	if len(chs) != 1 || chs[0].ID != "c1" {
		t.Fatalf("browse = %+v", chs)
	}
}

func testMessagesPagination(t *testing.T, users auth.Store, st chat.Store) {
	a := newUser(t, users, "alice")
	newChannel(t, st, "c1", "one", unhidra.ChannelPublic, false, a.ID)
	for i := 1; i <= 5; i++ {
		_, err := post(t.Context(), st, "c1", a.ID, fmt.Sprint(i), fmt.Sprint("m", i))
		mustOK(t, err)
	}
	seqs := func(q chat.MessageQuery) []int64 {
		q.ChannelID = "c1"
		ms, err := st.Messages(t.Context(), q)
		mustOK(t, err)
		var out []int64
		for _, m := range ms {
			out = append(out, m.Seq)
		}
		return out
	}
	for name, c := range map[string]struct {
		q    chat.MessageQuery
		want string
	}{
		"latest":       {chat.MessageQuery{Limit: 2}, "[4 5]"},
		"before":       {chat.MessageQuery{Before: 4, Limit: 2}, "[2 3]"},
		"after":        {chat.MessageQuery{FromAfter: true, After: 1, Limit: 2}, "[2 3]"},
		"after_zero":   {chat.MessageQuery{FromAfter: true, Limit: 10}, "[1 2 3 4 5]"},
		"after_at_end": {chat.MessageQuery{FromAfter: true, After: 5, Limit: 10}, "[]"},
	} {
		if got := fmt.Sprint(seqs(c.q)); got != c.want {
			t.Errorf("%s: %s, want %s", name, got, c.want)
		}
	}
}

func testUnreadCounts(t *testing.T, users auth.Store, st chat.Store) {
	a, b := newUser(t, users, "alice"), newUser(t, users, "bobby")
	newChannel(t, st, "c1", "one", unhidra.ChannelPublic, false, a.ID, b.ID)
	m1, err := post(t.Context(), st, "c1", a.ID, "1", "hi")
	mustOK(t, err)
	_, err = post(t.Context(), st, "c1", b.ID, "2", "own message")
	mustOK(t, err)
	m3, err := post(t.Context(), st, "c1", a.ID, "3", "@bobby")
	mustOK(t, err)
	mustOK(t, st.Tx(t.Context(), func(tx chat.Tx) error { return tx.SetMentions(t.Context(), m3, []string{b.ID}) }))
	counts := func() (int, int) {
		chs, err := st.UserChannels(t.Context(), b.ID)
		mustOK(t, err)
		return chs[0].UnreadCount, chs[0].MentionCount
	}
	if u, m := counts(); u != 2 || m != 1 {
		t.Fatalf("unread %d mentions %d, want 2 1", u, m)
	}
	mustOK(t, st.Tx(t.Context(), func(tx chat.Tx) error { _, err := tx.SetLastRead(t.Context(), "c1", b.ID, m1.Seq); return err }))
	if u, m := counts(); u != 1 || m != 1 {
		t.Fatalf("after read: unread %d mentions %d, want 1 1", u, m)
	}
	mustOK(t, st.Tx(t.Context(), func(tx chat.Tx) error { return tx.TombstoneMessage(t.Context(), m3.ID, now) }))
	if u, m := counts(); u != 0 || m != 0 {
		t.Fatalf("after delete: unread %d mentions %d, want 0 0", u, m)
	}
	// Read positions never move back.
	var moved bool
	mustOK(t, st.Tx(t.Context(), func(tx chat.Tx) error {
		var err error
		moved, err = tx.SetLastRead(t.Context(), "c1", b.ID, 0)
		return err
	}))
	if moved {
		t.Fatal("read position moved back")
	}
}

func testChatSearch(t *testing.T, users auth.Store, st chat.Store) {
	a, b := newUser(t, users, "alice"), newUser(t, users, "bobby")
	newChannel(t, st, "c1", "one", unhidra.ChannelPublic, false, a.ID, b.ID)
	newChannel(t, st, "c2", "two", unhidra.ChannelPrivate, false, a.ID)
	newChannel(t, st, "c3", "three", unhidra.ChannelPrivate, true, a.ID, b.ID)
	for _, p := range []struct{ ch, cmid, body string }{
		{"c1", "1", "The quick brown fox"},
		{"c1", "2", "brown bread, quick"},
		{"c2", "3", "quick brown fox in private"},
		{"c3", "4", "quick brown fox (an encrypted channel's body is never set; this checks the filter)"},
	} {
		_, err := post(t.Context(), st, p.ch, a.ID, p.cmid, p.body)
		mustOK(t, err)
	}
	find := func(user string, terms ...string) int {
		ms, err := st.Search(t.Context(), chat.SearchQuery{UserID: user, Terms: terms, Limit: 10})
		mustOK(t, err)
		return len(ms)
	}
	if n := find(b.ID, "brown fox"); n != 1 {
		t.Fatalf("bobby: phrase found %d, want 1", n)
	}
	if n := find(b.ID, "quick", "brown"); n != 2 {
		t.Fatalf("bobby: words found %d, want 2", n)
	}
	if n := find(a.ID, "QUICK"); n != 3 {
		t.Fatalf("alice: found %d, want 3 (case-insensitive, standard channels only)", n)
	}
	if n := find(a.ID, `fo"x`); n != 0 {
		t.Fatalf("quote in a term matched %d", n)
	}
	ms, err := st.Search(t.Context(), chat.SearchQuery{UserID: a.ID, Terms: []string{"quick"}, Limit: 1})
	mustOK(t, err)
	next, err := st.Search(t.Context(), chat.SearchQuery{UserID: a.ID, Terms: []string{"quick"}, Limit: 10, CursorAt: ms[0].CreatedAt, CursorID: ms[0].ID})
	mustOK(t, err)
	if len(next) != 2 || next[0].ID == ms[0].ID {
		t.Fatalf("second page = %d", len(next))
	}
}

func testChannelIDsByName(t *testing.T, users auth.Store, st chat.Store) {
	a, b := newUser(t, users, "alice"), newUser(t, users, "bobby")
	newChannel(t, st, "c1", "one", unhidra.ChannelPublic, false, a.ID, b.ID)
	newChannel(t, st, "c2", "two", unhidra.ChannelPrivate, true, a.ID)
	newChannel(t, st, "c3", "three", unhidra.ChannelPublic, false, b.ID)
	ids, err := st.ChannelIDsByName(t.Context(), a.ID, []string{"ONE", "two", "three", "nope"})
	mustOK(t, err)
	// Any kind of channel the user is in; never one they are not in.
	if !slices.Equal(ids, []string{"c1", "c2"}) {
		t.Fatalf("ChannelIDsByName = %v, want [c1 c2]", ids)
	}
	if ids, err := st.ChannelIDsByName(t.Context(), a.ID, nil); err != nil || len(ids) != 0 {
		t.Fatalf("no names: %v, %v", ids, err)
	}
}

func testChatReactions(t *testing.T, users auth.Store, st chat.Store) {
	a, b := newUser(t, users, "alice"), newUser(t, users, "bobby")
	newChannel(t, st, "c1", "one", unhidra.ChannelPublic, false, a.ID, b.ID)
	m, err := post(t.Context(), st, "c1", a.ID, "1", "hi")
	mustOK(t, err)
	add := func(user string) bool {
		var added bool
		mustOK(t, st.Tx(t.Context(), func(tx chat.Tx) error {
			var err error
			added, err = tx.AddReaction(t.Context(), m.ID, user, "👍", now)
			return err
		}))
		return added
	}
	if !add(a.ID) || add(a.ID) || !add(b.ID) {
		t.Fatal("a reaction is once per user")
	}
	rs, err := st.Reactions(t.Context(), []string{m.ID}, b.ID)
	mustOK(t, err)
	if len(rs[m.ID]) != 1 || rs[m.ID][0].Count != 2 || !rs[m.ID][0].Me {
		t.Fatalf("reactions = %+v", rs)
	}
}

func testEventsCarryMessage(t *testing.T, users auth.Store, st chat.Store) {
	ctx := t.Context()
	a := newUser(t, users, "alice")
	newChannel(t, st, "c1", "one", unhidra.ChannelPublic, false, a.ID)
	m, err := post(ctx, st, "c1", a.ID, "1", "first words")
	mustOK(t, err)
	mustOK(t, st.Tx(ctx, func(tx chat.Tx) error {
		if err := tx.EditMessage(ctx, m, a.ID, "second words", "", now); err != nil {
			return err
		}
		seq, err := tx.NextSeq(ctx, "c1")
		if err != nil {
			return err
		}
		return tx.InsertEvent(ctx, &chat.EventRecord{ChannelID: "c1", Seq: seq, Type: wire.TypeMemberLeft, UserID: a.ID,
			Frame: []byte(`{"type":"member_left"}`), CreatedAt: now})
	}))
	evs, err := st.Events(ctx, "c1", 0, 100)
	mustOK(t, err)
	var msg, left *chat.EventRecord
	for i := range evs {
		switch evs[i].Type {
		case wire.TypeMessage:
			msg = &evs[i]
		case wire.TypeMemberLeft:
			left = &evs[i]
		}
	}
	if msg == nil || msg.MessageID != m.ID || msg.Message == nil || msg.Message.Body != "second words" || msg.Message.EditedAt == nil {
		t.Fatalf("message event %+v", msg)
	}
	if left == nil || left.UserID != a.ID || left.MessageID != "" || left.Message != nil {
		t.Fatalf("member_left event %+v", left)
	}
}

func testTombstoneErases(t *testing.T, users auth.Store, st chat.Store) {
	ctx := t.Context()
	a, b := newUser(t, users, "alice"), newUser(t, users, "bobby")
	newChannel(t, st, "c1", "one", unhidra.ChannelPublic, false, a.ID, b.ID)
	m, err := post(ctx, st, "c1", a.ID, "1", "secret words")
	mustOK(t, err)
	mustOK(t, st.Tx(ctx, func(tx chat.Tx) error {
		m.Mentions = []string{b.ID}
		if err := tx.SetMentions(ctx, m, []string{b.ID}); err != nil {
			return err
		}
		if _, err := tx.AddReaction(ctx, m.ID, b.ID, "👍", now); err != nil {
			return err
		}
		if _, err := tx.SetPinned(ctx, m.ID, true); err != nil {
			return err
		}
		return tx.EditMessage(ctx, m, a.ID, "more secret words", "", now)
	}))
	mustOK(t, st.Tx(ctx, func(tx chat.Tx) error { return tx.TombstoneMessage(ctx, m.ID, now) }))
	got, err := st.Message(ctx, m.ID)
	mustOK(t, err)
	if !got.Deleted || got.Body != "" || got.Ciphertext != "" || len(got.Mentions) != 0 || got.Pinned || got.Seq != m.Seq || got.Sender.ID != a.ID {
		t.Fatalf("tombstone %+v", got)
	}
	if es, err := st.Edits(ctx, m.ID); err != nil || len(es) != 0 {
		t.Fatalf("edit history after delete: %+v %v", es, err)
	}
	if rs, err := st.Reactions(ctx, []string{m.ID}, ""); err != nil || len(rs[m.ID]) != 0 {
		t.Fatalf("reactions after delete: %+v %v", rs, err)
	}
	if _, hash, err := st.MessageByClientID(ctx, "c1", a.ID, "1"); err != nil || hash != "" {
		t.Fatalf("content hash after delete: %q %v", hash, err)
	}
	if hits, err := st.Search(ctx, chat.SearchQuery{UserID: b.ID, Terms: []string{"secret"}, Limit: 10}); err != nil || len(hits) != 0 {
		t.Fatalf("search after delete: %d hits, %v", len(hits), err)
	}
	err = st.Tx(ctx, func(tx chat.Tx) error { return tx.TombstoneMessage(ctx, m.ID, now) })
	wantCode(t, err, unhidra.ENotFound)
}
