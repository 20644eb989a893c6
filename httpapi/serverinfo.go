package httpapi

import (
	"net/http"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/web"
)

type serverInfo struct {
	Version       string `json:"version" doc:"the server's build version"`
	Registration  string `json:"registration" doc:"who may register: open, invite (with an invite code) or closed"`
	PasswordLogin string `json:"password_login" doc:"on, or sso-only: password sign-in only for break-glass accounts"`
	NeedsSetup    bool   `json:"needs_setup" doc:"no admin exists yet: the first one registers with the one-time setup token printed in the server log"`
	Web           bool   `json:"web" doc:"this server serves the built browser client (false: a placeholder page)"`
}

type serverResponse struct {
	Server serverInfo `json:"server"`
}

var docServerInfo = opDoc{summary: "What a client needs to know before signing in: version, registration mode, first-admin setup pending, web client built in", tag: "operations", resp: serverResponse{}}

func (s *Server) handleServerInfo(w http.ResponseWriter, r *http.Request) error {
	setup, err := s.auth.NeedsSetup(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, serverResponse{Server: serverInfo{
		Version:       unhidra.Version,
		Registration:  s.auth.Registration(),
		PasswordLogin: s.auth.PasswordLogin(),
		NeedsSetup:    setup,
		Web:           s.cfg.Web != nil && web.Built(),
	}})
	return nil
}
