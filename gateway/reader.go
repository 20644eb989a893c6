package gateway

import (
	"context"
	"strconv"

	"golang.org/x/sync/singleflight"

	"github.com/unhidra/unhidra/wire"
)

// storeReader reads channel events from the store for the node (Events),
// one read for everyone who needs the same page at the same time: when a
// node restarts, its sockets reconnect and resume from the same positions,
// and a thousand subscribers of one channel catching up from one seq cost
// one query per page, not a thousand.
type storeReader struct {
	g     *Gateway
	group singleflight.Group
}

// read returns the page of channelID's events after after (EventsPage of
// them at most). The slice is shared between the callers of one read and
// must not be modified.
func (r *storeReader) read(channelID string, after int64) ([]wire.Event, error) {
	key := channelID + "/" + strconv.FormatInt(after, 10)
	v, err, _ := r.group.Do(key, func() (any, error) {
		ctx, cancel := context.WithTimeout(r.g.ctx, r.g.cfg.CallTimeout)
		defer cancel()
		r.g.m.storeReads.Inc()
		return r.g.cfg.Events.ChannelEvents(ctx, channelID, after, r.g.cfg.EventsPage)
	})
	if err != nil {
		return nil, err
	}
	return v.([]wire.Event), nil
}
