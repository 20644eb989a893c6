package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/bus"
	"github.com/unhidra/unhidra/clientip"
	"github.com/unhidra/unhidra/gateway/wsconn"
	"github.com/unhidra/unhidra/ratelimit"
	"github.com/unhidra/unhidra/wire"
)

// Config wires a Gateway. Auth, Chat, Events and Bus are required; zero
// values of the rest get the defaults in their comments.
type Config struct {
	Auth   Authenticator
	Chat   Chat
	Events Events
	Bus    bus.Bus
	Engine wsconn.Engine // default &wsconn.Gobwas{}
	// Inbox delivers to-device messages to the sockets of their client
	// install and takes to_device_ack frames; nil: none are delivered.
	Inbox Inbox

	ClientIP *clientip.Resolver
	// AllowedOrigins lists the origins (scheme://host[:port]) browsers may
	// open sockets from. Empty: the origin of PublicURL, or with no public
	// URL any Origin whose host:port is the request's Host.
	AllowedOrigins []string
	PublicURL      string

	RateIP   ratelimit.Spec // new connections per client IP (/64 for IPv6)
	RateUser ratelimit.Spec // new connections per user
	RateMsg  ratelimit.Spec // client frames per connection
	// MaxPerUser caps one user's open sockets across the nodes (counted
	// from the shared presence entries); an upgrade over it is refused
	// with 429. 0: no cap.
	MaxPerUser int
	// Presence is the KV the nodes share presence in (bus.KV; its TTL sets
	// the heartbeat, TTL/3). Nil: an in-process one with PresenceTTL, for
	// a single node. The gateway does not close a KV it was given.
	Presence    bus.KV
	PresenceTTL time.Duration // TTL of the in-process KV; DefaultPresenceTTL

	MaxFrameBytes int64         // largest client frame; 64 KiB
	QueueFrames   int           // per-socket send queue, in frames; 256
	QueueBytes    int           // per-socket send queue, in bytes; 1 MiB
	WriteTimeout  time.Duration // one batch write; 10 s
	RingSize      int           // recent events kept per channel for replay; 1024
	MaxReplay     int64         // largest resume gap replayed, ≥ 1000; 1000
	EventsPage    int           // events per store read while replaying; 200
	HoldTimeout   time.Duration // hold of a new socket's events for its first frame; 2 s
	GapHold       time.Duration // wait for a missing seq before asking the store; 200 ms
	PingInterval  time.Duration // keepalive; 25 s
	PongTimeout   time.Duration // 10 s
	IdleAway      time.Duration // no client frame for this long: the socket counts as away; 5 min
	OfflineGrace  time.Duration // a user goes offline this long after their last socket; 5 s
	PresenceEvery time.Duration // presence changes are batched per socket over at least this long; 250 ms
	// PresenceChannelScale: a channel waits one more PresenceEvery per this
	// many local subscribers before sending its batch; 500.
	PresenceChannelScale int
	CallTimeout          time.Duration // one call to Chat, Events or Auth made for background work; 10 s
	// Install names the install on the bus, the same on every node of it
	// (the presence bucket's name), so that installs sharing a NATS
	// server do not answer each other's node requests; "unhidra".
	Install string
	// NodeTimeout is how long an admin's request waits for the other
	// nodes' answers (listing or closing connections, nodes.go); 2 s.
	NodeTimeout time.Duration
	// Audit records admins' closing of connections; nil records none.
	Audit audit.Recorder

	FanoutWorkers   int           // goroutines fanning channel events out, channels hashed onto them; 16
	FanoutQueue     int           // events queued per fan-out worker; 4096
	MemberCacheSize int           // users whose channel lists are cached for presence; 100,000
	MemberCacheTTL  time.Duration // a cached channel list is reloaded after this long; 10 min

	Registry prometheus.Registerer
	Logger   *slog.Logger
}

func (c *Config) defaults() {
	if c.Engine == nil {
		c.Engine = &wsconn.Gobwas{}
	}
	if c.ClientIP == nil {
		c.ClientIP = clientip.New(nil)
	}
	setD := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	setI := func(p *int, d int) {
		if *p <= 0 {
			*p = d
		}
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = 64 << 10
	}
	setI(&c.QueueFrames, 256)
	setI(&c.QueueBytes, 1<<20)
	setD(&c.WriteTimeout, 10*time.Second)
	setI(&c.RingSize, 1024)
	if c.MaxReplay <= 0 {
		c.MaxReplay = 1000
	}
	setI(&c.EventsPage, 200)
	setD(&c.HoldTimeout, 2*time.Second)
	setD(&c.GapHold, 200*time.Millisecond)
	setD(&c.PingInterval, 25*time.Second)
	setD(&c.PongTimeout, 10*time.Second)
	setD(&c.IdleAway, 5*time.Minute)
	setD(&c.OfflineGrace, 5*time.Second)
	setD(&c.PresenceEvery, 250*time.Millisecond)
	setI(&c.PresenceChannelScale, 500)
	setD(&c.CallTimeout, 10*time.Second)
	setD(&c.NodeTimeout, 2*time.Second)
	if c.Install == "" {
		c.Install = "unhidra"
	}
	setD(&c.PresenceTTL, DefaultPresenceTTL)
	setI(&c.FanoutWorkers, 16)
	setI(&c.FanoutQueue, 4096)
	setI(&c.MemberCacheSize, 100_000)
	setD(&c.MemberCacheTTL, 10*time.Minute)
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Gateway is the real-time WebSocket endpoint of one node. See the package
// documentation for what it guarantees.
type Gateway struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	hub     hub
	fan     fanout
	reader  storeReader
	users   userIndex
	members memberCache
	batcher presenceBatcher
	origins map[string]bool
	// nodeID names this process in the shared presence KV: random at
	// each start, so a restarted node never takes over a dead one's entries.
	nodeID  string
	started time.Time
	kv      bus.KV
	ownKV   bool

	reqMu sync.Mutex
	reqs  map[string]*gathering // this node's requests to the others, by id

	ipLimit, userLimit *ratelimit.Limiter
	frameRate          ratelimit.Rate // per socket

	ctx    context.Context // background work; cancelled by Shutdown
	cancel context.CancelFunc

	closing  atomic.Bool
	sessions sync.WaitGroup
	// admitMu orders the admission of a session (closing checked, then
	// sessions.Add) against Shutdown setting closing before its Wait, as a
	// WaitGroup requires.
	admitMu sync.Mutex
	subs    []bus.Subscription
	stop    chan struct{}
}

// New builds a Gateway and subscribes it to the bus.
func New(cfg Config) (*Gateway, error) {
	if cfg.Auth == nil || cfg.Chat == nil || cfg.Events == nil || cfg.Bus == nil {
		return nil, errors.New("gateway: Auth, Chat, Events and Bus are required")
	}
	cfg.defaults()
	if !wire.PlainID(cfg.Install) {
		return nil, fmt.Errorf("gateway: install name %q: want letters, digits, '-' and '_'", cfg.Install)
	}
	g := &Gateway{
		cfg:       cfg,
		log:       cfg.Logger,
		m:         newMetrics(cfg.Registry),
		ipLimit:   ratelimit.New(cfg.RateIP, ratelimit.Options{}),
		userLimit: ratelimit.New(cfg.RateUser, ratelimit.Options{}),
		frameRate: ratelimit.NewRate(cfg.RateMsg, 0),
		stop:      make(chan struct{}),
		nodeID:    uuid.NewString(),
		started:   time.Now().UTC(),
		kv:        cfg.Presence,
		reqs:      map[string]*gathering{},
	}
	if g.kv == nil {
		g.kv, g.ownKV = bus.NewMemoryKV(cfg.PresenceTTL, nil), true
	}
	g.hub.init()
	g.users.init()
	g.users.g = g
	g.reader.g = g
	g.batcher.g = g
	g.members.init(cfg.MemberCacheSize, cfg.MemberCacheTTL)
	g.ctx, g.cancel = context.WithCancel(context.Background())
	origins, err := allowedOrigins(cfg.AllowedOrigins, cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	g.origins = origins
	g.startFanout()
	for _, s := range []struct {
		pattern string
		h       bus.Handler
	}{
		{wire.AllChannelEvents, g.onChannelEvent},
		{wire.AllChannelEphemeral, g.onEphemeral},
		{wire.AllUsers, g.onControl},
		{wire.AllPresence, g.onPresence},
		{wire.NodeRequestsSubject(cfg.Install), g.onNodeRequest},
		{wire.NodeRepliesSubject(cfg.Install, g.nodeID), g.onNodeReply},
	} {
		sub, err := cfg.Bus.Subscribe(s.pattern, s.h)
		if err != nil {
			g.closeSubs()
			close(g.stop)
			return nil, fmt.Errorf("gateway: subscribe %s: %w", s.pattern, err)
		}
		g.subs = append(g.subs, sub)
	}
	go g.idleSweeper()
	go g.presenceKeeper()
	return g, nil
}

func (g *Gateway) closeSubs() {
	for _, s := range g.subs {
		s.Close()
	}
	g.subs = nil
}

// allowedOrigins normalises the configured origins; nil means "the
// request's own host".
func allowedOrigins(list []string, publicURL string) (map[string]bool, error) {
	if len(list) == 0 && publicURL != "" {
		list = []string{publicURL}
	}
	if len(list) == 0 {
		return nil, nil
	}
	m := map[string]bool{}
	for _, o := range list {
		n, ok := normalizeOrigin(o)
		if !ok {
			return nil, fmt.Errorf("gateway: %q is not an origin", o)
		}
		m[n] = true
	}
	return m, nil
}

// normalizeOrigin returns scheme://host[:port] in lower case with the
// scheme's default port dropped, so that equal origins compare equal.
func normalizeOrigin(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		return "", false
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if scheme == "http" {
		host = strings.TrimSuffix(host, ":80")
	} else {
		host = strings.TrimSuffix(host, ":443")
	}
	return scheme + "://" + host, true
}

// checkOrigin enforces the allow-list. A missing Origin is accepted: only
// browsers send one, and the token is not ambient (no cookie), so a
// non-browser client gains nothing by omitting it.
func (g *Gateway) checkOrigin(r *http.Request) error {
	o := r.Header.Get("Origin")
	if o == "" {
		return nil
	}
	denied := unhidra.Errorf(unhidra.EPermission, "this Origin may not open WebSockets here (see --allowed-origins)")
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return denied
	}
	if g.origins == nil {
		if strings.EqualFold(u.Host, r.Host) {
			return nil
		}
		return denied
	}
	if n, ok := normalizeOrigin(o); ok && g.origins[n] {
		return nil
	}
	return denied
}

// offeredProtocols returns whether the client offered unhidra.v1 and the
// bearer token it offered, if any.
func offeredProtocols(r *http.Request) (v1 bool, token string) {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(h, ",") {
			p = strings.TrimSpace(p)
			switch {
			case p == wire.Subprotocol:
				v1 = true
			case strings.HasPrefix(p, wire.BearerPrefix) && token == "":
				token = p[len(wire.BearerPrefix):]
			}
		}
	}
	return v1, token
}

// Accept serves GET /api/v1/ws. Errors before the upgrade (not a WebSocket
// request, a refused Origin, shutting down) are returned as *unhidra.Error
// for the HTTP layer to answer; problems a browser must be able to see (a
// bad token, a rate limit) complete the handshake and close the socket with
// the documented code, because a browser cannot read the status of a failed
// handshake.
func (g *Gateway) Accept(w http.ResponseWriter, r *http.Request) error {
	if g.closing.Load() {
		return unhidra.Errorf(unhidra.EUnavailable, "the server is shutting down")
	}
	if !wsconn.IsUpgradeRequest(r) {
		return unhidra.Errorf(unhidra.EInvalid, "this endpoint speaks WebSocket: send a GET with Upgrade: websocket")
	}
	if err := g.checkOrigin(r); err != nil {
		g.m.connections.WithLabelValues("forbidden_origin").Inc()
		return err
	}
	v1, token := offeredProtocols(r)
	if !v1 {
		g.m.connections.WithLabelValues("bad_subprotocol").Inc()
		return unhidra.Errorf(unhidra.EInvalid, "offer the subprotocol %s (and %s<access_token>)", wire.Subprotocol, wire.BearerPrefix)
	}
	ip := g.cfg.ClientIP.ClientIP(r)
	var (
		p      *unhidra.Principal
		code   int
		reason string
		result = "accepted"
	)
	if ok, _ := g.ipLimit.Allow(clientip.LimitKey(ip)); !ok {
		g.m.rateLimitHits.WithLabelValues("ip").Inc()
		code, reason, result = wire.CloseRateLimited, "too many new connections from this address", "rate_limited"
	} else if token == "" {
		code, reason, result = wire.CloseUnauthenticated, "offer the subprotocol bearer.<access_token>", "unauthenticated"
	} else if pr, err := g.cfg.Auth.Authenticate(r.Context(), token); err != nil {
		if unhidra.ErrorCode(err) == unhidra.EUnauthenticated {
			code, reason, result = wire.CloseUnauthenticated, "the access token is not valid", "unauthenticated"
		} else {
			g.log.LogAttrs(r.Context(), slog.LevelError, "websocket authenticate", slog.Any("err", err))
			code, reason, result = wire.CloseInternal, "internal error", "error"
		}
	} else if !pr.Allows(unhidra.ScopeRead) {
		code, reason, result = wire.CloseForbidden, "this personal access token lacks the read scope", "forbidden"
	} else if ok, _ := g.userLimit.Allow(pr.UserID); !ok {
		g.m.rateLimitHits.WithLabelValues("user").Inc()
		code, reason, result = wire.CloseRateLimited, "too many new connections for this user", "rate_limited"
	} else if !g.reserve(r.Context(), pr.UserID) {
		g.m.connections.WithLabelValues("over_user_cap").Inc()
		return &unhidra.Error{Code: unhidra.ERateLimited, RetryAfterSeconds: 10,
			Message: fmt.Sprintf("this user has %d open connections, the most allowed; close one first", g.cfg.MaxPerUser)}
	} else {
		p = pr
	}
	conn, err := g.cfg.Engine.Upgrade(w, r, wsconn.Options{
		Subprotocol:  wire.Subprotocol,
		ReadLimit:    g.cfg.MaxFrameBytes,
		PingInterval: g.cfg.PingInterval,
		PongTimeout:  g.cfg.PongTimeout,
	})
	if err != nil {
		// The engine has answered the request.
		if p != nil {
			g.users.unreserve(p.UserID)
		}
		g.m.connections.WithLabelValues("bad_handshake").Inc()
		return nil
	}
	g.m.connections.WithLabelValues(result).Inc()
	if code != 0 {
		g.m.closes.WithLabelValues(closeLabel(code)).Inc()
		conn.Close(code, reason)
		return nil
	}
	s := g.newSession(conn, p, ip.String(), r.UserAgent())
	g.open(s, token, true)
	return nil
}

// open runs a new session's set-up: hello, revocation re-check,
// subscriptions, presence, then starts reading. The session is registered
// (and so closable by Shutdown and control messages) before any I/O;
// reserved says Accept reserved its place under the per-user cap.
func (g *Gateway) open(s *session, token string, reserved bool) {
	if !g.admit() {
		if reserved {
			g.users.unreserve(s.userID)
		}
		s.closeWith(wire.CloseGoingAway, "server shutting down")
		return
	}
	g.m.active.Inc()
	g.users.add(s, reserved)
	defer s.conn.Start(s) // always: OnClose does the clean-up
	ctx, cancel := context.WithTimeout(s.ctx(), g.cfg.CallTimeout)
	defer cancel()
	u, err := g.cfg.Auth.Me(ctx)
	if err != nil {
		s.closeWith(closeCodeFor(err), "could not load the account")
		return
	}
	s.mu.Lock()
	s.username = u.Username
	s.mu.Unlock()
	// A logout between the first Authenticate and g.users.add would have
	// been announced before this session could hear it: check once more
	// now that it can.
	if _, err := g.cfg.Auth.Authenticate(ctx, token); err != nil {
		s.closeWith(closeCodeFor(err), "the session has ended")
		return
	}
	// The channels are read before the hello goes out, so that a client
	// that has its hello hears every membership change made after it: a
	// removal committed after this read reaches the subscription made
	// below (its member_left comes from the store if not live), while one
	// committed between hello and the read would have gone unheard.
	chans, err := g.cfg.Chat.MemberChannels(ctx)
	if err != nil {
		s.closeWith(closeCodeFor(err), "could not load channels")
		return
	}
	s.enqueue(wire.NewHello(s.id, s.principal().SessionID, u), 0)
	g.bindInbox(s)
	ids := make([]string, 0, len(chans))
	for ch, last := range chans {
		g.subscribe(s, ch, last, true)
		ids = append(ids, ch)
	}
	// The channel list is what the members' presence needs: no store
	// query when this user's own status goes out.
	g.members.put(s.userID, ids)
	s.startTimers()
	g.users.changed(s)
}

// reserve admits one more socket of userID under MaxPerUser, counting
// the user's sockets on every node: this node's from memory, the others'
// from their presence entries. Best effort: upgrades racing on k nodes
// each count the others' sockets as of their last entry, so the cap can
// be exceeded by the sockets other nodes admitted meanwhile (at most
// k-1 per round of racing connects).
func (g *Gateway) reserve(ctx context.Context, userID string) bool {
	remote := 0
	if g.cfg.MaxPerUser > 0 {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		remote = g.remoteSockets(ctx, userID)
		cancel()
	}
	return g.users.reserve(userID, g.cfg.MaxPerUser, remote)
}

// admit counts a new session unless the gateway is shutting down.
func (g *Gateway) admit() bool {
	g.admitMu.Lock()
	defer g.admitMu.Unlock()
	if g.closing.Load() {
		return false
	}
	g.sessions.Add(1)
	return true
}

func closeCodeFor(err error) int {
	if unhidra.ErrorCode(err) == unhidra.EUnauthenticated {
		return wire.CloseUnauthenticated
	}
	return wire.CloseInternal
}

// Shutdown closes every socket with 1001 (going away) and waits for them
// to end, or for ctx. New connections are refused from the first call.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.admitMu.Lock()
	already := g.closing.Swap(true)
	g.admitMu.Unlock()
	if already {
		return nil
	}
	close(g.stop)
	uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	g.unregisterNode(uctx)
	ucancel()
	g.closeSubs()
	for _, s := range g.users.all() {
		s.closeWith(wire.CloseGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() { g.sessions.Wait(); close(done) }()
	defer g.cancel()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	// Even past ctx, briefly: entries left behind would show the users
	// for a TTL longer.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if ctx.Err() == nil {
		lctx = ctx
	}
	g.leave(lctx)
	if g.ownKV {
		g.kv.Close()
	}
	return err
}

func requireAdmin(ctx context.Context, what string) (*unhidra.Principal, error) {
	p := unhidra.PrincipalFromContext(ctx)
	if p == nil {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "sign in first")
	}
	if p.Role != unhidra.RoleAdmin {
		return nil, unhidra.Errorf(unhidra.EPermission, "only admins may %s", what)
	}
	return p, nil
}

// ActiveConnections is the number of sockets open on this node.
func (g *Gateway) ActiveConnections() int { return len(g.users.all()) }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func (g *Gateway) callCtx(p *unhidra.Principal) (context.Context, context.CancelFunc) {
	ctx := g.ctx
	if p != nil {
		ctx = unhidra.NewContextWithPrincipal(ctx, p)
	}
	return context.WithTimeout(ctx, g.cfg.CallTimeout)
}

// onControl handles membership and session changes of one user.
func (g *Gateway) onControl(subject string, data []byte) {
	userID, _ := wire.SubjectID(wire.AllUsers, subject)
	m, err := wire.ParseControl(data)
	if err != nil || userID == "" {
		g.m.badBusMessages.WithLabelValues("control").Inc()
		g.log.Warn("gateway: bad control message", slog.Int("bytes", len(data)), slog.Any("err", err))
		return
	}
	switch m.Type {
	case wire.ControlSubscribe:
		g.members.joined(userID, m.ChannelID)
	case wire.ControlUnsubscribe:
		g.members.left(userID, m.ChannelID)
	case wire.ControlToDevice:
		g.deliverToDevice(userID, m)
		return
	}
	for _, s := range g.users.sessionsOf(userID) {
		switch m.Type {
		case wire.ControlSubscribe:
			if m.ChannelID != "" && m.Seq > 0 {
				g.follow(s, m.ChannelID, m.Seq)
			}
		case wire.ControlUnsubscribe:
			if m.ChannelID != "" {
				g.unfollow(s, m.ChannelID, m.Seq)
			}
		case wire.ControlSessionRevoked:
			if s.principal().SessionID == m.SessionID {
				s.closeWith(wire.CloseUnauthenticated, "the session was revoked")
			}
		case wire.ControlSessionsRevoked:
			if m.KeepSession == "" || s.principal().SessionID != m.KeepSession {
				s.closeWith(wire.CloseUnauthenticated, "the session was revoked")
			}
		}
	}
}
