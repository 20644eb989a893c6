// Package server is the composition root: it builds a Node (one `unhidra
// serve` process) from a config.Config, and owns its start and orderly stop.
// Nothing else wires concrete implementations together.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/auth/password"
	"github.com/unhidra/unhidra/auth/token"
	"github.com/unhidra/unhidra/bus"
	"github.com/unhidra/unhidra/bus/natsbus"
	"github.com/unhidra/unhidra/bus/redisbus"
	"github.com/unhidra/unhidra/chat"
	"github.com/unhidra/unhidra/clientip"
	"github.com/unhidra/unhidra/config"
	"github.com/unhidra/unhidra/gateway"
	"github.com/unhidra/unhidra/httpapi"
	"github.com/unhidra/unhidra/keys"
	"github.com/unhidra/unhidra/ratelimit"
	"github.com/unhidra/unhidra/settings"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
	"github.com/unhidra/unhidra/store/authstore"
	"github.com/unhidra/unhidra/store/chatstore"
	"github.com/unhidra/unhidra/store/e2eestore"
	"github.com/unhidra/unhidra/store/ratestore"
	"github.com/unhidra/unhidra/store/settingsstore"
	"github.com/unhidra/unhidra/web"
	"github.com/unhidra/unhidra/wire"
)

// Audience is the JWT audience of access tokens.
const Audience = "unhidra-api"

// Node is one running server process.
type Node struct {
	cfg   config.Config
	log   *slog.Logger
	Store *store.DB
	Auth  *auth.Service
	Chat  *chat.Service
	// Gateway is the WebSocket gateway (/api/v1/ws).
	Gateway *gateway.Gateway
	API     *httpapi.Server
	Keys    *token.KeySet
	Bus     bus.Bus
	// Presence is the KV the gateways of the install share presence in.
	Presence bus.KV
	// KeyDirectory is the end-to-end key directory and to-device inbox;
	// Run sweeps its expired messages and retired prekeys.
	KeyDirectory *keys.Service

	// Settings are the settings admins change while the server runs;
	// Run keeps them current.
	Settings *settings.Service
	// Audit is the audit log's service (admins read, export and verify
	// it); audit runs its chainer.
	Audit *audit.Service
	audit *auditLog

	// rates holds the limits every node shares (login, registration); Run
	// sweeps its spent rows.
	rates *ratestore.Store

	http *http.Server
	ln   net.Listener

	metrics   *http.Server // nil unless --metrics-addr is set
	metricsLn net.Listener
}

// OpenStore opens (and migrates) the database the configuration names.
func OpenStore(ctx context.Context, cfg config.Config, log *slog.Logger, migrate bool) (*store.DB, error) {
	if cfg.DB == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		// Create the database file owner-only before SQLite does (it would
		// use 0644); its -wal and -shm files inherit the mode.
		f, err := os.OpenFile(filepath.Join(cfg.DataDir, "unhidra.db"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create database file: %w", err)
		}
		f.Close()
	}
	db, err := store.Open(ctx, cfg.DatabaseURL(), store.Options{Logger: log, Migrate: migrate, EraseDelay: cfg.EraseDelay})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// NewSettings builds the runtime settings over db with the configuration's
// values as defaults (the overrides are loaded by its Reload). events,
// if set, tells the other nodes of a change; checkSSOOnly is
// auth.Service.CheckSSOOnly (nil skips the break-glass rule: only for
// reading).
func NewSettings(cfg config.Config, db *store.DB, events settings.Publisher, checkSSOOnly func(context.Context) error, log *slog.Logger) *settings.Service {
	return settings.New(settings.Config{
		Store: settingsstore.New(db),
		Defaults: settings.Defaults{Registration: cfg.Registration, PasswordLogin: cfg.PasswordLogin,
			RetentionDays: cfg.RetentionDays, PasswordMinLength: cfg.PasswordMinLength},
		Bus:          events,
		CheckSSOOnly: checkSSOOnly,
		Logger:       log,
	})
}

// NewAuth builds the account service over db with the configured password
// and token settings and the keys of LoadKeys. content, the chat service's
// part of deleting accounts, may be nil (the deletion is then unavailable);
// live, if set, supplies the settings an admin changed (NewSettings).
func NewAuth(cfg config.Config, db *store.DB, keys *Keys, events auth.Publisher, content auth.Content, live auth.LiveSettings, log *slog.Logger) (*auth.Service, error) {
	params := password.DefaultParams()
	params.Memory, params.Iterations, params.Parallelism = cfg.Argon2Memory, cfg.Argon2Iterations, cfg.Argon2Parallelism
	hasher, err := password.New(password.Config{Params: params})
	if err != nil {
		return nil, fmt.Errorf("password hasher: %w", err)
	}
	policy := password.Policy{MinLength: cfg.PasswordMinLength}
	issuer, err := token.NewIssuer(token.Config{Keys: keys.Signing, Issuer: cfg.Issuer(), Audience: Audience, TTL: cfg.AccessTTL})
	if err != nil {
		return nil, fmt.Errorf("token issuer: %w", err)
	}
	// The login backoffs live in the database, so that every node behind a
	// load balancer counts the same failures (store/ratestore).
	rates := ratestore.New(db, ratestore.Options{Logger: log})
	loginBackoff := ratelimit.BackoffOptions{Max: 5 * time.Minute}
	return auth.New(auth.Config{
		Store:          authstore.New(db),
		Audit:          auditstore.New(db),
		Hasher:         hasher,
		Policy:         policy,
		Tokens:         issuer,
		Registration:   cfg.Registration,
		RefreshGrace:   cfg.RefreshGrace,
		SessionTTL:     cfg.SessionTTL,
		AccountBackoff: rates.Backoff("login-network", loginBackoff),
		DeviceBackoff:  rates.Backoff("login-device", loginBackoff),
		GlobalBackoff:  rates.Backoff("login-account", ratelimit.BackoffOptions{Free: 20, Max: 30 * time.Second}),
		DeviceKey:      keys.DeviceKey,
		SecretKey:      keys.KEK,
		MFABackoff:     rates.Backoff("mfa-account", ratelimit.BackoffOptions{Free: 5, Max: 5 * time.Minute}),
		PasswordLogin:  cfg.PasswordLogin,
		Live:           live,
		Events:         events,
		Content:        content,
		Logger:         log,
	}), nil
}

// ControlStream is the JetStream stream of the control messages on
// user.<id> (membership changes, session revocations): a node whose NATS
// connection blinks must still close a revoked session and stop serving a
// removed member, and these messages have no sequence by which it could
// notice a gap. They hold ids only.
var ControlStream = natsbus.Stream{Name: "UNHIDRA_CONTROL", Subjects: []string{wire.AllUsers}, MaxAge: natsbus.DefaultStreamMaxAge}

// OpenBus returns the event bus cfg names: the in-process bus by default,
// or a connection to NATS, which must answer before ctx ends.
func OpenBus(ctx context.Context, cfg config.Config, log *slog.Logger, reg *prometheus.Registry) (bus.Bus, error) {
	if cfg.Bus == "" {
		return bus.NewMemory(bus.MemoryOptions{}), nil
	}
	name, _ := os.Hostname()
	var b bus.Bus
	var err error
	if strings.HasPrefix(cfg.Bus, "redis://") || strings.HasPrefix(cfg.Bus, "rediss://") {
		b, err = redisbus.Open(ctx, cfg.Bus, redisbus.Options{Name: name, Logger: log, Registry: reg})
	} else {
		b, err = natsbus.Open(ctx, cfg.Bus, natsbus.Options{Name: "unhidra " + name, Logger: log, Registry: reg,
			Streams: []natsbus.Stream{ControlStream}})
	}
	if err != nil {
		return nil, fmt.Errorf("event bus: %w", err)
	}
	return b, nil
}

// New builds a node: it opens and migrates the database, loads or creates the
// signing keys and wires the services and transports. It does not listen yet.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*Node, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := OpenStore(ctx, cfg, log, true)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	b, err := OpenBus(ctx, cfg, log, reg)
	if err != nil {
		db.Close()
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, Store: db, Bus: b, rates: ratestore.New(db, ratestore.Options{Logger: log})}
	fail := func(err error) (*Node, error) {
		if n.Presence != nil {
			n.Presence.Close()
		}
		n.Bus.Close()
		db.Close()
		return nil, err
	}
	client, err := web.New(web.FS(), web.Options{PublicURL: cfg.PublicURL})
	if err != nil {
		return fail(err)
	}
	secrets, err := LoadKeys(ctx, cfg, db, log)
	if err != nil {
		return fail(err)
	}
	n.Keys = secrets.Signing
	if n.audit, err = newAuditLog(cfg, db, log); err != nil {
		return fail(err)
	}
	n.Audit = n.audit.service
	n.Settings = NewSettings(cfg, db, n.Bus, func(ctx context.Context) error { return n.Auth.CheckSSOOnly(ctx) }, log)
	if err := n.Settings.Reload(ctx); err != nil {
		return fail(err)
	}
	// Another node's change: reload (the periodic reload covers a lost
	// notification). Closed with the bus.
	if _, err := n.Bus.Subscribe(wire.SettingsSubject, func(string, []byte) { n.Settings.Changed() }); err != nil {
		return fail(fmt.Errorf("event bus: subscribe %s: %w", wire.SettingsSubject, err))
	}
	n.Chat = chat.New(chat.Config{Store: chatstore.New(db), Bus: n.Bus, Logger: log, Registry: reg,
		RetentionDays: cfg.RetentionDays, LiveRetentionDays: n.Settings.RetentionDays})
	if n.Auth, err = NewAuth(cfg, db, secrets, n.Bus, n.Chat, n.Settings, log); err != nil {
		return fail(err)
	}
	if n.KeyDirectory, err = keys.New(keys.Config{
		Store:    e2eestore.New(db),
		Sessions: n.Auth,
		Bus:      n.Bus,
		Channels: n.Chat,
		// Shared by the nodes, so a requester spreading fetches over a
		// cluster drains no more than from one node.
		FetchLimit:     n.rates.Limiter("keys-fetch", cfg.RateKeysFetch, 0),
		FetchUserLimit: n.rates.Limiter("keys-fetch-user", cfg.RateKeysFetchUser, 0),
		SendLimit:      n.rates.Limiter("to-device", cfg.RateToDevice, 0),
		Logger:         log,
	}); err != nil {
		return fail(err)
	}
	if n.Presence, err = OpenPresence(ctx, cfg, n.Bus); err != nil {
		return fail(err)
	}
	n.Gateway, err = gateway.New(gateway.Config{
		Auth:           n.Auth,
		Chat:           n.Chat,
		Events:         n.Chat,
		Bus:            n.Bus,
		Inbox:          n.KeyDirectory,
		ClientIP:       clientip.New(cfg.TrustedProxies),
		AllowedOrigins: cfg.AllowedOrigins,
		PublicURL:      cfg.PublicURL,
		RateIP:         cfg.RateWSIP,
		RateUser:       cfg.RateWSUser,
		RateMsg:        cfg.RateWSMsg,
		MaxPerUser:     cfg.WSMaxPerUser,
		Presence:       n.Presence,
		Install:        cfg.PresenceBucket,
		Audit:          auditstore.New(db),
		Registry:       reg,
		Logger:         log,
	})
	if err != nil {
		return fail(err)
	}
	ssoSvc, err := NewSSO(cfg, db, n.Auth, log)
	if err != nil {
		return fail(err)
	}
	passkeys, err := NewPasskeys(cfg, db, n.Auth, log)
	if err != nil {
		return fail(err)
	}
	n.API = httpapi.New(httpapi.Config{
		SSO:              ssoSvc,
		Passkeys:         passkeys,
		Keys:             n.KeyDirectory,
		PublicURL:        strings.TrimRight(cfg.PublicURL, "/"),
		Auth:             n.Auth,
		Chat:             n.Chat,
		Audit:            n.Audit,
		Settings:         n.Settings,
		Gateway:          n.Gateway,
		JWKS:             n.Keys.JWKS,
		BusPing:          n.Bus.Ping,
		Web:              client,
		ClientIP:         clientip.New(cfg.TrustedProxies),
		RateLogin:        cfg.RateLogin,
		RateRegister:     cfg.RateRegister,
		LoginLimit:       n.rates.Limiter("login", cfg.RateLogin, 0),
		RegisterLimit:    n.rates.Limiter("register", cfg.RateRegister, 0),
		MetricsElsewhere: cfg.MetricsAddr != "",
		MaxBodyBytes:     cfg.MaxBodyBytes,
		SecureCookies:    cfg.SecureCookies(),
		TLS:              cfg.TLSCert != "",
		Registry:         reg,
		Logger:           log,
	})
	n.http = &http.Server{
		Handler:           n.API,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          httpapi.ErrorLog(log),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if cfg.TLSCert != "" {
		n.http.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", n.API.MetricsHandler())
		n.metrics = &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			WriteTimeout:      60 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          httpapi.ErrorLog(log),
		}
	}
	return n, nil
}

// Listen binds the listen address (and the metrics address, if set); Addr
// is known afterwards. An address in use is an error naming its flag.
func (n *Node) Listen() error {
	ln, err := net.Listen("tcp", n.cfg.Addr)
	if err != nil {
		return fmt.Errorf("--addr: listen on %s: %w", n.cfg.Addr, err)
	}
	if n.metrics != nil {
		mln, err := net.Listen("tcp", n.cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--metrics-addr: listen on %s: %w", n.cfg.MetricsAddr, err)
		}
		n.metricsLn = mln
	}
	n.ln = ln
	return nil
}

// MetricsURL is the base URL of the separate metrics listener (after
// Listen), or "" when /metrics is served on the main listener.
func (n *Node) MetricsURL() string {
	if n.metricsLn == nil {
		return ""
	}
	return "http://" + loopbackHostPort(n.metricsLn.Addr().String())
}

// Addr is the address the node listens on (after Listen).
func (n *Node) Addr() string { return n.ln.Addr().String() }

// URL is the base URL of the node as seen from this machine.
func (n *Node) URL() string {
	scheme := "http"
	if n.cfg.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + loopbackHostPort(n.Addr())
}

// loopbackHostPort turns a listen address into one this machine can dial:
// an unspecified host becomes 127.0.0.1.
func loopbackHostPort(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// Run serves until ctx is cancelled, then shuts down gracefully: it stops
// accepting, lets in-flight requests finish (up to the shutdown timeout) and
// closes the database.
func (n *Node) Run(ctx context.Context) error {
	if n.ln == nil {
		if err := n.Listen(); err != nil {
			n.Store.Close()
			return err
		}
	}
	if tok, needed, err := n.Auth.Bootstrap(ctx); err != nil {
		if n.metricsLn != nil {
			n.metricsLn.Close()
		}
		n.Store.Close()
		return fmt.Errorf("bootstrap: %w", err)
	} else if needed {
		// Printed on purpose: this is how the operator claims a fresh server.
		n.log.Warn("no admin exists yet: register with this one-time setup token to become the admin (or run `unhidra admin create-admin`)",
			slog.String("setup_token", tok))
	}
	n.log.Info("unhidra listening", slog.String("addr", n.Addr()), slog.String("url", n.URL()),
		slog.String("version", unhidra.Version), slog.String("db", n.Store.Engine()))
	go n.rotateKeys(ctx)
	go n.sweepRetention(ctx)
	go n.sweepDisappearing(ctx)
	go n.Auth.RunDeletions(ctx, deletionsEvery)
	go n.Settings.Run(ctx)
	go n.sweepKeys(ctx)
	go n.rates.Run(ctx)
	// The chainer outlives the requests still finishing at shutdown, so
	// their audit events are chained before the lease is given up.
	auditCtx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
	auditDone := make(chan struct{})
	go func() { defer close(auditDone); n.audit.run(auditCtx) }()
	if n.cfg.DebugAddr != "" {
		go n.serveDebug(ctx)
	}
	if n.metrics != nil {
		n.log.Info("metrics served on a separate listener", slog.String("addr", n.metricsLn.Addr().String()))
		go func() {
			if err := n.metrics.Serve(n.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.log.Warn("metrics listener", slog.Any("err", err))
			}
		}()
	}
	errc := make(chan error, 1)
	go func() {
		if n.cfg.TLSCert != "" {
			errc <- n.http.ServeTLS(n.ln, n.cfg.TLSCert, n.cfg.TLSKey)
		} else {
			errc <- n.http.Serve(n.ln)
		}
	}()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		n.log.Info("shutting down")
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.cfg.ShutdownTimeout)
	defer cancel()
	// WebSockets are hijacked connections, which http.Server.Shutdown does
	// not track: close them first, each with 1001 (going away).
	if err := n.Gateway.Shutdown(sctx); err != nil {
		n.log.Warn("shutdown: some WebSockets did not close in time", slog.Any("err", err))
	}
	if err := n.http.Shutdown(sctx); err != nil {
		n.log.Warn("shutdown: requests still running were cut", slog.Any("err", err))
	}
	if n.metrics != nil {
		n.metrics.Close()
	}
	stopAudit()
	<-auditDone
	n.Presence.Close()
	n.Bus.Close()
	if err := n.Store.Close(); err != nil {
		n.log.Warn("close database", slog.Any("err", err))
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	n.log.Info("stopped")
	return nil
}

// rotateKeys rotates the token signing key when it is due, checking hourly,
// so a long-running node does not keep one key forever. Every node does
// it: of nodes rotating at once, one new key wins. In between, the node
// reloads the keys from the database, to sign with another node's new key.
func (n *Node) rotateKeys(ctx context.Context) {
	if len(n.cfg.JWTKeyFiles) > 0 {
		return // operator-managed keys are rotated by the operator
	}
	rotate := time.NewTicker(time.Hour)
	defer rotate.Stop()
	refresh := time.NewTicker(n.Keys.RefreshInterval())
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-refresh.C:
			if err := n.Keys.Refresh(ctx); err != nil && ctx.Err() == nil {
				n.log.Error("reload signing keys", slog.Any("err", err))
			}
		case now := <-rotate.C:
			if rotated, err := n.Keys.RotateIfDue(ctx, now); err != nil {
				n.log.Error("rotate signing key", slog.Any("err", err))
			} else if rotated {
				n.log.Info("signing key rotated", slog.String("kid", n.Keys.ActiveKeyID()))
			}
		}
	}
}

// deletionsEvery is how often each node looks for deleted accounts whose
// channels and messages are still to purge (auth.Service.RunDeletions).
const deletionsEvery = time.Minute

// sweepRetention deletes expired messages every --retention-every (and
// once at start), until ctx ends. Every node runs it; a message another
// node deleted first is skipped.
func (n *Node) sweepRetention(ctx context.Context) {
	t := time.NewTicker(n.cfg.RetentionEvery)
	defer t.Stop()
	for {
		if _, err := n.Chat.SweepRetention(ctx, time.Now()); err != nil && ctx.Err() == nil {
			// Retried at the next interval; what expired stays expired.
			n.log.Warn("retention sweep failed; retrying at the next interval", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// disappearEvery is how often each node deletes the disappearing messages
// that are due: a message is deleted within this long of its expires_at.
const disappearEvery = 5 * time.Second

// sweepDisappearing runs the disappearing-messages sweep at start and every
// disappearEvery, until ctx ends. Every node runs it; each due message is
// rechecked under its channel's lock, so a message another node deleted
// first is skipped.
func (n *Node) sweepDisappearing(ctx context.Context) {
	t := time.NewTicker(disappearEvery)
	defer t.Stop()
	for {
		if _, err := n.Chat.SweepDisappearing(ctx, time.Now()); err != nil && ctx.Err() == nil {
			n.log.Warn("disappearing-messages sweep failed; retrying at the next interval", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// keysSweepEvery is how often each node deletes expired to-device messages
// and retired prekeys past their grace.
const keysSweepEvery = 10 * time.Minute

// sweepKeys runs the key directory's sweep at start and every
// keysSweepEvery, until ctx ends. Every node runs it.
func (n *Node) sweepKeys(ctx context.Context) {
	t := time.NewTicker(keysSweepEvery)
	defer t.Stop()
	for {
		if _, _, err := n.KeyDirectory.Sweep(ctx, time.Now()); err != nil && ctx.Err() == nil {
			n.log.Warn("key directory sweep failed; retrying at the next interval", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// serveDebug serves pprof profiles on --debug-addr until ctx ends.
func (n *Node) serveDebug(ctx context.Context) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: n.cfg.DebugAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	n.log.Info("debug profiles served", slog.String("addr", n.cfg.DebugAddr))
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		n.log.Warn("debug listener", slog.Any("err", err))
	}
}
