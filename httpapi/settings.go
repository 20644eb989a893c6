package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/settings"
)

// settingsRoutes are the admins' view and change of the server settings
// that take effect while the server runs (docs/api.md "Administration").
func (s *Server) settingsRoutes() []route {
	return []route{
		{"GET", "/api/v1/admin/settings", user, s.handleGetSettings, docGetSettings},
		{"PATCH", "/api/v1/admin/settings", user, s.handlePatchSettings, docPatchSettings},
	}
}

type settingsResponse struct {
	Settings []settings.Setting `json:"settings"`
}

// settingsPatch maps setting keys to their new value, or to null for the
// default.
type settingsPatch map[string]json.RawMessage

var (
	docGetSettings   = opDoc{summary: "The server settings admins may change while it runs: each one's value in force, its default (this node's flag) and where the value comes from (admins)", tag: "admin", resp: settingsResponse{}}
	docPatchSettings = opDoc{summary: "Change settings: {key: value} sets an override, {key: null} returns to the default; all or nothing, in force on every node within seconds (admins)", tag: "admin", req: settingsPatch{}, resp: settingsResponse{}}
)

func (s *Server) settingsService() (*settings.Service, error) {
	if s.cfg.Settings == nil {
		return nil, unhidra.Errorf(unhidra.EUnavailable, "runtime settings are not available on this server")
	}
	return s.cfg.Settings, nil
}

func (s *Server) handleGetSettings(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.settingsService()
	if err != nil {
		return err
	}
	list, err := svc.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, settingsResponse{Settings: list})
	return nil
}

func (s *Server) handlePatchSettings(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.settingsService()
	if err != nil {
		return err
	}
	var patch settingsPatch
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &patch); err != nil {
		return err
	}
	list, err := svc.Update(r.Context(), patch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, settingsResponse{Settings: list})
	return nil
}
