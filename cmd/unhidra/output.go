// How the client verbs show things to a person: names of users and
// channels, message lines, and text made safe for a terminal.

package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/unhidra/unhidra"
)

// printJSON writes v as indented JSON.
func (x *cli) printJSON(v any) error {
	enc := json.NewEncoder(x.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// user returns a user for display, asking the server once per user; nil
// when the server would not say.
func (x *cli) user(id string) *unhidra.User {
	if u, ok := x.users[id]; ok {
		return u
	}
	u, err := x.c.User(x.ctx, id)
	if err != nil {
		u = nil
	}
	x.users[id] = u
	return u
}

// remember keeps a user the server just returned, sparing a lookup.
func (x *cli) remember(u *unhidra.User) {
	if u != nil && u.ID != "" {
		x.users[u.ID] = u
	}
}

// username returns a user's username, or the ID when it cannot be had.
func (x *cli) username(id string) string {
	if id == "" {
		return "?"
	}
	if u := x.user(id); u != nil {
		return u.Username
	}
	return id
}

// userLabel shows a user as a person reads them: the display name with the
// @username beside it, since anyone may choose any display name (another
// user's, or "admin") but a username is unique.
func (x *cli) userLabel(id string) string {
	if id == "" {
		return "?"
	}
	if u := x.user(id); u != nil {
		return userLabel(u)
	}
	return id
}

// userLabel is "Display Name (@username)", or "@username" alone when the
// display name adds nothing (empty, the username itself, or nothing left
// once invisible characters are dropped).
func userLabel(u *unhidra.User) string {
	handle := "@" + u.Username
	display := strings.TrimSpace(visible(u.DisplayName))
	if display == "" || display == u.Username {
		return handle
	}
	return display + " (" + handle + ")"
}

// visible drops what could make a name look like another on a terminal:
// control characters, line breaks, and invisible formatting characters
// (bidirectional overrides, zero-width spaces and joiners).
func visible(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
}

// sender names a message's sender.
func (x *cli) sender(m *unhidra.Message) string {
	if m.Sender.Type == unhidra.SenderDevice {
		return "device:" + m.Sender.ID
	}
	return x.userLabel(m.Sender.ID)
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
		body = x.decrypt(m)
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
