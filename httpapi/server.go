// Package httpapi is the REST transport of Unhidra: it authenticates
// requests, rate-limits them, decodes JSON strictly, calls the services and
// maps their errors to HTTP in one place (writeError). It holds no business
// rules; the services do.
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/auth/passkey"
	"github.com/unhidra/unhidra/auth/sso"
	"github.com/unhidra/unhidra/chat"
	"github.com/unhidra/unhidra/clientip"
	"github.com/unhidra/unhidra/gateway"
	"github.com/unhidra/unhidra/keys"
	"github.com/unhidra/unhidra/ratelimit"
	"github.com/unhidra/unhidra/settings"
	"github.com/unhidra/unhidra/web"
)

// Config wires the REST transport.
type Config struct {
	Auth    *auth.Service
	Chat    *chat.Service
	Audit   *audit.Service   // the audit log's admin endpoints; nil answers 503
	Gateway *gateway.Gateway // serves /api/v1/ws; nil answers 503
	// Settings are the runtime settings of /api/v1/admin/settings; nil
	// answers 503.
	Settings *settings.Service
	// SSO runs single sign-on (/api/v1/auth/oidc/…); nil: no providers.
	SSO *sso.Service
	// Passkeys runs passkey sign-in (/api/v1/auth/webauthn/…); nil
	// answers 404.
	Passkeys *passkey.Service
	// Keys is the end-to-end key directory and to-device inbox
	// (/api/v1/keys/…, /api/v1/to-device); nil answers 404.
	Keys *keys.Service
	// PublicURL is the URL browsers use (--public-url); SSO redirect URIs
	// are built on it, or on the request's own origin when it is empty.
	PublicURL string
	JWKS      func() []byte // the public verification keys
	// BusPing reports whether the event bus is usable, for /readyz; nil
	// skips the check.
	BusPing  func(ctx context.Context) error
	ClientIP *clientip.Resolver

	// RateLogin and RateRegister are the per-client-IP limits of login and
	// registration, enforced by this node in memory. LoginLimit and
	// RegisterLimit, when set, are the same limits shared by every node
	// (store/ratestore): the in-memory one then stays in front as a cheap
	// first filter, and an event it admits is decided by the shared one.
	// See Limiter.
	RateLogin     ratelimit.Spec
	RateRegister  ratelimit.Spec
	LoginLimit    Limiter
	RegisterLimit Limiter

	// Web serves the browser client on every path outside the API and
	// operations (web.Reserved), with its own caching and security
	// headers. Nil: such paths get the JSON 404 like any unknown path.
	Web http.Handler

	// MetricsElsewhere leaves /metrics out of the API (it is served on a
	// listener of its own, --metrics-addr): the API answers 404 for it.
	MetricsElsewhere bool

	MaxBodyBytes  int64
	SecureCookies bool // set Secure on cookies (TLS or an https public URL)
	TLS           bool // served over TLS: send HSTS

	Registry *prometheus.Registry
	Logger   *slog.Logger
	Now      func() time.Time
}

// Server is the HTTP handler of the API.
type Server struct {
	cfg      Config
	auth     *auth.Service
	log      *slog.Logger
	metrics  *metrics
	login    limit
	register limit
	routes   []route
	mux      *http.ServeMux

	openAPIOnce sync.Once
	openAPIDoc  []byte

	inFlight atomic.Int64
}

// Routes lists every registered endpoint as "METHOD /pattern".
func (s *Server) Routes() []string {
	out := make([]string, len(s.routes))
	for i, rt := range s.routes {
		out[i] = rt.method + " " + rt.pattern
	}
	return out
}

// InFlight is the number of requests being served right now.
func (s *Server) InFlight() int64 { return s.inFlight.Load() }

type authMode int

const (
	public   authMode = iota // no token needed
	optional                 // a token is used when present
	user                     // a valid token is required
	// session is user for a signed-in session only: a personal access
	// token is refused, whatever its scopes (managing credentials).
	session
)

// route is one endpoint. The table of routes is the single source for the
// mux, the metrics labels and the OpenAPI document.
type route struct {
	method, pattern string
	auth            authMode
	h               func(w http.ResponseWriter, r *http.Request) error
	doc             opDoc
}

// New returns the API handler.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = clientip.New(nil)
	}
	s := &Server{
		cfg:      cfg,
		auth:     cfg.Auth,
		log:      cfg.Logger,
		metrics:  newMetrics(cfg.Registry),
		login:    limit{"login", ratelimit.New(cfg.RateLogin, ratelimit.Options{Now: cfg.Now}).WithContext(), cfg.LoginLimit},
		register: limit{"register", ratelimit.New(cfg.RateRegister, ratelimit.Options{Now: cfg.Now}).WithContext(), cfg.RegisterLimit},
	}
	s.routes = s.routeTable()
	s.mux = http.NewServeMux()
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.pattern, s.endpoint(rt))
	}
	s.mux.HandleFunc("/", s.notFound)
	return s
}

func (s *Server) routeTable() []route {
	ops := []route{
		{"GET", "/healthz", public, s.handleHealthz, docHealthz},
		{"GET", "/readyz", public, s.handleReadyz, docReadyz},
	}
	if !s.cfg.MetricsElsewhere {
		ops = append(ops, route{"GET", "/metrics", public, s.handleMetrics, docMetrics})
	}
	return append(append(ops, []route{
		{"GET", "/.well-known/jwks.json", public, s.handleJWKS, docJWKS},
		{"GET", "/api/v1/openapi.json", public, s.handleOpenAPI, docOpenAPI},
		{"GET", "/api/v1/server", public, s.handleServerInfo, docServerInfo},

		{"POST", "/api/v1/auth/register", public, s.handleRegister, docRegister},
		{"POST", "/api/v1/auth/login", public, s.handleLogin, docLogin},
		{"POST", "/api/v1/auth/refresh", public, s.handleRefresh, docRefresh},
		{"POST", "/api/v1/auth/logout", optional, s.handleLogout, docLogout},

		{"GET", "/api/v1/users/me", user, s.handleMe, docMe},
		{"PATCH", "/api/v1/users/me", user, s.handleUpdateMe, docUpdateMe},
		{"POST", "/api/v1/users/me/password", session, s.handleChangePassword, docChangePassword},
		{"GET", "/api/v1/users/me/sessions", session, s.handleListSessions, docListSessions},
		{"DELETE", "/api/v1/users/me/sessions", session, s.handleRevokeOtherSessions, docRevokeOtherSessions},
		{"DELETE", "/api/v1/users/me/sessions/{id}", session, s.handleRevokeSession, docRevokeSession},
		{"GET", "/api/v1/users/{id}", user, s.handleGetUser, docGetUser},
		{"GET", "/api/v1/users", user, s.handleSearchUsers, docSearchUsers},

		{"POST", "/api/v1/invites", user, s.handleCreateInvite, docCreateInvite},
		{"GET", "/api/v1/invites", user, s.handleListInvites, docListInvites},
		{"DELETE", "/api/v1/invites/{code}", user, s.handleDeleteInvite, docDeleteInvite},

		{"GET", "/api/v1/admin/users", user, s.handleAdminListUsers, docAdminListUsers},
		{"PATCH", "/api/v1/admin/users/{id}", user, s.handleAdminUpdateUser, docAdminUpdateUser},
		{"DELETE", "/api/v1/admin/users/{id}/sessions", user, s.handleAdminRevokeSessions, docAdminRevokeSessions},
	}...), slices.Concat(s.mfaRoutes(), s.passkeyRoutes(), s.ssoRoutes(), s.chatRoutes(), s.gatewayRoutes(),
		s.retentionRoutes(), s.auditRoutes(), s.adminRoutes(), s.settingsRoutes(), s.keyRoutes())...)
}

// ServeHTTP wraps every request in the common middleware: request ID, panic
// recovery, security headers, metrics and the access log.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	method := methodLabel(r.Method)
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	id := r.Header.Get("X-Request-ID")
	if !validRequestID(id) {
		id = newRequestID()
	}
	ctx := context.WithValue(r.Context(), requestIDKey{}, id)
	r = r.WithContext(ctx)
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	h := sw.Header()
	h.Set("X-Request-ID", id)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	if s.cfg.TLS {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.LogAttrs(ctx, slog.LevelError, "panic serving request", slog.String("request_id", id), slog.String("panic", logField(fmt.Sprint(v), maxLogError)))
			if !sw.wrote {
				s.writeError(sw, r, unhidra.Errorf(unhidra.EInternal, "internal error"))
			}
		}
		route := r.Pattern
		if i := strings.IndexByte(route, ' '); i >= 0 {
			route = route[i+1:]
		}
		switch {
		case sw.web:
			route = "web"
		case route == "" || route == "/":
			route = "unmatched"
		}
		elapsed := time.Since(start)
		s.metrics.observe(method, route, sw.status, elapsed)
		// Every field below is either fixed by the server (method label,
		// route pattern) or passed through logField, so no request can
		// make a log line long or inject into it.
		s.log.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("request_id", id), slog.String("method", method), slog.String("route", route),
			slog.String("path", logField(r.URL.Path, maxLogPath)),
			slog.Int("status", sw.status), slog.Int64("bytes", sw.bytes), slog.Duration("duration", elapsed),
			slog.String("ip", logField(s.cfg.ClientIP.ClientIP(r).String(), maxLogField)),
			slog.String("user_agent", logField(r.UserAgent(), maxLogUserAgent)))
	}()
	if method == methodOther {
		// Refused before routing: an invented method is worth a fixed
		// label and a short answer, nothing more.
		writeJSON(sw, http.StatusNotImplemented, errorBody{Error: errorDetail{Code: "not_implemented",
			Message: "unknown HTTP method; this server answers GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS"}})
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// endpoint adapts a route's handler: authentication per the route's mode,
// the check of path values and query parameters (checkRequest), then the
// handler, whose error goes to writeError.
func (s *Server) endpoint(rt route) http.Handler {
	params := pathParams(rt.pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.auth != public {
			tok, present := bearerToken(r)
			switch {
			case present:
				p, err := s.auth.Authenticate(r.Context(), tok)
				if err == nil {
					err = checkScope(rt, r.Method, p)
				}
				if err != nil {
					s.writeError(w, r, err)
					return
				}
				r = r.WithContext(unhidra.NewContextWithPrincipal(r.Context(), p))
			case rt.auth == user || rt.auth == session:
				s.writeError(w, r, unhidra.Errorf(unhidra.EUnauthenticated, "missing Authorization: Bearer <access_token>"))
				return
			}
		}
		if err := checkRequest(params, r); err != nil {
			s.writeError(w, r, err)
			return
		}
		// Audit events of the request name the client's address.
		r = r.WithContext(audit.WithClientIP(r.Context(), s.cfg.ClientIP.ClientIP(r).String()))
		if err := rt.h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// bearerToken returns the token of an Authorization: Bearer header, and
// whether any Authorization header was sent (a malformed one must fail, not
// be ignored).
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	const prefix = "bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return strings.TrimSpace(h[len(prefix):]), true
	}
	return "", true
}

// notFound answers paths no route serves: the web client takes those
// outside the API, the rest get a JSON 404, or 405 where the path exists
// under another method.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Web != nil && !web.Reserved(r.URL.Path) {
		if sw, ok := w.(*statusWriter); ok {
			sw.web = true
		}
		s.cfg.Web.ServeHTTP(w, r)
		return
	}
	var allowed []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pattern := s.mux.Handler(r2); pattern != "" && pattern != "/" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: errorDetail{Code: "method_not_allowed", Message: r.Method + " is not allowed here; use " + strings.Join(allowed, " or ")}})
		return
	}
	s.writeError(w, r, unhidra.Errorf(unhidra.ENotFound, "no such endpoint: %s %s", r.Method, logField(r.URL.Path, maxLogPath)))
}

// Limiter is a rate limit per key, shared by the nodes or not:
// (*ratelimit.Limiter).WithContext and *ratestore.Limiter both fit. An
// error means no decision, and the request is refused with unavailable:
// a limit that cannot be checked must not turn into no limit.
type Limiter interface {
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// limit is one per-client-IP limit: the node's own, then the shared one if
// any.
//
// The node-local filter is the same Spec: a client refused by it is over
// the limit on this node alone, so over it in total too, and its request
// costs no database round trip. Under a flood from one address each node
// then sends the database about one decision per admitted event, not one
// per request. (It is no help against a flood of distinct addresses, whose
// every first request passes it; those reach the database, as they would
// reach the password hash.) The one way it can be stricter than the shared
// limit: a request it admitted but the shared limit refused still counts
// here, so a client that keeps hammering one node after a refusal waits
// there for its own attempts, which is what a limit on attempts means.
type limit struct {
	name   string
	local  Limiter
	shared Limiter // nil: node-local only
}

// allow applies a per-client-IP rate limit.
func (s *Server) allow(r *http.Request, l limit) error {
	key := clientip.LimitKey(s.cfg.ClientIP.ClientIP(r))
	ok, wait, err := l.local.Allow(r.Context(), key)
	if err == nil && ok && l.shared != nil {
		ok, wait, err = l.shared.Allow(r.Context(), key)
	}
	if err != nil {
		if r.Context().Err() != nil {
			return r.Context().Err()
		}
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "rate limit unavailable: request refused",
			slog.String("limit", l.name), slog.String("request_id", requestID(r.Context())), slog.String("err", logField(err.Error(), maxLogError)))
		return &unhidra.Error{Code: unhidra.EUnavailable, Message: "the " + l.name + " rate limit cannot be checked right now; try again shortly", Err: err}
	}
	if ok {
		return nil
	}
	s.metrics.rateLimitHits.WithLabelValues(l.name).Inc()
	return &unhidra.Error{Code: unhidra.ERateLimited, Message: "too many requests; slow down", RetryAfterSeconds: ratelimit.RetryAfterSeconds(wait)}
}

func (s *Server) meta(r *http.Request) auth.ClientMeta {
	ip := s.cfg.ClientIP.ClientIP(r)
	return auth.ClientMeta{IP: ip.String(), NetworkKey: clientip.NetworkKey(ip), UserAgent: r.UserAgent()}
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.auth.Ready(ctx); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "not ready", slog.Any("err", err))
		return unhidra.Errorf(unhidra.EUnavailable, "the database does not answer")
	}
	if s.cfg.BusPing != nil {
		if err := s.cfg.BusPing(ctx); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "not ready", slog.String("part", "bus"), slog.Any("err", err))
			return unhidra.Errorf(unhidra.EUnavailable, "the event bus does not answer")
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) error {
	s.MetricsHandler().ServeHTTP(w, r)
	return nil
}

// MetricsHandler serves the Prometheus metrics of the registry, for a
// separate metrics listener.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{})
}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) error {
	b := s.cfg.JWKS()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(b)
	return nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
	web    bool // answered by the web client (the metrics' route label)
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (flush,
// deadlines, hijack for WebSockets).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
