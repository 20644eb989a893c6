package client_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/internal/testserver"
)

// These tests run the SDK against a real node (internal/testserver).

func signUp(t *testing.T, n *testserver.Node, username, password string) *client.Client {
	t.Helper()
	c, err := client.New(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(t.Context(), client.RegisterInput{Username: username, Password: password}); err != nil {
		t.Fatalf("register %s: %v", username, err)
	}
	if _, err := c.Login(t.Context(), username, password); err != nil {
		t.Fatalf("login %s: %v", username, err)
	}
	return c
}

func TestE2EChatFlow(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	ctx := t.Context()
	alice := signUp(t, n, "alice", "correct horse battery 1")
	bob := signUp(t, n, "bob", "purple monkey dishwasher")

	me, err := alice.Me(ctx)
	if err != nil || me.Username != "alice" {
		t.Fatalf("me: %v %v", me, err)
	}
	ch, err := alice.CreateChannel(ctx, client.CreateChannelInput{Name: "general", Topic: "everything"})
	if err != nil || ch.Kind != unhidra.ChannelPublic || ch.Name != "general" {
		t.Fatalf("create: %+v %v", ch, err)
	}
	// Errors come back typed: a duplicate name is a conflict, an unknown
	// channel not_found.
	if _, err := alice.CreateChannel(ctx, client.CreateChannelInput{Name: "general"}); !client.IsCode(err, client.CodeConflict) {
		t.Fatalf("duplicate channel: %v", err)
	}
	if _, err := bob.Channel(ctx, "no-such-channel"); !client.IsCode(err, client.CodeNotFound) {
		t.Fatalf("unknown channel: %v", err)
	}

	// bob finds the channel by name and joins.
	found, err := bob.ResolveChannel(ctx, "#General")
	if err != nil || found.ID != ch.ID {
		t.Fatalf("resolve: %+v %v", found, err)
	}
	if _, err := bob.Join(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}

	// A retried send (same client_msg_id) is stored once.
	in := &unhidra.SendInput{ChannelID: ch.ID, Body: "hello @bob, the deploy is green"}
	m1, err := alice.Send(ctx, in)
	if err != nil || in.ClientMsgID == "" {
		t.Fatalf("send: %v", err)
	}
	again, err := alice.Send(ctx, in)
	if err != nil || again.ID != m1.ID {
		t.Fatalf("retried send: %+v %v", again, err)
	}
	// bob has an unread mention until he reads.
	list, err := bob.Channels(ctx)
	if err != nil || len(list) != 1 || list[0].UnreadCount == 0 || list[0].MentionCount == 0 {
		t.Fatalf("channels: %v %+v", err, list)
	}
	if err := bob.MarkRead(ctx, ch.ID, list[0].LastSeq); err != nil {
		t.Fatal(err)
	}
	if list, _ = bob.Channels(ctx); list[0].UnreadCount != 0 {
		t.Fatalf("unread after read: %+v", list[0])
	}

	reply, err := bob.Send(ctx, &unhidra.SendInput{ChannelID: ch.ID, Body: "thanks", ThreadRootID: m1.ID})
	if err != nil {
		t.Fatal(err)
	}
	page, err := bob.Messages(ctx, ch.ID, client.MessagesOptions{Limit: 10})
	if err != nil || len(page.Messages) < 1 || page.Messages[0].ID != m1.ID {
		t.Fatalf("messages: %+v %v", page, err)
	}
	th, err := alice.Thread(ctx, m1.ID, client.MessagesOptions{})
	if err != nil || th.Root.ID != m1.ID || len(th.Replies) != 1 || th.Replies[0].ID != reply.ID {
		t.Fatalf("thread: %+v %v", th, err)
	}
	if err := bob.React(ctx, m1.ID, "👍"); err != nil {
		t.Fatal(err)
	}
	if err := alice.Pin(ctx, m1.ID); err != nil {
		t.Fatal(err)
	}
	pins, err := bob.Pins(ctx, ch.ID, 0)
	if err != nil || len(pins) != 1 || pins[0].ID != m1.ID {
		t.Fatalf("pins: %v %v", pins, err)
	}
	edited, err := alice.Edit(ctx, m1.ID, client.MessageEdit{Body: "hello @bob, the deploy is green (v2)"})
	if err != nil || edited.EditedAt == nil {
		t.Fatalf("edit: %+v %v", edited, err)
	}
	hist, err := alice.History(ctx, m1.ID)
	if err != nil || len(hist) != 1 || !strings.Contains(hist[0].Body, "green") {
		t.Fatalf("history: %+v %v", hist, err)
	}

	res, err := bob.Search(ctx, "deploy", client.ListOptions{})
	if err != nil || len(res.Hits) != 1 || res.Hits[0].Message.ID != m1.ID || len(res.Hits[0].Highlights) == 0 {
		t.Fatalf("search: %+v %v", res, err)
	}

	// A DM: the same member set answers the same channel.
	bobUser, err := alice.UserByUsername(ctx, "BOB")
	if err != nil {
		t.Fatal(err)
	}
	dm, created, err := alice.CreateDM(ctx, []string{bobUser.ID}, false)
	if err != nil || !created || dm.Kind != unhidra.ChannelDirect {
		t.Fatalf("dm: %+v %v %v", dm, created, err)
	}
	dm2, created, err := alice.CreateDM(ctx, []string{bobUser.ID}, false)
	if err != nil || created || dm2.ID != dm.ID {
		t.Fatalf("dm again: %+v %v %v", dm2, created, err)
	}
	evs, err := bob.Events(ctx, ch.ID, 0, 0)
	if err != nil || len(evs) == 0 || evs[0].Seq != 1 {
		t.Fatalf("events: %v %v", evs, err)
	}
	for i, ev := range evs {
		f, err := client.ParseFrame(ev.Frame)
		if err != nil || f.Type != ev.Type || f.Seq != ev.Seq || ev.Seq != int64(i+1) {
			t.Fatalf("event %d: %+v %v", i, f, err)
		}
	}
	members, err := alice.Members(ctx, ch.ID, client.ListOptions{})
	if err != nil || len(members.Members) != 2 {
		t.Fatalf("members: %+v %v", members, err)
	}
}

// TestE2EStream: a Stream hears another user's messages live, and after a
// lost connection resumes without losing or repeating any.
func TestE2EStream(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	alice := signUp(t, n, "alice", "correct horse battery 1")
	bob := signUp(t, n, "bob", "purple monkey dishwasher")
	ch, err := alice.CreateChannel(ctx, client.CreateChannelInput{Name: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Join(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}

	s := bob.Stream(client.StreamOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	defer s.Close()
	f, err := s.Next(ctx)
	if err != nil || f.Type != client.FrameHello {
		t.Fatalf("first frame: %+v %v", f, err)
	}
	// next returns the bodies of the next k messages of the channel.
	next := func(k int) []string {
		t.Helper()
		var bodies []string
		for len(bodies) < k {
			f, err := s.Next(ctx)
			if err != nil {
				t.Fatalf("next: %v (so far %v)", err, bodies)
			}
			if f.Type == client.FrameMessage && f.ChannelID == ch.ID {
				m, err := f.Message()
				if err != nil {
					t.Fatal(err)
				}
				bodies = append(bodies, m.Body)
			}
		}
		return bodies
	}
	if _, err := alice.SendText(ctx, ch.ID, "one"); err != nil {
		t.Fatal(err)
	}
	if got := next(1); got[0] != "one" {
		t.Fatalf("live: %v", got)
	}

	// The connection drops; two messages are posted meanwhile.
	s.Close()
	for _, b := range []string{"two", "three"} {
		if _, err := alice.SendText(ctx, ch.ID, b); err != nil {
			t.Fatal(err)
		}
	}
	got := next(2)
	if _, err := alice.SendText(ctx, ch.ID, "four"); err != nil {
		t.Fatal(err)
	}
	got = append(got, next(1)...)
	if !slices.Equal(got, []string{"two", "three", "four"}) {
		t.Fatalf("after reconnect: %v", got)
	}

	// A send over the socket is acknowledged before its echo.
	cn := s.Conn()
	in := &unhidra.SendInput{ChannelID: ch.ID, Body: "five"}
	if err := cn.Send(ctx, in); err != nil {
		t.Fatal(err)
	}
	var order []string
	for len(order) < 2 {
		f, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		switch f.Type {
		case client.FrameAck:
			var a client.Ack
			if f.Decode(&a); a.ClientMsgID == in.ClientMsgID {
				order = append(order, "ack")
			}
		case client.FrameMessage:
			if m, _ := f.Message(); m != nil && m.ClientMsgID == in.ClientMsgID {
				order = append(order, "message")
			}
		case client.FrameError:
			t.Fatalf("send over socket: %v", f.Err())
		}
	}
	if !slices.Equal(order, []string{"ack", "message"}) {
		t.Fatalf("order %v", order)
	}
}

// TestE2ELogoutClosesStream: a stream whose session ends stops with
// unauthenticated instead of reconnecting forever.
func TestE2ELogoutClosesStream(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	bob := signUp(t, n, "bob", "purple monkey dishwasher")
	other, _ := client.New(n.URL, client.WithTokens(bob.Tokens()))
	s := bob.Stream(client.StreamOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	defer s.Close()
	if f, err := s.Next(ctx); err != nil || f.Type != client.FrameHello {
		t.Fatalf("hello: %v %v", f, err)
	}
	if err := other.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		_, err := s.Next(ctx)
		if err == nil {
			continue
		}
		if !client.IsCode(err, client.CodeUnauthenticated) {
			t.Fatalf("after logout: %v", err)
		}
		return
	}
	t.Fatal("the stream kept going after logout")
}

// TestE2EConn: a bare connection says hello with the caller, answers the
// ping Connect sends, relays typing and read receipts between users, and
// refuses a send to a channel the user cannot post to with an error frame
// whose ref is the client_msg_id.
func TestE2EConn(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	alice := signUp(t, n, "alice", "correct horse battery 1")
	bob := signUp(t, n, "bob", "purple monkey dishwasher")
	ch, err := alice.CreateChannel(ctx, client.CreateChannelInput{Name: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Join(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	ca, err := alice.Connect(ctx, client.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	if u := ca.Hello().User; u == nil || u.Username != "alice" {
		t.Fatalf("hello: %+v", ca.Hello())
	}
	cb, err := bob.Connect(ctx, client.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	// until reads alice's frames until one of type typ.
	until := func(cn *client.Conn, typ string) *client.Frame {
		t.Helper()
		for range 100 {
			f, err := cn.Read(ctx)
			if err != nil {
				t.Fatalf("waiting for %s: %v", typ, err)
			}
			if f.Type == typ {
				return f
			}
		}
		t.Fatalf("no %s frame", typ)
		return nil
	}
	until(ca, client.FramePong)
	until(cb, client.FramePong)

	if err := cb.Typing(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	var ty client.Typing
	if err := until(ca, client.FrameTyping).Decode(&ty); err != nil || ty.ChannelID != ch.ID || ty.UserID != cb.Hello().User.ID {
		t.Fatalf("typing: %+v %v", ty, err)
	}

	bad := &unhidra.SendInput{ChannelID: "no-such-channel", Body: "hi"}
	if err := ca.Send(ctx, bad); err != nil {
		t.Fatal(err)
	}
	e := until(ca, client.FrameError).Err()
	if e == nil || e.Code != client.CodeNotFound || e.Ref != bad.ClientMsgID {
		t.Fatalf("error frame: %+v", e)
	}
	// The socket stays open after an error frame.
	m, err := alice.SendText(ctx, ch.ID, "still here")
	if err != nil {
		t.Fatal(err)
	}
	f := until(ca, client.FrameMessage)
	if got, _ := f.Message(); got == nil || got.ID != m.ID || ca.Positions()[ch.ID] != m.Seq {
		t.Fatalf("message %+v, positions %v", got, ca.Positions())
	}
}
