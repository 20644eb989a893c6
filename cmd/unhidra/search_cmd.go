// The search verb.

package main

import (
	"fmt"
	"strings"

	"github.com/unhidra/unhidra/client"
)

func (x *cli) search(args []string) error {
	fs := x.flags("search")
	limit := fs.Int("limit", 20, "how many hits (at most 200)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("usage: unhidra search QUERY... (words, \"phrases\", in:CHANNEL, from:USER, before:/after:YYYY-MM-DD)")
	}
	if *limit < 1 || *limit > 200 {
		return usagef("--limit must be between 1 and 200")
	}
	if err := x.connect(true); err != nil {
		return err
	}
	res, err := x.c.Search(x.ctx, strings.Join(pos, " "), client.ListOptions{Limit: *limit})
	if err != nil {
		return x.friendly(err)
	}
	if x.json {
		if res.Hits == nil {
			res.Hits = []client.SearchHit{}
		}
		return x.printJSON(res)
	}
	if len(res.Hits) == 0 {
		fmt.Fprintln(x.stdout, "no messages found")
		return nil
	}
	names := map[string]string{}
	if list, err := x.c.Channels(x.ctx); err == nil {
		for _, ch := range list {
			names[ch.ID] = x.channelName(ch)
		}
	}
	for _, h := range res.Hits {
		if h.Message == nil {
			continue
		}
		where := names[h.Message.ChannelID]
		if where == "" {
			where = h.Message.ChannelID
		}
		x.printMessage(where+" ", h.Message)
	}
	if res.NextCursor != "" {
		fmt.Fprintln(x.stdout, "(more results: narrow the query or raise --limit)")
	}
	return nil
}
