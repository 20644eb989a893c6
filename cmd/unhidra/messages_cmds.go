// The message verbs: send and history.

package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
)

func (x *cli) send(args []string) error {
	fs := x.flags("send")
	thread := fs.String("thread", "", "reply in the thread of this message ID")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return usagef("usage: unhidra send CHANNEL TEXT... [--thread ID]")
	}
	text := strings.Join(pos[1:], " ")
	if text == "-" {
		b, err := io.ReadAll(io.LimitReader(x.in, 1<<20))
		if err != nil {
			return fmt.Errorf("read the message from standard input: %w", err)
		}
		text = strings.TrimRight(string(b), "\n")
	}
	if strings.TrimSpace(text) == "" {
		return usagef("the message is empty")
	}
	if err := x.connect(true); err != nil {
		return err
	}
	ch, err := x.resolveChannel(pos[0])
	if err != nil {
		return err
	}
	in := &unhidra.SendInput{ChannelID: ch.ID, Body: text, ThreadRootID: *thread}
	if ch.Encrypted {
		e, err := x.e2ee()
		if err != nil {
			return err
		}
		if in, err = e.Prepare(x.ctx, ch.ID, text); err != nil {
			return x.friendly(err)
		}
		in.ThreadRootID = *thread
	}
	post := x.c.Send
	if ch.Encrypted {
		post = x.secure.Post // keeps the exact ciphertext for the retry, and a local copy
	}
	m, err := post(x.ctx, in)
	if err != nil && client.ErrorCode(err) == "" && x.ctx.Err() == nil {
		// A network failure may have hit after the server stored the
		// message: one retry with the same client_msg_id is stored once.
		m, err = post(x.ctx, in)
	}
	if err != nil {
		return x.friendly(err)
	}
	if x.json {
		return x.printJSON(map[string]any{"message": m})
	}
	fmt.Fprintf(x.stdout, "sent to %s (message %s, seq %d)\n", x.channelName(ch), m.ID, m.Seq)
	return nil
}

func (x *cli) history(args []string) error {
	fs := x.flags("history")
	limit := fs.Int("limit", 50, "how many of the latest messages (at most 200)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: unhidra history CHANNEL [--limit N]")
	}
	if *limit < 1 || *limit > 200 {
		return usagef("--limit must be between 1 and 200")
	}
	if err := x.connect(true); err != nil {
		return err
	}
	ch, err := x.resolveChannel(pos[0])
	if err != nil {
		return err
	}
	page, err := x.c.Messages(x.ctx, ch.ID, client.MessagesOptions{Limit: *limit})
	if err != nil {
		return x.friendly(err)
	}
	if x.json {
		if page.Messages == nil {
			page.Messages = []*unhidra.Message{}
		}
		return x.printJSON(page)
	}
	for _, m := range page.Messages {
		x.printMessage("", m)
	}
	return nil
}
