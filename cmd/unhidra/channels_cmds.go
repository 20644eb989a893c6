// The channel verbs: listing, creating, joining, leaving and inviting,
// direct messages, and turning a CHANNEL argument into a channel.

package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
)

// resolveChannel turns a CHANNEL argument into a channel: a name or ID, or
// @user[,user…] for the direct message with those users (opened if new).
func (x *cli) resolveChannel(ref string) (*unhidra.Channel, error) {
	if strings.HasPrefix(ref, "@") {
		ch, _, err := x.openDM(strings.Split(ref, ","))
		return ch, err
	}
	ch, err := x.c.ResolveChannel(x.ctx, ref)
	if err != nil {
		if client.IsCode(err, client.CodeNotFound) {
			return nil, fmt.Errorf("no channel %q that you can see", ref)
		}
		return nil, x.friendly(err)
	}
	return ch, nil
}

// openDM opens the direct message with the named users.
func (x *cli) openDM(usernames []string) (*unhidra.Channel, bool, error) {
	var ids []string
	for _, n := range usernames {
		n = strings.TrimPrefix(strings.TrimSpace(n), "@")
		if n == "" {
			continue
		}
		u, err := x.c.UserByUsername(x.ctx, n)
		if err != nil {
			if client.IsCode(err, client.CodeNotFound) {
				return nil, false, fmt.Errorf("no user named %q", n)
			}
			return nil, false, x.friendly(err)
		}
		x.remember(u)
		if u.ID != x.me.UserID {
			ids = append(ids, u.ID)
		}
	}
	if len(ids) == 0 {
		return nil, false, usagef("name at least one other user")
	}
	// The CLI posts plain text, so it asks for a standard DM explicitly.
	ch, created, err := x.c.CreateDM(x.ctx, ids, false)
	if err != nil {
		return nil, false, x.friendly(err)
	}
	return ch, created, nil
}

func (x *cli) channels(args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, rest := args[0], args[1:]
		switch sub {
		case "create":
			return x.channelsCreate(rest)
		case "join", "leave", "members":
			return x.channelsOne(sub, rest)
		case "invite":
			return x.channelsInvite(rest)
		}
		return usagef("unknown channels command %q: want create, join, leave, invite or members", sub)
	}
	fs := x.flags("channels")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("unknown channels command %q", pos[0])
	}
	if err := x.connect(true); err != nil {
		return err
	}
	list, err := x.c.Channels(x.ctx)
	if err != nil {
		return x.friendly(err)
	}
	if x.json {
		if list == nil {
			list = []*unhidra.Channel{}
		}
		return x.printJSON(map[string]any{"channels": list})
	}
	if len(list) == 0 {
		fmt.Fprintln(x.stdout, "no channels yet: unhidra channels create NAME, or join one")
		return nil
	}
	sort.SliceStable(list, func(i, j int) bool { return x.channelName(list[i]) < x.channelName(list[j]) })
	tw := tabwriter.NewWriter(x.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHANNEL\tKIND\tUNREAD\tMENTIONS\tTOPIC\tID")
	for _, ch := range list {
		kind := ch.Kind
		if ch.Muted {
			kind += ",muted"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", x.channelName(ch), kind, ch.UnreadCount, ch.MentionCount, oneLine(ch.Topic, 40), ch.ID)
	}
	return tw.Flush()
}

func (x *cli) channelsCreate(args []string) error {
	fs := x.flags("channels create")
	private := fs.Bool("private", false, "a private channel (invite only)")
	topic := fs.String("topic", "", "the channel topic")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: unhidra channels create NAME [--private] [--topic T]")
	}
	if err := x.connect(true); err != nil {
		return err
	}
	in := client.CreateChannelInput{Name: strings.TrimPrefix(pos[0], "#"), Kind: unhidra.ChannelPublic, Topic: *topic}
	if *private {
		in.Kind = unhidra.ChannelPrivate
	}
	ch, err := x.c.CreateChannel(x.ctx, in)
	if err != nil {
		return x.friendly(err)
	}
	if x.json {
		return x.printJSON(map[string]any{"channel": ch})
	}
	fmt.Fprintf(x.stdout, "created %s channel #%s (%s)\n", ch.Kind, ch.Name, ch.ID)
	return nil
}

// channelsOne runs join, leave and members, which take one CHANNEL.
func (x *cli) channelsOne(sub string, args []string) error {
	fs := x.flags("channels " + sub)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: unhidra channels %s CHANNEL", sub)
	}
	if err := x.connect(true); err != nil {
		return err
	}
	ch, err := x.resolveChannel(pos[0])
	if err != nil {
		return err
	}
	switch sub {
	case "join":
		joined, err := x.c.Join(x.ctx, ch.ID)
		if err != nil {
			return x.friendly(err)
		}
		if joined != nil {
			ch = joined
		}
		if x.json {
			return x.printJSON(map[string]any{"channel": ch})
		}
		fmt.Fprintf(x.stdout, "joined %s\n", x.channelName(ch))
	case "leave":
		if err := x.c.Leave(x.ctx, ch.ID); err != nil {
			return x.friendly(err)
		}
		if !x.json {
			fmt.Fprintf(x.stdout, "left %s\n", x.channelName(ch))
		}
	case "members":
		var members []*unhidra.Member
		opts := client.ListOptions{Limit: 200}
		for range 100 { // 20,000 members: beyond that, a listing is not for a terminal
			page, err := x.c.Members(x.ctx, ch.ID, opts)
			if err != nil {
				return x.friendly(err)
			}
			members = append(members, page.Members...)
			if page.NextCursor == "" || len(page.Members) == 0 {
				break
			}
			opts.Cursor = page.NextCursor
		}
		if x.json {
			if members == nil {
				members = []*unhidra.Member{}
			}
			return x.printJSON(map[string]any{"members": members})
		}
		tw := tabwriter.NewWriter(x.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tROLE\tJOINED")
		for _, m := range members {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", x.userLabel(m.UserID), m.Role, m.JoinedAt.Local().Format("2006-01-02"))
		}
		return tw.Flush()
	}
	return nil
}

func (x *cli) channelsInvite(args []string) error {
	fs := x.flags("channels invite")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return usagef("usage: unhidra channels invite CHANNEL USERNAME...")
	}
	if err := x.connect(true); err != nil {
		return err
	}
	ch, err := x.resolveChannel(pos[0])
	if err != nil {
		return err
	}
	for _, name := range pos[1:] {
		u, err := x.c.UserByUsername(x.ctx, name)
		if err != nil {
			if client.IsCode(err, client.CodeNotFound) {
				return fmt.Errorf("no user named %q", name)
			}
			return x.friendly(err)
		}
		x.remember(u)
		if _, _, err := x.c.AddMember(x.ctx, ch.ID, u.ID); err != nil {
			return fmt.Errorf("invite @%s: %w", u.Username, x.friendly(err))
		}
		if !x.json {
			fmt.Fprintf(x.stdout, "added %s to %s\n", userLabel(u), x.channelName(ch))
		}
	}
	return nil
}

func (x *cli) dm(args []string) error {
	fs := x.flags("dm")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("usage: unhidra dm USERNAME...")
	}
	if err := x.connect(true); err != nil {
		return err
	}
	ch, created, err := x.openDM(pos)
	if err != nil {
		return err
	}
	if x.json {
		return x.printJSON(map[string]any{"channel": ch, "created": created})
	}
	verb := "opened"
	if !created {
		verb = "already open:"
	}
	fmt.Fprintf(x.stdout, "%s direct message %s (%s)\n", verb, x.channelName(ch), ch.ID)
	return nil
}
