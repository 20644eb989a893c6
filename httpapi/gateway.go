package httpapi

import (
	"net/http"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/gateway"
)

// gatewayRoutes are the WebSocket endpoint and its admin view. The socket
// authenticates with its own subprotocol token (API.md), so the route is
// public at the HTTP layer.
func (s *Server) gatewayRoutes() []route {
	return []route{
		{"GET", "/api/v1/ws", public, s.handleWebSocket, docWebSocket},
		{"GET", "/api/v1/admin/connections", user, s.handleAdminConnections, docAdminConnections},
		{"DELETE", "/api/v1/admin/connections/{id}", user, s.handleAdminCloseConnection, docAdminCloseConnection},
		{"DELETE", "/api/v1/admin/users/{id}/connections", user, s.handleAdminCloseUserConnections, docAdminCloseUserConnections},
	}
}

type connectionsResponse struct {
	Connections []gateway.ConnectionInfo `json:"connections"`
}

var (
	docWebSocket        = opDoc{summary: "Real-time WebSocket (subprotocols unhidra.v1 and bearer.<access_token>; frames in docs/api.md)", tag: "realtime", status: http.StatusSwitchingProtocols}
	docAdminConnections = opDoc{summary: "Live WebSocket connections of this node (admins)", tag: "admin", resp: connectionsResponse{}}
	// Closing is not revoking: the session stays valid and the client may
	// connect again.
	docAdminCloseConnection      = opDoc{summary: "Close one live WebSocket of this node with 4010 (admins; the client reconnects and resumes); the session is not revoked", tag: "admin"}
	docAdminCloseUserConnections = opDoc{summary: "Close every live WebSocket of a user on this node with 4010 (admins; the clients reconnect and resume); the sessions are not revoked", tag: "admin", resp: closedResponse{}}
)

type closedResponse struct {
	Closed int `json:"closed" doc:"sockets closed on this node"`
}

func (s *Server) handleWebSocket(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Gateway == nil {
		return unhidra.Errorf(unhidra.EUnavailable, "the real-time gateway is not running")
	}
	return s.cfg.Gateway.Accept(w, r)
}

func (s *Server) handleAdminConnections(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Gateway == nil {
		return unhidra.Errorf(unhidra.EUnavailable, "the real-time gateway is not running")
	}
	conns, err := s.cfg.Gateway.Connections(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, connectionsResponse{Connections: orEmpty(conns)})
	return nil
}

func (s *Server) handleAdminCloseConnection(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Gateway == nil {
		return unhidra.Errorf(unhidra.EUnavailable, "the real-time gateway is not running")
	}
	if err := s.cfg.Gateway.CloseConnection(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleAdminCloseUserConnections(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Gateway == nil {
		return unhidra.Errorf(unhidra.EUnavailable, "the real-time gateway is not running")
	}
	n, err := s.cfg.Gateway.CloseUserConnections(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, closedResponse{Closed: n})
	return nil
}
