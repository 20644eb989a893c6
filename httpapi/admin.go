package httpapi

import (
	"net/http"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/chat"
)

// adminRoutes are the admins' account deletion and channel screens
// (docs/api.md "Administration").
func (s *Server) adminRoutes() []route {
	return []route{
		{"DELETE", "/api/v1/admin/users/{id}", user, s.handleAdminDeleteUser, docAdminDeleteUser},
		{"GET", "/api/v1/admin/channels", user, s.handleAdminChannels, docAdminChannels},
		{"GET", "/api/v1/admin/channels/{id}/members", user, s.handleAdminChannelMembers, docAdminChannelMembers},
		{"POST", "/api/v1/admin/channels/{id}/archive", user, s.handleAdminArchiveChannel, docAdminArchiveChannel},
	}
}

type adminDeleteUserRequest struct {
	Mode string `json:"mode" doc:"anonymise: the account goes, its messages stay and show \"Deleted user\"; erase: its messages are deleted too"`
}

type adminDeleteUserResponse struct {
	User     *unhidra.User `json:"user" doc:"what remains of the account: deleted, display name \"Deleted user\""`
	Mode     string        `json:"mode"`
	Messages int           `json:"messages" doc:"messages of the user not deleted when the account was: kept (anonymise) or erased (erase)"`
	Pending  bool          `json:"pending" doc:"the server is still removing the user from channels or erasing their messages; it finishes in the background"`
}

type adminChannelsResponse struct {
	Channels    []*chat.AdminChannel `json:"channels"`
	NextCursor  string               `json:"next_cursor,omitempty"`
	DirectCount int                  `json:"direct_count" doc:"direct channels on the server, which the list leaves out"`
}

var (
	docAdminDeleteUser = opDoc{summary: "Delete an account (admins): it can no longer sign in, its credentials and sessions go, its sockets close, it leaves every channel; mode anonymise keeps its messages (shown as \"Deleted user\"), erase deletes them too. 409 for oneself, the last admin, or erase under a legal hold", tag: "admin",
		req: adminDeleteUserRequest{}, resp: adminDeleteUserResponse{}}
	docAdminChannels = opDoc{summary: "Every public and private channel with its member count and last activity, by name (admins); direct channels are only counted", tag: "admin", resp: adminChannelsResponse{},
		query: []param{{"q", "text to find in channel names"}, cursorParam, limitParam}}
	docAdminChannelMembers = opDoc{summary: "The members of any public or private channel (admins)", tag: "admin", resp: membersResponse{}, query: []param{cursorParam, limitParam}}
	docAdminArchiveChannel = opDoc{summary: "Archive any public or private channel: read-only for good (admins)", tag: "admin"}
)

func (s *Server) handleAdminDeleteUser(w http.ResponseWriter, r *http.Request) error {
	var req adminDeleteUserRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	d, err := s.auth.AdminDeleteUser(r.Context(), r.PathValue("id"), req.Mode)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, adminDeleteUserResponse{User: d.User, Mode: d.Mode, Messages: d.Messages, Pending: d.Pending})
	return nil
}

func (s *Server) handleAdminChannels(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	pg, err := s.cfg.Chat.AdminChannels(r.Context(), q.Get("q"), q.Get("cursor"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, adminChannelsResponse{Channels: pg.Channels, NextCursor: pg.NextCursor, DirectCount: pg.DirectCount})
	return nil
}

func (s *Server) handleAdminChannelMembers(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	ms, err := s.cfg.Chat.AdminChannelMembers(r.Context(), r.PathValue("id"), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, membersPage(ms, limit))
	return nil
}

func (s *Server) handleAdminArchiveChannel(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Chat.AdminArchiveChannel(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
