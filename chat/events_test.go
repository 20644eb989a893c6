package chat

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/wire"
)

func sampleMessage() *unhidra.Message {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	return &unhidra.Message{ID: "0192f3a4-0000-7000-8000-000000000001", ChannelID: "0192f3a4-0000-7000-8000-000000000002", Seq: 7,
		ClientMsgID: "c-1", Sender: unhidra.Sender{Type: unhidra.SenderUser, ID: "0192f3a4-0000-7000-8000-000000000003"},
		Kind: unhidra.MessageText, Body: "the deploy is green " + strings.Repeat("word ", 20), Mentions: []string{"u1"},
		Reactions: []unhidra.ReactionCount{{Emoji: "👍", Count: 2}}, Attachments: []string{}, CreatedAt: at}
}

// TestRenderMatchesLive: an event read back renders to exactly the frame
// that went out live, while the stored frame holds none of the content;
// after an edit it renders the edit, after a delete the tombstone.
func TestRenderMatchesLive(t *testing.T) {
	m := sampleMessage()
	frame := wire.MessageFrame{Type: wire.TypeMessage, ChannelID: m.ChannelID, Seq: m.Seq, Message: m}
	stored, live := encodeFrames(frame)
	if bytes.Contains(stored, []byte("deploy")) || bytes.Contains(stored, []byte(`"u1"`)) {
		t.Fatalf("stored frame holds content: %s", stored)
	}
	rec := &EventRecord{ChannelID: m.ChannelID, Seq: m.Seq, Type: wire.TypeMessage, MessageID: m.ID, Frame: stored, Message: m}
	if typ, got := render(rec); typ != wire.TypeMessage || !bytes.Equal(got, live) {
		t.Fatalf("render = %s %s\nlive   = %s", typ, got, live)
	}
	edited := *m
	edited.Body = "now different"
	now := time.Now()
	edited.EditedAt = &now
	rec.Message = &edited
	if _, got := render(rec); !bytes.Contains(got, []byte("now different")) || bytes.Contains(got, []byte("deploy")) {
		t.Fatalf("after an edit: %s", got)
	}
	gone := *tombstone(m)
	rec.Message = &gone
	for _, typ := range []string{wire.TypeMessage, wire.TypeMessageUpdated, wire.TypeReaction} {
		rec.Type = typ
		if typ == wire.TypeReaction {
			rec.Frame = wire.Encode(wire.Reaction{Type: typ, ChannelID: m.ChannelID, MessageID: m.ID, Emoji: "🍆", Seq: 9})
		}
		rt, got := render(rec)
		if bytes.Contains(got, []byte("deploy")) || bytes.Contains(got, []byte("🍆")) || !bytes.Contains(got, []byte(`"deleted":true`)) {
			t.Fatalf("%s after a delete: %s", typ, got)
		}
		if want := map[string]string{wire.TypeMessage: wire.TypeMessage}[typ]; want == "" && rt != wire.TypeMessageUpdated || want != "" && rt != want {
			t.Fatalf("%s renders as %s", typ, rt)
		}
	}
	rec.Message = nil
	rec.Type = wire.TypeMessage
	rec.Frame = stored
	if _, got := render(rec); !bytes.Contains(got, []byte(`"deleted":true`)) {
		t.Fatalf("with the row gone: %s", got)
	}
}

// BenchmarkRender is the cost a replay adds per message event: decoding
// the stored frame and encoding it with the current content.
func BenchmarkRender(b *testing.B) {
	m := sampleMessage()
	stored, _ := encodeFrames(wire.MessageFrame{Type: wire.TypeMessage, ChannelID: m.ChannelID, Seq: m.Seq, Message: m})
	rec := &EventRecord{ChannelID: m.ChannelID, Seq: m.Seq, Type: wire.TypeMessage, MessageID: m.ID, Frame: stored, Message: m}
	b.ReportAllocs()
	for b.Loop() {
		render(rec)
	}
}
