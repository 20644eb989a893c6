// How the client verbs show things to a person: names of users and
// channels, message lines, and text made safe for a terminal.

package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/unhidra/unhidra"
)

// printJSON writes v as indented JSON.
func (x *cli) printJSON(v any) error {
	enc := json.NewEncoder(x.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// username returns a user's name for display, asking the server once per
// user.
func (x *cli) username(id string) string {
	if id == "" {
		return "?"
	}
	if n, ok := x.users[id]; ok {
		return n
	}
	n := id
	if u, err := x.c.User(x.ctx, id); err == nil {
		n = u.Username
	}
	x.users[id] = n
	return n
}

// sender names a message's sender.
func (x *cli) sender(m *unhidra.Message) string {
	if m.Sender.Type == unhidra.SenderDevice {
		return "device:" + m.Sender.ID
	}
	return x.username(m.Sender.ID)
}

// channelName names a channel for display: #name, or @a,@b for a DM
// (without the caller).
func (x *cli) channelName(ch *unhidra.Channel) string {
	if ch.Kind != unhidra.ChannelDirect {
		return "#" + ch.Name
	}
	var names []string
	for _, id := range ch.Members {
		if x.me != nil && id == x.me.UserID && len(ch.Members) > 1 {
			continue
		}
		names = append(names, "@"+x.username(id))
	}
	if len(names) == 0 {
		return "@" + ch.ID
	}
	return strings.Join(names, ",")
}

// printMessage prints one message as a line (more for multi-line bodies).
func (x *cli) printMessage(prefix string, m *unhidra.Message) {
	body := m.Body
	switch {
	case m.Deleted:
		body = "(deleted)"
	case m.Ciphertext != "" && body == "":
		body = "(encrypted)"
	}
	var marks []string
	if m.ThreadRootID != "" {
		marks = append(marks, "↳ "+m.ThreadRootID)
	}
	if m.EditedAt != nil && !m.Deleted {
		marks = append(marks, "edited")
	}
	switch {
	case m.ReplyCount == 1:
		marks = append(marks, "1 reply")
	case m.ReplyCount > 1:
		marks = append(marks, fmt.Sprintf("%d replies", m.ReplyCount))
	}
	extra := ""
	if len(marks) > 0 {
		extra = " [" + strings.Join(marks, ", ") + "]"
	}
	body = strings.ReplaceAll(body, "\n", "\n    ")
	fmt.Fprintf(x.stdout, "%s%s %s: %s%s\n", prefix, m.CreatedAt.Local().Format("2006-01-02 15:04"), x.sender(m), sanitize(body), extra)
}

// sanitize drops terminal control characters from text others wrote, so a
// message cannot rewrite the reader's screen.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}

// oneLine shortens s to one line of at most n runes.
func oneLine(s string, n int) string {
	s = sanitize(strings.ReplaceAll(s, "\n", " "))
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
