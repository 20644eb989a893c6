package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
)

// tail prints the messages of the named channels (all of the caller's when
// none are named) as they arrive, until the context ends (Ctrl-C). It
// survives disconnections: the stream reconnects and resumes, so nothing
// posted meanwhile is missed or printed twice.
func (x *cli) tail(args []string) error {
	fs := x.flags("tail")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := x.connect(true); err != nil {
		return err
	}
	mine, err := x.c.Channels(x.ctx)
	if err != nil {
		return x.friendly(err)
	}
	// Starting from each channel's current last_seq means "from now on";
	// anything posted after this point is replayed on connect if the
	// socket is not up yet.
	positions := map[string]int64{}
	names := map[string]string{}
	for _, ch := range mine {
		positions[ch.ID] = ch.LastSeq
		names[ch.ID] = x.channelName(ch)
	}
	var watch map[string]bool // nil: every channel
	if len(pos) > 0 {
		watch = map[string]bool{}
		for _, ref := range pos {
			ch, err := x.resolveChannel(ref)
			if err != nil {
				return err
			}
			if _, member := positions[ch.ID]; !member {
				return fmt.Errorf("you are not a member of %s: unhidra channels join %s", x.channelName(ch), ref)
			}
			watch[ch.ID] = true
		}
	}
	t := &tailer{x: x, watch: watch, names: names, lastMsg: map[string]int64{}}
	s := x.c.Stream(client.StreamOptions{
		Positions: positions,
		Resync:    t.resync,
		OnDisconnect: func(err error, wait time.Duration) {
			fmt.Fprintf(x.stderr, "disconnected (%v); retrying in %s\n", x.friendly(err), wait.Round(100*time.Millisecond))
		},
	})
	defer s.Close()
	if watch == nil {
		fmt.Fprintln(x.stderr, "tailing every channel (Ctrl-C to stop)")
	} else {
		var list []string
		for id := range watch {
			list = append(list, names[id])
		}
		fmt.Fprintf(x.stderr, "tailing %s (Ctrl-C to stop)\n", strings.Join(list, ", "))
	}
	hellos := 0
	for {
		f, err := s.Next(x.ctx)
		if err != nil {
			if x.ctx.Err() != nil {
				return nil // Ctrl-C: a normal end
			}
			return x.friendly(err)
		}
		if f.Type == client.FrameHello {
			if hellos++; hellos > 1 {
				fmt.Fprintln(x.stderr, "reconnected")
			}
			continue
		}
		if err := t.frame(f); err != nil {
			return err
		}
	}
}

// tailer prints the frames of the watched channels.
type tailer struct {
	x       *cli
	watch   map[string]bool
	names   map[string]string
	lastMsg map[string]int64 // last message seq printed per channel, for a resync
}

func (t *tailer) watched(ch string) bool { return ch != "" && (t.watch == nil || t.watch[ch]) }

func (t *tailer) name(ch string) string {
	if n, ok := t.names[ch]; ok {
		return n
	}
	n := ch
	if c, err := t.x.c.Channel(t.x.ctx, ch); err == nil {
		n = t.x.channelName(c)
	}
	t.names[ch] = n
	return n
}

func (t *tailer) frame(f *client.Frame) error {
	x := t.x
	if f.Type == client.FrameError {
		fmt.Fprintf(x.stderr, "server: %v\n", f.Err())
		return nil
	}
	if !f.IsChannelEvent() || !t.watched(f.ChannelID) {
		return nil
	}
	if x.json {
		// One frame per line, as the server sent it: scripts get every
		// field, including those this CLI does not know yet.
		_, err := fmt.Fprintf(x.stdout, "%s\n", f.Raw)
		return err
	}
	prefix := ""
	if t.watch == nil || len(t.watch) > 1 {
		prefix = t.name(f.ChannelID) + " "
	}
	switch f.Type {
	case client.FrameMessage:
		m, err := f.Message()
		if err != nil {
			return err
		}
		t.print(prefix, m)
	case client.FrameMessageUpdated:
		m, err := f.Message()
		if err != nil {
			return err
		}
		if m.EditedAt != nil || m.Deleted {
			t.x.printMessage(prefix+"✎ ", m)
		}
	case client.FrameMessageDeleted:
		var d client.MessageDeleted
		if f.Decode(&d) == nil {
			fmt.Fprintf(x.stdout, "%s(message %s deleted)\n", prefix, d.MessageID)
		}
	}
	return nil
}

func (t *tailer) print(prefix string, m *unhidra.Message) {
	if m.Seq <= t.lastMsg[m.ChannelID] {
		return
	}
	t.lastMsg[m.ChannelID] = m.Seq
	t.x.printMessage(prefix, m)
}

// resync reloads a channel whose gap the server could not replay: the
// messages after the last one printed, up to the channel's position read
// first (later ones arrive live).
func (t *tailer) resync(ctx context.Context, channelID string, from int64) (int64, error) {
	ch, err := t.x.c.Channel(ctx, channelID)
	if err != nil {
		return 0, err
	}
	if !t.watched(channelID) {
		return ch.LastSeq, nil
	}
	after := max(t.lastMsg[channelID], from)
	prefix := ""
	if t.watch == nil || len(t.watch) > 1 {
		prefix = t.name(channelID) + " "
	}
	for range 1000 { // at most 200,000 messages, then live
		page, err := t.x.c.Messages(ctx, channelID, client.MessagesOptions{After: after, FromStart: true, Limit: 200})
		if err != nil {
			return 0, err
		}
		for _, m := range page.Messages {
			if m.Seq > ch.LastSeq {
				return ch.LastSeq, nil
			}
			if t.x.json {
				fmt.Fprintf(t.x.stdout, "%s\n", mustJSON(map[string]any{"type": client.FrameMessage, "channel_id": channelID, "seq": m.Seq, "message": m}))
				t.lastMsg[channelID] = m.Seq
			} else {
				t.print(prefix, m)
			}
			after = m.Seq
		}
		if !page.HasMore || len(page.Messages) == 0 {
			break
		}
	}
	return ch.LastSeq, nil
}

// mustJSON encodes v, which holds only types that always encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
