package httpapi

import (
	"net/http"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
)

const (
	refreshCookie = "unhidra_refresh"
	// deviceCookie carries a browser's device token (auth/device.go) to
	// the next login; like the refresh cookie it is HttpOnly, SameSite=Strict
	// and scoped to /api/v1/auth/.
	deviceCookie = "unhidra_device"
)

type registerRequest struct {
	Username    string `json:"username"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name,omitempty"`
	SetupToken  string `json:"setup_token,omitempty"`
	Invite      string `json:"invite,omitempty"`
}

type userResponse struct {
	User *unhidra.User `json:"user"`
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) error {
	if err := s.allow(r, s.register); err != nil {
		return err
	}
	var req registerRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	u, err := s.auth.Register(r.Context(), auth.RegisterInput{
		Username: req.Username, Password: req.Password, DisplayName: req.DisplayName,
		SetupToken: req.SetupToken, Invite: req.Invite,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, userResponse{User: u})
	return nil
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// Cookie asks for the refresh token (and the device token) in HttpOnly
	// cookies instead of the body (browsers).
	Cookie bool `json:"cookie,omitempty"`
	// DeviceToken is the device_token of an earlier login of this account;
	// a browser's comes in its cookie instead.
	DeviceToken string `json:"device_token,omitempty" doc:"the device_token an earlier login of this account returned: the login is then judged only by this device's own failed logins, never slowed by failures elsewhere"`
}

type tokenResponse struct {
	AccessToken  string        `json:"access_token"`
	TokenType    string        `json:"token_type"`
	RefreshToken string        `json:"refresh_token,omitempty"`
	ExpiresIn    int           `json:"expires_in"`
	SessionID    string        `json:"session_id"`
	User         *unhidra.User `json:"user"`
	DeviceToken  string        `json:"device_token,omitempty" doc:"after a login (not a refresh), without cookie:true: keep it and send it with the next login of this account"`
	MFARequired  bool          `json:"mfa_required,omitempty" doc:"after a login of an account with two-factor on: the password was right, but there are no tokens yet, and the body holds only mfa_required, mfa_ticket and expires_in; POST mfa_ticket and a code to /api/v1/auth/login/mfa within expires_in seconds"`
	MFATicket    string        `json:"mfa_ticket,omitempty" doc:"with mfa_required: the single-use ticket of the second step"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	if err := s.allow(r, s.login); err != nil {
		return err
	}
	var req loginRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.Username == "" || req.Password == "" {
		return unhidra.Errorf(unhidra.EInvalid, "username and password are required")
	}
	meta := s.meta(r)
	meta.DeviceToken = req.DeviceToken
	if meta.DeviceToken == "" {
		if c, err := r.Cookie(deviceCookie); err == nil {
			meta.DeviceToken = c.Value
		}
	}
	pair, err := s.auth.Login(r.Context(), req.Username, req.Password, meta)
	if err != nil {
		return err
	}
	s.writeTokens(w, pair, req.Cookie)
	return nil
}

// mfaChallengeResponse is a login's whole answer when the password was
// right and the account has two-factor on; tokenResponse documents its
// fields for the generated types.
type mfaChallengeResponse struct {
	MFARequired bool   `json:"mfa_required"`
	MFATicket   string `json:"mfa_ticket"`
	ExpiresIn   int    `json:"expires_in"`
}

func (s *Server) writeTokens(w http.ResponseWriter, pair *auth.TokenPair, cookie bool) {
	if pair.MFA != nil {
		writeJSON(w, http.StatusOK, mfaChallengeResponse{MFARequired: true, MFATicket: pair.MFA.Ticket, ExpiresIn: pair.MFA.ExpiresIn})
		return
	}
	resp := tokenResponse{
		AccessToken: pair.AccessToken, TokenType: "Bearer", RefreshToken: pair.RefreshToken,
		ExpiresIn: pair.ExpiresIn, SessionID: pair.SessionID, User: pair.User, DeviceToken: pair.DeviceToken,
	}
	if cookie {
		resp.RefreshToken, resp.DeviceToken = "", ""
		s.setSessionCookies(w, pair.RefreshToken, pair.DeviceToken)
	}
	writeJSON(w, http.StatusOK, resp)
}

// setSessionCookies sets the refresh cookie (and the device cookie, when
// deviceToken is not empty) of a browser session.
func (s *Server) setSessionCookies(w http.ResponseWriter, refresh, deviceToken string) {
	http.SetCookie(w, &http.Cookie{
		Name: refreshCookie, Value: refresh, Path: "/api/v1/auth/",
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteStrictMode,
		MaxAge: int(s.auth.SessionTTL() / time.Second),
	})
	if deviceToken != "" {
		http.SetCookie(w, &http.Cookie{
			Name: deviceCookie, Value: deviceToken, Path: "/api/v1/auth/",
			HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteStrictMode,
			MaxAge: int(s.auth.DeviceTokenTTL() / time.Second),
		})
	}
}

func (s *Server) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: refreshCookie, Value: "", Path: "/api/v1/auth/", MaxAge: -1,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteStrictMode,
	})
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token,omitempty"`
	Cookie       bool   `json:"cookie,omitempty"`
}

// cookieToken returns the refresh token from the cookie, insisting on the
// CSRF header: a cross-site form cannot set it, and a cross-site script
// cannot send it without a CORS preflight this server never grants.
func cookieToken(r *http.Request) (string, error) {
	c, err := r.Cookie(refreshCookie)
	if err != nil || c.Value == "" {
		return "", nil
	}
	if r.Header.Get("X-Unhidra-CSRF") != "1" {
		return "", unhidra.Errorf(unhidra.EPermission, "cookie-authenticated calls must carry the header X-Unhidra-CSRF: 1")
	}
	return c.Value, nil
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) error {
	var req refreshRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
			return err
		}
	}
	tok, fromCookie := req.RefreshToken, false
	if tok == "" {
		var err error
		if tok, err = cookieToken(r); err != nil {
			return err
		}
		fromCookie = tok != ""
	}
	if tok == "" {
		return unhidra.Errorf(unhidra.EUnauthenticated, "refresh_token is required (in the body, or the cookie set at login)")
	}
	pair, err := s.auth.Refresh(r.Context(), tok, s.meta(r))
	if err != nil {
		if fromCookie && unhidra.ErrorCode(err) == unhidra.EUnauthenticated {
			s.clearCookie(w)
		}
		return err
	}
	s.writeTokens(w, pair, req.Cookie || fromCookie)
	return nil
}

type logoutRequest struct {
	RefreshToken string `json:"refresh_token,omitempty"`
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	var req logoutRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
			return err
		}
	}
	tok := req.RefreshToken
	if tok == "" && unhidra.PrincipalFromContext(r.Context()) == nil {
		var err error
		if tok, err = cookieToken(r); err != nil {
			return err
		}
	}
	if err := s.auth.Logout(r.Context(), tok); err != nil {
		return err
	}
	s.clearCookie(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) error {
	u, err := s.auth.Me(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userResponse{User: u})
	return nil
}

type updateMeRequest struct {
	DisplayName *string `json:"display_name,omitempty"`
	StatusText  *string `json:"status_text,omitempty"`
}

func (s *Server) handleUpdateMe(w http.ResponseWriter, r *http.Request) error {
	var req updateMeRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	u, err := s.auth.UpdateMe(r.Context(), auth.ProfileUpdate{DisplayName: req.DisplayName, StatusText: req.StatusText})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userResponse{User: u})
	return nil
}

type changePasswordRequest struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request) error {
	var req changePasswordRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.OldPassword == "" || req.NewPassword == "" {
		return unhidra.Errorf(unhidra.EInvalid, "old_password and new_password are required")
	}
	if err := s.auth.ChangePassword(r.Context(), req.OldPassword, req.NewPassword); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type sessionsResponse struct {
	Sessions []*unhidra.Session `json:"sessions"`
}

func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request) error {
	list, err := s.auth.ListSessions(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sessionsResponse{Sessions: orEmpty(list)})
	return nil
}

func (s *Server) handleRevokeSession(w http.ResponseWriter, r *http.Request) error {
	if err := s.auth.RevokeSession(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type revokedResponse struct {
	Revoked int `json:"revoked"`
}

func (s *Server) handleRevokeOtherSessions(w http.ResponseWriter, r *http.Request) error {
	n, err := s.auth.RevokeOtherSessions(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, revokedResponse{Revoked: n})
	return nil
}

func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.auth.User(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userResponse{User: u})
	return nil
}

type usersResponse struct {
	Users      []*unhidra.User `json:"users"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

func (s *Server) handleSearchUsers(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	users, next, err := s.auth.SearchUsers(r.Context(), q.Get("q"), q.Get("cursor"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, usersResponse{Users: orEmpty(users), NextCursor: next})
	return nil
}

type createInviteRequest struct {
	MaxUses    int `json:"max_uses,omitempty" doc:"how many registrations the invite allows, 1 to 10000 (default 1)" minimum:"0" maximum:"10000"`
	ExpiresInS int `json:"expires_in_s,omitempty" doc:"lifetime in seconds, at most 31536000 (365 days); default 7 days" minimum:"0" maximum:"31536000"`
}

type inviteResponse struct {
	Invite *unhidra.Invite `json:"invite"`
}

func (s *Server) handleCreateInvite(w http.ResponseWriter, r *http.Request) error {
	var req createInviteRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
			return err
		}
	}
	// Range-check the seconds before they become a Duration: past about
	// 292 years the multiplication wraps around.
	if maxS := int(auth.MaxInviteLifetime / time.Second); req.ExpiresInS < 0 || req.ExpiresInS > maxS {
		return unhidra.Errorf(unhidra.EInvalid, "expires_in_s must be between 1 and %d (365 days); 0 or absent means 7 days", maxS)
	}
	inv, err := s.auth.CreateInvite(r.Context(), req.MaxUses, time.Duration(req.ExpiresInS)*time.Second)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, inviteResponse{Invite: inv})
	return nil
}

type invitesResponse struct {
	Invites []*unhidra.Invite `json:"invites"`
}

func (s *Server) handleListInvites(w http.ResponseWriter, r *http.Request) error {
	list, err := s.auth.ListInvites(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, invitesResponse{Invites: orEmpty(list)})
	return nil
}

func (s *Server) handleDeleteInvite(w http.ResponseWriter, r *http.Request) error {
	if err := s.auth.DeleteInvite(r.Context(), r.PathValue("code")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleAdminListUsers(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	users, next, err := s.auth.AdminListUsers(r.Context(), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, usersResponse{Users: orEmpty(users), NextCursor: next})
	return nil
}

type adminUpdateUserRequest struct {
	Role     *string `json:"role,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"`
}

func (s *Server) handleAdminUpdateUser(w http.ResponseWriter, r *http.Request) error {
	var req adminUpdateUserRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	u, err := s.auth.AdminUpdateUser(r.Context(), r.PathValue("id"), auth.AdminUpdate{Role: req.Role, Disabled: req.Disabled})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userResponse{User: u})
	return nil
}

func (s *Server) handleAdminRevokeSessions(w http.ResponseWriter, r *http.Request) error {
	n, err := s.auth.AdminRevokeSessions(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, revokedResponse{Revoked: n})
	return nil
}
