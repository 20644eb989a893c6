package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth/sso"
)

// ssoCookie, followed by "_" and the flow's key (sso.FlowKey), binds a
// single sign-on flow to the browser that started it (auth/sso); one
// cookie per flow, so flows in two tabs do not undo each other.
// SameSite=Lax, not Strict: it must come back on the provider's redirect,
// a cross-site top-level navigation.
const ssoCookie = "unhidra_sso"

func ssoCookieName(key string) string { return ssoCookie + "_" + key }

const ssoCookiePath = "/api/v1/auth/oidc/"

var (
	docSSOProviders = opDoc{summary: "List the single sign-on providers (login buttons)", tag: "sso", resp: ssoProvidersResponse{}}
	docSSOStart     = opDoc{summary: "Start signing in with a provider: redirects (302) the browser to it", tag: "sso", status: http.StatusFound}
	docSSOCallback  = opDoc{summary: "The provider's redirect back: signs in (refresh cookie) or links, then redirects (302) to the web client, with ?sso_error=<code> on failure", tag: "sso", status: http.StatusFound,
		query: []param{{"state", "the flow's state"}, {"code", "the authorization code"}, {"error", "the provider's error, if it refused"}}}
	docSSOLink       = opDoc{summary: "Start linking a provider's identity to the signed-in account; navigate the browser to url", tag: "sso", resp: ssoLinkResponse{}}
	docListIdentity  = opDoc{summary: "List the caller's linked single sign-on identities", tag: "sso", resp: identitiesResponse{}}
	docUnlinkIdentiy = opDoc{summary: "Unlink the caller's identity of a provider", tag: "sso"}
)

type ssoProvidersResponse struct {
	Providers []sso.ProviderInfo `json:"providers"`
}

type ssoLinkResponse struct {
	URL string `json:"url" doc:"the provider's authorization URL; the flow finishes at the callback, which redirects to the web client with ?sso=linked"`
}

type identitiesResponse struct {
	Identities []sso.IdentityInfo `json:"identities"`
}

func (s *Server) ssoRoutes() []route {
	return []route{
		{"GET", "/api/v1/auth/oidc/providers", public, s.handleSSOProviders, docSSOProviders},
		{"GET", "/api/v1/auth/oidc/{provider}/start", public, s.handleSSOStart, docSSOStart},
		{"GET", "/api/v1/auth/oidc/{provider}/callback", public, s.handleSSOCallback, docSSOCallback},
		{"POST", "/api/v1/auth/oidc/{provider}/link", user, s.handleSSOLink, docSSOLink},
		{"GET", "/api/v1/users/me/identities", user, s.handleListIdentities, docListIdentity},
		{"DELETE", "/api/v1/users/me/identities/{provider}", user, s.handleUnlinkIdentity, docUnlinkIdentiy},
	}
}

func (s *Server) sso() (*sso.Service, error) {
	if s.cfg.SSO == nil {
		return nil, unhidra.Errorf(unhidra.ENotFound, "single sign-on is not configured on this server")
	}
	return s.cfg.SSO, nil
}

func (s *Server) handleSSOProviders(w http.ResponseWriter, r *http.Request) error {
	resp := ssoProvidersResponse{Providers: []sso.ProviderInfo{}}
	if s.cfg.SSO != nil {
		resp.Providers = s.cfg.SSO.Providers()
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// publicBase is the origin the redirect URI is built on: the configured
// public URL, else this request's (the provider refuses a redirect URI it
// does not know, so a forged Host only breaks the flow).
func (s *Server) publicBase(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) startSSO(w http.ResponseWriter, r *http.Request, purpose string) (*sso.Flow, error) {
	if err := s.allow(r, s.login); err != nil {
		return nil, err
	}
	svc, err := s.sso()
	if err != nil {
		return nil, err
	}
	flow, err := svc.Start(r.Context(), r.PathValue("provider"), purpose, s.publicBase(r))
	if err != nil {
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{
		Name: ssoCookieName(flow.Key), Value: flow.Binding, Path: ssoCookiePath, MaxAge: int(flow.TTL.Seconds()),
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
	return flow, nil
}

func (s *Server) handleSSOStart(w http.ResponseWriter, r *http.Request) error {
	flow, err := s.startSSO(w, r, sso.PurposeLogin)
	if unhidra.ErrorCode(err) == unhidra.EUnavailable {
		// A browser navigated here: send it back to the login page with
		// the reason rather than leave it on a JSON error.
		http.Redirect(w, r, "/?sso_error="+sso.CodeUnavailable, http.StatusFound)
		return nil
	} else if err != nil {
		return err
	}
	http.Redirect(w, r, flow.URL, http.StatusFound)
	return nil
}

func (s *Server) handleSSOLink(w http.ResponseWriter, r *http.Request) error {
	flow, err := s.startSSO(w, r, sso.PurposeLink)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ssoLinkResponse{URL: flow.URL})
	return nil
}

// handleSSOCallback finishes a flow. Whatever happens the browser ends up
// back at the web client: signed in (the refresh cookie set as at a
// password login with cookie:true; the client's usual cookie refresh picks
// it up), or with ?sso_error=<code>.
func (s *Server) handleSSOCallback(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.sso()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	cb := sso.Callback{State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error")}
	name := ssoCookieName(sso.FlowKey(cb.State))
	if c, err := r.Cookie(name); err == nil {
		cb.Binding = c.Value
	}
	// The binding is spent with the state, success or not.
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: ssoCookiePath, MaxAge: -1,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
	res, err := svc.Finish(r.Context(), r.PathValue("provider"), cb, s.publicBase(r), s.meta(r))
	if err != nil {
		code := sso.CodeInternal
		var se *sso.Error
		if errors.As(err, &se) {
			code = se.Code
		}
		level := slog.LevelInfo
		if code == sso.CodeInternal {
			level = slog.LevelError
		}
		s.log.LogAttrs(r.Context(), level, "sso callback refused", slog.String("request_id", requestID(r.Context())),
			slog.String("provider", logField(r.PathValue("provider"), maxLogField)), slog.String("code", code),
			slog.String("err", logField(err.Error(), maxLogError)))
		http.Redirect(w, r, "/?"+url.Values{"sso_error": {code}}.Encode(), http.StatusFound)
		return nil
	}
	if res.Purpose == sso.PurposeLink {
		http.Redirect(w, r, "/?sso=linked", http.StatusFound)
		return nil
	}
	s.setSessionCookies(w, res.Pair.RefreshToken, "")
	http.Redirect(w, r, "/?sso=signed_in", http.StatusFound)
	return nil
}

func (s *Server) handleListIdentities(w http.ResponseWriter, r *http.Request) error {
	resp := identitiesResponse{Identities: []sso.IdentityInfo{}}
	if s.cfg.SSO != nil {
		ids, err := s.cfg.SSO.Identities(r.Context())
		if err != nil {
			return err
		}
		resp.Identities = ids
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) handleUnlinkIdentity(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.sso()
	if err != nil {
		return err
	}
	if err := svc.Unlink(r.Context(), r.PathValue("provider")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
