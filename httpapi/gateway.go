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
	Connections []gateway.ConnectionInfo `json:"connections" doc:"oldest first"`
	NextCursor  string                   `json:"next_cursor,omitempty"`
	Unreachable []string                 `json:"unreachable_nodes" doc:"nodes that did not answer in time (2 s): their sockets are missing from the list"`
}

var (
	docWebSocket        = opDoc{summary: "Real-time WebSocket (subprotocols unhidra.v1 and bearer.<access_token>; frames in docs/api.md)", tag: "realtime", status: http.StatusSwitchingProtocols}
	docAdminConnections = opDoc{summary: "Live WebSocket connections of every node, oldest first (admins)", tag: "admin", resp: connectionsResponse{},
		query: []param{{"user_id", "only this user's"}, {"cursor", "next_cursor of the previous page"}, {"limit", "1 to 200, default 50"}}}
	// Closing is not revoking: the session stays valid and the client may
	// connect again.
	docAdminCloseConnection      = opDoc{summary: "Close one live WebSocket, on whichever node holds it, with 4010 (admins; the client reconnects and resumes); the session is not revoked. 503 if a node that may hold it did not answer", tag: "admin"}
	docAdminCloseUserConnections = opDoc{summary: "Close every live WebSocket of a user on every node with 4010 (admins; the clients reconnect and resume); the sessions are not revoked", tag: "admin", resp: closedResponse{}}
)

type closedResponse struct {
	Closed      int      `json:"closed" doc:"sockets closed, on every node that answered"`
	Unreachable []string `json:"unreachable_nodes" doc:"nodes that did not answer in time: the user's sockets there may still be open"`
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
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := s.cfg.Gateway.Connections(r.Context(), gateway.ConnectionQuery{UserID: q.Get("user_id"), Cursor: q.Get("cursor"), Limit: limit})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, connectionsResponse{Connections: orEmpty(page.Connections), NextCursor: page.NextCursor, Unreachable: orEmpty(page.Unreachable)})
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
	n, missing, err := s.cfg.Gateway.CloseUserConnections(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, closedResponse{Closed: n, Unreachable: orEmpty(missing)})
	return nil
}
