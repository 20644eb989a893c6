package gateway

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	connections    *prometheus.CounterVec
	active         prometheus.Gauge
	messages       *prometheus.CounterVec
	latency        prometheus.Histogram
	rateLimitHits  *prometheus.CounterVec
	badFrames      *prometheus.CounterVec
	closes         *prometheus.CounterVec
	slowConsumers  prometheus.Counter
	badBusMessages *prometheus.CounterVec
	storeReads     prometheus.Counter
	// Shared presence (sharedpresence.go).
	presenceEntries prometheus.Gauge
	presenceExpired prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_connections_total", Help: "WebSocket handshakes by result (accepted, unauthenticated, rate_limited, forbidden_origin, …).",
		}, []string{"result"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gateway_connections_active", Help: "Open WebSocket sessions on this node.",
		}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_messages_total", Help: "WebSocket frames by direction (in: from clients, out: to clients).",
		}, []string{"direction"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gateway_message_latency_seconds", Help: "From a message's creation to its frame being written to a socket.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		rateLimitHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_rate_limit_hits_total", Help: "Connections and frames refused by a rate limit (ip, user, msg).",
		}, []string{"limit"}),
		badFrames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_bad_frames_total", Help: "Client frames refused as malformed, unknown, binary or too big.",
		}, []string{"reason"}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_closes_total", Help: "Sockets closed by the server, by close code.",
		}, []string{"code"}),
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gateway_slow_consumers_total", Help: "Sockets closed with 4009 because their send queue filled.",
		}),
		badBusMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_bad_bus_messages_total", Help: "Bus messages the gateway could not decode, by kind (channel_event, ephemeral, control, presence, presence_entry).",
		}, []string{"kind"}),
		storeReads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gateway_store_reads_total", Help: "Pages of channel events read from the store for gap fills and catch-ups (one read shared by every subscriber that needs it).",
		}),
		presenceEntries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gateway_presence_entries", Help: "Users whose presence entry this node keeps alive in the shared KV (as of the last heartbeat).",
		}),
		presenceExpired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gateway_presence_expired_total", Help: "Presence entries of other nodes found expired (a node gone without a goodbye) and announced by this node.",
		}),
	}
	reg.MustRegister(m.connections, m.active, m.messages, m.latency, m.rateLimitHits, m.badFrames, m.closes, m.slowConsumers,
		m.badBusMessages, m.storeReads, m.presenceEntries, m.presenceExpired)
	return m
}
