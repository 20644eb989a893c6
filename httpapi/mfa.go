package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
)

// mfaRoutes are the second step of a login, two-factor management,
// personal access tokens and the break-glass flag. Everything that manages
// a credential is session-only: a personal access token cannot mint
// another or turn two-factor off.
func (s *Server) mfaRoutes() []route {
	return []route{
		{"POST", "/api/v1/auth/login/mfa", public, s.handleLoginMFA, docLoginMFA},

		{"GET", "/api/v1/users/me/totp", session, s.handleTOTPStatus, docTOTPStatus},
		{"POST", "/api/v1/users/me/totp", session, s.handleEnrolTOTP, docEnrolTOTP},
		{"POST", "/api/v1/users/me/totp/confirm", session, s.handleConfirmTOTP, docConfirmTOTP},
		{"POST", "/api/v1/users/me/totp/disable", session, s.handleDisableTOTP, docDisableTOTP},
		{"POST", "/api/v1/users/me/recovery-codes", session, s.handleRecoveryCodes, docRecoveryCodes},

		{"POST", "/api/v1/users/me/tokens", session, s.handleCreateToken, docCreateToken},
		{"GET", "/api/v1/users/me/tokens", session, s.handleListTokens, docListTokens},
		{"DELETE", "/api/v1/users/me/tokens/{id}", session, s.handleRevokeToken, docRevokeToken},

		{"GET", "/api/v1/admin/users/{id}/break-glass", user, s.handleGetBreakGlass, docGetBreakGlass},
		{"PUT", "/api/v1/admin/users/{id}/break-glass", user, s.handleSetBreakGlass, docSetBreakGlass},
	}
}

var (
	docLoginMFA      = opDoc{summary: "Finish a login that answered mfa_required: the ticket and a TOTP or recovery code", tag: "accounts", req: loginMFARequest{}, resp: tokenResponse{}}
	docTOTPStatus    = opDoc{summary: "The caller's two-factor state", tag: "security", resp: totpStatusResponse{}}
	docEnrolTOTP     = opDoc{summary: "Start two-factor enrolment: a new TOTP secret, pending until confirmed (409 if on)", tag: "security", resp: totpEnrolResponse{}, status: http.StatusCreated}
	docConfirmTOTP   = opDoc{summary: "Turn two-factor on with the first code; returns the recovery codes, shown once", tag: "security", req: codeRequest{}, resp: recoveryCodesResponse{}}
	docDisableTOTP   = opDoc{summary: "Turn two-factor off (password and a current or recovery code)", tag: "security", req: disableTOTPRequest{}}
	docRecoveryCodes = opDoc{summary: "Replace the recovery codes (the old ones stop working); takes a current code", tag: "security", req: codeRequest{}, resp: recoveryCodesResponse{}}
	docCreateToken   = opDoc{summary: "Create a personal access token; its secret is in this answer only", tag: "security", req: createTokenRequest{}, resp: createTokenResponse{}, status: http.StatusCreated}
	docListTokens    = opDoc{summary: "The caller's personal access tokens that are not revoked (never their secrets)", tag: "security", resp: tokensResponse{}}
	docRevokeToken   = opDoc{summary: "Revoke one of the caller's personal access tokens, at once on every node", tag: "security"}
	docGetBreakGlass = opDoc{summary: "Whether a user may sign in with a password under --password-login sso-only (admins)", tag: "admin", resp: breakGlassResponse{}}
	docSetBreakGlass = opDoc{summary: "Mark or unmark a user as break-glass (admins)", tag: "admin", req: breakGlassRequest{}, resp: breakGlassResponse{}}
)

// checkScope applies a personal access token's scopes to a route: session
// routes refuse every token; admin routes and invites need the admin scope;
// other reads need read (or write), everything else write. A session's
// token passes (unhidra.Principal.Allows).
func checkScope(rt route, method string, p *unhidra.Principal) error {
	if p.TokenID == "" {
		return nil
	}
	if rt.auth == session {
		return unhidra.Errorf(unhidra.EPermission, "a personal access token cannot manage credentials or sessions; sign in")
	}
	scope := unhidra.ScopeWrite
	switch {
	case strings.HasPrefix(rt.pattern, "/api/v1/admin/") || strings.HasPrefix(rt.pattern, "/api/v1/invites"):
		scope = unhidra.ScopeAdmin
	case method == http.MethodGet || method == http.MethodHead:
		scope = unhidra.ScopeRead
	}
	if !p.Allows(scope) {
		return unhidra.Errorf(unhidra.EPermission, "this personal access token lacks the %q scope", scope)
	}
	return nil
}

type loginMFARequest struct {
	MFATicket string `json:"mfa_ticket"`
	Code      string `json:"code" doc:"the 6-digit code of the authenticator app, or one of the recovery codes"`
	Cookie    bool   `json:"cookie,omitempty"`
}

func (s *Server) handleLoginMFA(w http.ResponseWriter, r *http.Request) error {
	if err := s.allow(r, s.login); err != nil {
		return err
	}
	var req loginMFARequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.MFATicket == "" || req.Code == "" {
		return unhidra.Errorf(unhidra.EInvalid, "mfa_ticket and code are required")
	}
	pair, err := s.auth.CompleteMFALogin(r.Context(), req.MFATicket, req.Code, s.meta(r))
	if err != nil {
		return err
	}
	s.writeTokens(w, pair, req.Cookie)
	return nil
}

type totpStatusResponse struct {
	TOTP *auth.TOTPStatus `json:"totp"`
}

func (s *Server) handleTOTPStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := s.auth.TOTPStatus(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, totpStatusResponse{TOTP: st})
	return nil
}

type totpEnrolment struct {
	Secret     string `json:"secret" doc:"the base32 secret, for typing into an authenticator app"`
	OTPAuthURI string `json:"otpauth_uri" doc:"otpauth://totp/… URI, what the QR code holds"`
	QRPNG      []byte `json:"qr_png" doc:"the URI as a PNG QR code, base64"`
}

type totpEnrolResponse struct {
	TOTP totpEnrolment `json:"totp"`
}

func (s *Server) handleEnrolTOTP(w http.ResponseWriter, r *http.Request) error {
	e, err := s.auth.EnrolTOTP(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, totpEnrolResponse{TOTP: totpEnrolment{Secret: e.Secret, OTPAuthURI: e.URI, QRPNG: e.QRPNG}})
	return nil
}

type codeRequest struct {
	Code string `json:"code"`
}

type recoveryCodesResponse struct {
	RecoveryCodes []string `json:"recovery_codes" doc:"single-use codes, each usable once in place of a TOTP code; shown only in this answer"`
}

func (s *Server) handleConfirmTOTP(w http.ResponseWriter, r *http.Request) error {
	var req codeRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.Code == "" {
		return unhidra.Errorf(unhidra.EInvalid, "code is required")
	}
	codes, err := s.auth.ConfirmTOTP(r.Context(), req.Code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, recoveryCodesResponse{RecoveryCodes: codes})
	return nil
}

type disableTOTPRequest struct {
	Password string `json:"password"`
	Code     string `json:"code"`
}

func (s *Server) handleDisableTOTP(w http.ResponseWriter, r *http.Request) error {
	var req disableTOTPRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.Password == "" || req.Code == "" {
		return unhidra.Errorf(unhidra.EInvalid, "password and code are required")
	}
	if err := s.auth.DisableTOTP(r.Context(), req.Password, req.Code); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleRecoveryCodes(w http.ResponseWriter, r *http.Request) error {
	var req codeRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.Code == "" {
		return unhidra.Errorf(unhidra.EInvalid, "code is required")
	}
	codes, err := s.auth.RegenerateRecoveryCodes(r.Context(), req.Code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, recoveryCodesResponse{RecoveryCodes: codes})
	return nil
}

type createTokenRequest struct {
	Name       string   `json:"name"`
	Scopes     []string `json:"scopes" doc:"any of read, write (implies read), admin (the admin API; admins only)"`
	ExpiresInS int64    `json:"expires_in_s" doc:"lifetime in seconds; required, at most 366 days"`
}

type createTokenResponse struct {
	Token  *auth.AccessToken `json:"token"`
	Secret string            `json:"secret" doc:"the token (uhp_…), for Authorization: Bearer; shown only in this answer"`
}

type tokensResponse struct {
	Tokens []*auth.AccessToken `json:"tokens"`
}

func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request) error {
	var req createTokenRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	var ttl time.Duration
	if req.ExpiresInS > 0 {
		ttl = time.Duration(min(req.ExpiresInS, int64(auth.MaxAccessTokenTTL/time.Second)+1)) * time.Second
	}
	t, secret, err := s.auth.CreateAccessToken(r.Context(), auth.CreateAccessTokenInput{Name: req.Name, Scopes: req.Scopes, ExpiresIn: ttl})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, createTokenResponse{Token: t, Secret: secret})
	return nil
}

func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request) error {
	list, err := s.auth.ListAccessTokens(r.Context())
	if err != nil {
		return err
	}
	if list == nil {
		list = []*auth.AccessToken{}
	}
	writeJSON(w, http.StatusOK, tokensResponse{Tokens: list})
	return nil
}

func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.auth.RevokeAccessToken(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type breakGlassRequest struct {
	BreakGlass bool `json:"break_glass"`
}

type breakGlassResponse struct {
	UserID     string `json:"user_id"`
	BreakGlass bool   `json:"break_glass"`
}

func (s *Server) handleGetBreakGlass(w http.ResponseWriter, r *http.Request) error {
	on, err := s.auth.IsBreakGlass(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, breakGlassResponse{UserID: r.PathValue("id"), BreakGlass: on})
	return nil
}

func (s *Server) handleSetBreakGlass(w http.ResponseWriter, r *http.Request) error {
	var req breakGlassRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if err := s.auth.SetBreakGlass(r.Context(), r.PathValue("id"), req.BreakGlass); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, breakGlassResponse{UserID: r.PathValue("id"), BreakGlass: req.BreakGlass})
	return nil
}
