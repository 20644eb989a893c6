package gateway

import (
	"hash/maphash"
	"log/slog"

	"github.com/unhidra/unhidra/wire"
)

// Fan-out runs on a fixed set of worker goroutines, each owning the
// channels whose IDs hash to it. The bus calls each subscription's handler
// from one goroutine; if that goroutine fanned out itself, a channel with
// thousands of local sockets would hold up the events of every other
// channel behind it. The handler only decodes the envelope and hands the
// event to its channel's worker, so one channel's events stay in order (one
// worker) while different channels' fan-outs run side by side on every
// core, and a busy channel delays only the channels that share its worker.

type fanItem struct {
	ev        wire.Event
	ephemeral bool
}

type fanout struct {
	seed    maphash.Seed
	workers []chan fanItem
}

func (g *Gateway) startFanout() {
	g.fan.seed = maphash.MakeSeed()
	g.fan.workers = make([]chan fanItem, g.cfg.FanoutWorkers)
	for i := range g.fan.workers {
		q := make(chan fanItem, g.cfg.FanoutQueue)
		g.fan.workers[i] = q
		go func() {
			for {
				select {
				case it := <-q:
					if it.ephemeral {
						g.fanEphemeral(&it.ev)
					} else {
						g.fanEvent(&it.ev)
					}
				case <-g.stop:
					return
				}
			}
		}()
	}
}

// route queues an item for its channel's worker. A full queue makes the
// bus's handler wait, which is the bus's own back-pressure: it buffers, and
// past its buffer drops, and the gateway repairs gaps from the store.
func (g *Gateway) route(it fanItem) {
	q := g.fan.workers[maphash.String(g.fan.seed, it.ev.ChannelID)%uint64(len(g.fan.workers))]
	select {
	case q <- it:
	case <-g.stop:
	}
}

// onChannelEvent receives every durable channel event from the bus.
func (g *Gateway) onChannelEvent(subject string, data []byte) {
	ev, err := wire.ParseEvent(data)
	id, _ := wire.SubjectID(wire.AllChannelEvents, subject)
	if err != nil || ev.Seq <= 0 || ev.ChannelID == "" || ev.ChannelID != id {
		g.m.badBusMessages.WithLabelValues("channel_event").Inc()
		g.log.Warn("gateway: bad channel event", slog.Int("bytes", len(data)), slog.Any("err", err))
		return
	}
	g.route(fanItem{ev: ev})
}

// onEphemeral receives typing frames and read receipts.
func (g *Gateway) onEphemeral(subject string, data []byte) {
	ev, err := wire.ParseEvent(data)
	id, _ := wire.SubjectID(wire.AllChannelEphemeral, subject)
	if err != nil || ev.ChannelID == "" || ev.ChannelID != id {
		g.m.badBusMessages.WithLabelValues("ephemeral").Inc()
		return
	}
	g.route(fanItem{ev: ev, ephemeral: true})
}

func (g *Gateway) fanEvent(ev *wire.Event) {
	c := g.hub.get(ev.ChannelID)
	if c == nil {
		return // nobody here listens; a later subscriber reads the store
	}
	c.mu.Lock()
	g.offerLocked(c, newEvent(ev, true))
	c.mu.Unlock()
}

// fanEphemeral hands a typing frame or read receipt to the channel's
// sockets; nobody hears their own typing.
func (g *Gateway) fanEphemeral(ev *wire.Event) {
	c := g.hub.get(ev.ChannelID)
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for sb := range c.subs {
		if sb.removed || (ev.Type == wire.TypeTyping && ev.UserID == sb.s.userID) {
			continue
		}
		sb.s.enqueue(ev.Frame, 0)
	}
}
