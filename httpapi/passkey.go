package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth/passkey"
)

var (
	docPasskeyRegisterBegin = opDoc{summary: "Begin registering a passkey for the signed-in user: pass options to navigator.credentials.create({publicKey: options})", tag: "passkeys", resp: passkey.Begin{}}
	docPasskeyRegisterEnd   = opDoc{summary: "Finish registering a passkey with the browser's answer (PublicKeyCredential.toJSON())", tag: "passkeys", req: passkeyRegisterRequest{}, resp: passkeyResponse{}, status: http.StatusCreated}
	docPasskeyLoginBegin    = opDoc{summary: "Begin signing in with a passkey (no username): pass options to navigator.credentials.get({publicKey: options})", tag: "passkeys", resp: passkey.Begin{}}
	docPasskeyLoginEnd      = opDoc{summary: "Finish signing in with the browser's answer: the tokens of a login", tag: "passkeys", req: passkeyLoginRequest{}, resp: tokenResponse{}}
	docListPasskeys         = opDoc{summary: "List the caller's passkeys", tag: "passkeys", resp: passkeysResponse{}}
	docRenamePasskey        = opDoc{summary: "Rename one of the caller's passkeys", tag: "passkeys", req: renamePasskeyRequest{}, resp: passkeyResponse{}}
	docDeletePasskey        = opDoc{summary: "Remove one of the caller's passkeys: it stops signing in at once", tag: "passkeys"}
)

type passkeyRegisterRequest struct {
	CeremonyID string          `json:"ceremony_id"`
	Name       string          `json:"name,omitempty" doc:"shown in the list; default \"Passkey\""`
	Credential json.RawMessage `json:"credential" doc:"the PublicKeyCredential from navigator.credentials.create, as its toJSON() form"`
}

type passkeyLoginRequest struct {
	CeremonyID string          `json:"ceremony_id"`
	Credential json.RawMessage `json:"credential" doc:"the PublicKeyCredential from navigator.credentials.get, as its toJSON() form"`
	Cookie     bool            `json:"cookie,omitempty" doc:"set the refresh token as an HttpOnly cookie instead of returning it (browsers)"`
}

type renamePasskeyRequest struct {
	Name string `json:"name"`
}

type passkeyResponse struct {
	Passkey *passkey.Passkey `json:"passkey"`
}

type passkeysResponse struct {
	Passkeys []*passkey.Passkey `json:"passkeys"`
}

func (s *Server) passkeyRoutes() []route {
	return []route{
		{"POST", "/api/v1/auth/webauthn/register/begin", session, s.handlePasskeyRegisterBegin, docPasskeyRegisterBegin},
		{"POST", "/api/v1/auth/webauthn/register/finish", session, s.handlePasskeyRegisterFinish, docPasskeyRegisterEnd},
		{"POST", "/api/v1/auth/webauthn/login/begin", public, s.handlePasskeyLoginBegin, docPasskeyLoginBegin},
		{"POST", "/api/v1/auth/webauthn/login/finish", public, s.handlePasskeyLoginFinish, docPasskeyLoginEnd},
		{"GET", "/api/v1/users/me/passkeys", user, s.handleListPasskeys, docListPasskeys},
		{"PATCH", "/api/v1/users/me/passkeys/{id}", session, s.handleRenamePasskey, docRenamePasskey},
		{"DELETE", "/api/v1/users/me/passkeys/{id}", session, s.handleDeletePasskey, docDeletePasskey},
	}
}

func (s *Server) passkeys() (*passkey.Service, error) {
	if s.cfg.Passkeys == nil {
		return nil, unhidra.Errorf(unhidra.ENotFound, "passkeys are not available on this server")
	}
	return s.cfg.Passkeys, nil
}

func checkCredential(raw json.RawMessage) error {
	if len(raw) == 0 || raw[0] != '{' {
		return unhidra.Errorf(unhidra.EInvalid, "credential is required: the browser's PublicKeyCredential as JSON")
	}
	if len(raw) > passkey.MaxResponse {
		return unhidra.Errorf(unhidra.ETooLarge, "credential is larger than %d bytes", passkey.MaxResponse)
	}
	return nil
}

func (s *Server) handlePasskeyRegisterBegin(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.passkeys()
	if err != nil {
		return err
	}
	b, err := svc.BeginRegistration(r.Context(), s.publicBase(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

func (s *Server) handlePasskeyRegisterFinish(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.passkeys()
	if err != nil {
		return err
	}
	var req passkeyRegisterRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if err := checkCredential(req.Credential); err != nil {
		return err
	}
	pk, err := svc.FinishRegistration(r.Context(), s.publicBase(r), req.CeremonyID, req.Name, req.Credential)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, passkeyResponse{Passkey: pk})
	return nil
}

func (s *Server) handlePasskeyLoginBegin(w http.ResponseWriter, r *http.Request) error {
	if err := s.allow(r, s.login); err != nil {
		return err
	}
	svc, err := s.passkeys()
	if err != nil {
		return err
	}
	b, err := svc.BeginLogin(r.Context(), s.publicBase(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

func (s *Server) handlePasskeyLoginFinish(w http.ResponseWriter, r *http.Request) error {
	if err := s.allow(r, s.login); err != nil {
		return err
	}
	svc, err := s.passkeys()
	if err != nil {
		return err
	}
	var req passkeyLoginRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if err := checkCredential(req.Credential); err != nil {
		return err
	}
	pair, err := svc.FinishLogin(r.Context(), s.publicBase(r), req.CeremonyID, req.Credential, s.meta(r))
	if err != nil {
		return err
	}
	s.writeTokens(w, pair, req.Cookie)
	return nil
}

func (s *Server) handleListPasskeys(w http.ResponseWriter, r *http.Request) error {
	resp := passkeysResponse{Passkeys: []*passkey.Passkey{}}
	if s.cfg.Passkeys != nil {
		keys, err := s.cfg.Passkeys.Passkeys(r.Context())
		if err != nil {
			return err
		}
		resp.Passkeys = keys
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) handleRenamePasskey(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.passkeys()
	if err != nil {
		return err
	}
	var req renamePasskeyRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	pk, err := svc.Rename(r.Context(), r.PathValue("id"), req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, passkeyResponse{Passkey: pk})
	return nil
}

func (s *Server) handleDeletePasskey(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.passkeys()
	if err != nil {
		return err
	}
	if err := svc.Remove(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
