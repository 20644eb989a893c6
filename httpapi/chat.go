package httpapi

import (
	"net/http"
	"strconv"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/chat"
)

// chatRoutes are the endpoints of API.md "Channels, messages, threads".
func (s *Server) chatRoutes() []route {
	return []route{
		{"POST", "/api/v1/channels", user, s.handleCreateChannel, docCreateChannel},
		{"GET", "/api/v1/channels", user, s.handleListChannels, docListChannels},
		{"GET", "/api/v1/channels/browse", user, s.handleBrowseChannels, docBrowseChannels},
		{"POST", "/api/v1/channels/read-all", user, s.handleReadAll, docReadAll},
		{"GET", "/api/v1/channels/{id}", user, s.handleGetChannel, docGetChannel},
		{"PATCH", "/api/v1/channels/{id}", user, s.handleUpdateChannel, docUpdateChannel},
		{"DELETE", "/api/v1/channels/{id}", user, s.handleArchiveChannel, docArchiveChannel},
		{"POST", "/api/v1/channels/{id}/join", user, s.handleJoin, docJoin},
		{"POST", "/api/v1/channels/{id}/leave", user, s.handleLeave, docLeave},
		{"GET", "/api/v1/channels/{id}/members", user, s.handleMembers, docMembers},
		{"GET", "/api/v1/channels/{id}/presence", user, s.handleChannelPresence, docChannelPresence},
		{"PUT", "/api/v1/channels/{id}/members/{user_id}", user, s.handleSetMember, docSetMember},
		{"DELETE", "/api/v1/channels/{id}/members/{user_id}", user, s.handleRemoveMember, docRemoveMember},
		{"PATCH", "/api/v1/channels/{id}/prefs", user, s.handlePrefs, docPrefs},
		{"PUT", "/api/v1/channels/{id}/disappearing", user, s.handleSetDisappear, docSetDisappear},
		{"POST", "/api/v1/channels/{id}/messages", user, s.handleSend, docSend},
		{"GET", "/api/v1/channels/{id}/messages", user, s.handleMessages, docMessages},
		{"GET", "/api/v1/channels/{id}/pins", user, s.handlePins, docPins},
		{"GET", "/api/v1/channels/{id}/events", user, s.handleEvents, docEvents},
		{"POST", "/api/v1/channels/{id}/read", user, s.handleRead, docRead},
		{"GET", "/api/v1/messages/{id}", user, s.handleGetMessage, docGetMessage},
		{"PATCH", "/api/v1/messages/{id}", user, s.handleEditMessage, docEditMessage},
		{"DELETE", "/api/v1/messages/{id}", user, s.handleDeleteMessage, docDeleteMessage},
		{"GET", "/api/v1/messages/{id}/history", user, s.handleEditHistory, docEditHistory},
		{"GET", "/api/v1/messages/{id}/thread", user, s.handleThread, docThread},
		{"PUT", "/api/v1/messages/{id}/follow", user, s.handleFollow(true), docFollow},
		{"DELETE", "/api/v1/messages/{id}/follow", user, s.handleFollow(false), docUnfollow},
		{"PUT", "/api/v1/messages/{id}/pin", user, s.handlePin(true), docPin},
		{"DELETE", "/api/v1/messages/{id}/pin", user, s.handlePin(false), docUnpin},
		{"PUT", "/api/v1/messages/{id}/reactions/{emoji}", user, s.handleReact(true), docReact},
		{"DELETE", "/api/v1/messages/{id}/reactions/{emoji}", user, s.handleReact(false), docUnreact},
		{"POST", "/api/v1/messages/{id}/reactions", user, s.handleReactEncrypted, docReactEncrypted},
		{"DELETE", "/api/v1/reactions/{id}", user, s.handleUnreactEncrypted, docUnreactEncrypted},
		{"GET", "/api/v1/search", user, s.handleSearch, docSearch},
	}
}

var (
	afterParam  = param{"after", "exclusive lower seq bound: the first page after it, ascending"}
	beforeParam = param{"before", "exclusive upper seq bound: the latest page below it, ascending"}

	docCreateChannel = opDoc{summary: "Create a public or private channel, or open a direct channel (200 with the existing DM for the same member set and mode; encrypted defaults to false until the server has E2EE)",
		tag: "channels", req: createChannelRequest{}, resp: channelResponse{}, status: 201}
	docListChannels   = opDoc{summary: "The caller's channels with unread and mention counts", tag: "channels", resp: channelsResponse{}}
	docBrowseChannels = opDoc{summary: "Public channels the caller can join", tag: "channels", resp: channelsResponse{},
		query: []param{{"q", "text to find in channel names"}, cursorParam, limitParam}}
	docReadAll         = opDoc{summary: "Mark every channel of the caller read", tag: "channels"}
	docGetChannel      = opDoc{summary: "A channel (404 for private channels the caller is not in)", tag: "channels", resp: channelResponse{}}
	docUpdateChannel   = opDoc{summary: "Rename a channel or set its topic or purpose (admins and owners)", tag: "channels", req: updateChannelRequest{}, resp: channelResponse{}}
	docArchiveChannel  = opDoc{summary: "Archive a channel: it becomes read-only (owners)", tag: "channels"}
	docJoin            = opDoc{summary: "Join a public channel", tag: "channels", resp: channelResponse{}}
	docLeave           = opDoc{summary: "Leave a channel", tag: "channels"}
	docMembers         = opDoc{summary: "A channel's members", tag: "channels", resp: membersResponse{}, query: []param{cursorParam, limitParam}}
	docChannelPresence = opDoc{summary: "Presence of a channel's members, a page of members at a time as GET …/members (members only)", tag: "channels", resp: presenceResponse{}, query: []param{cursorParam, limitParam}}
	docSetMember       = opDoc{summary: "Add a member with a role, or change a member's role (201 when added)", tag: "channels", req: setMemberRequest{}, resp: memberResponse{}}
	docRemoveMember    = opDoc{summary: "Remove a member (removing oneself is leaving)", tag: "channels"}
	docPrefs           = opDoc{summary: "Set the caller's own preferences for a channel", tag: "channels", req: prefsRequest{}, resp: channelResponse{}}
	docSend            = opDoc{summary: "Post a message (201; 200 with the stored message for a retry with the same client_msg_id and content, 409 for other content)", tag: "messages", req: sendRequest{}, resp: messageResponse{}, status: 201}
	docMessages        = opDoc{summary: "A page of a channel's top-level messages, ascending seq; the latest when neither after nor before is given", tag: "messages", resp: messagesResponse{},
		query: []param{afterParam, beforeParam, limitParam}}
	docPins   = opDoc{summary: "A channel's pinned messages", tag: "messages", resp: messagesResponse{}, query: []param{limitParam}}
	docEvents = opDoc{summary: "A channel's events (the WebSocket frames) with seq > after, for catching up", tag: "messages", resp: eventsResponse{},
		query: []param{{"after", "exclusive seq to start after (default 0)"}, {"limit", "page size, 1 to 1000 (default 1000)"}}}
	docRead          = opDoc{summary: "Move the caller's read position forward; broadcasts a read receipt", tag: "messages", req: readRequest{}}
	docGetMessage    = opDoc{summary: "One message", tag: "messages", resp: messageResponse{}}
	docEditMessage   = opDoc{summary: "Edit the caller's own message", tag: "messages", req: editRequest{}, resp: messageResponse{}}
	docDeleteMessage = opDoc{summary: "Delete a message (a tombstone stays): authors, and moderators and up for anyone's", tag: "messages"}
	docEditHistory   = opDoc{summary: "A message's earlier versions (its author, and moderators and up)", tag: "messages", resp: historyResponse{}}
	docThread        = opDoc{summary: "A thread: its root and a page of replies in ascending seq", tag: "messages", resp: chat.Thread{},
		query: []param{{"after", "exclusive seq of the last reply already seen (default 0)"}, limitParam}}
	docFollow   = opDoc{summary: "Follow a thread", tag: "messages"}
	docUnfollow = opDoc{summary: "Stop following a thread", tag: "messages"}
	docPin      = opDoc{summary: "Pin a message (moderators and up; any member of a direct channel)", tag: "messages", resp: messageResponse{}}
	docUnpin    = opDoc{summary: "Unpin a message", tag: "messages", resp: messageResponse{}}
	docReact    = opDoc{summary: "Add the caller's reaction (a Unicode emoji, URL-encoded)", tag: "messages", resp: messageResponse{}}
	docUnreact  = opDoc{summary: "Remove the caller's reaction", tag: "messages", resp: messageResponse{}}

	docSetDisappear = opDoc{summary: "Set the channel's disappearing-messages timer for messages sent from now on (0: off; moderators and up, any member of a direct channel)",
		tag: "channels", req: disappearRequest{}, resp: channelResponse{}}
	docReactEncrypted = opDoc{summary: "React to a message of an encrypted channel: the emoji is inside ciphertext (201 with the reaction and its id)",
		tag: "messages", req: encryptedReactionRequest{}, resp: encryptedReactionResponse{}, status: http.StatusCreated}
	docUnreactEncrypted = opDoc{summary: "Remove the caller's encrypted reaction by its id (its ciphertext is deleted; 204 also when it is already gone)", tag: "messages"}
	docSearch           = opDoc{summary: "Full-text search over the standard channels the caller is a member of, newest first; highlights are code point offsets into the body",
		tag: "search", resp: searchResponse{},
		query: []param{{"q", `words, "phrases", in:<channel>, from:<username>, before:<YYYY-MM-DD>, after:<YYYY-MM-DD>`}, cursorParam, limitParam}}
)

type createChannelRequest struct {
	Name      string   `json:"name,omitempty"`
	Kind      string   `json:"kind"`
	Encrypted *bool    `json:"encrypted,omitempty"`
	Topic     string   `json:"topic,omitempty"`
	Purpose   string   `json:"purpose,omitempty"`
	Members   []string `json:"members,omitempty"`
}

type channelResponse struct {
	Channel *unhidra.Channel `json:"channel"`
}

type channelsResponse struct {
	Channels   []*unhidra.Channel `json:"channels"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

type updateChannelRequest struct {
	Name    *string `json:"name,omitempty"`
	Topic   *string `json:"topic,omitempty"`
	Purpose *string `json:"purpose,omitempty"`
}

type membersResponse struct {
	Members    []*unhidra.Member `json:"members"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// membersPage is a page of members: a full one (limit of them) names the
// cursor of the next.
func membersPage(ms []*unhidra.Member, limit int) membersResponse {
	resp := membersResponse{Members: ms}
	if len(ms) == limit {
		resp.NextCursor = ms[len(ms)-1].UserID
	}
	return resp
}

type setMemberRequest struct {
	Role string `json:"role"`
}

type memberResponse struct {
	Member *unhidra.Member `json:"member"`
}

type prefsRequest struct {
	Muted  *bool   `json:"muted,omitempty"`
	Notify *string `json:"notify,omitempty"`
	Hidden *bool   `json:"hidden,omitempty"`
}

type sendRequest struct {
	ClientMsgID  string   `json:"client_msg_id"`
	Body         string   `json:"body,omitempty"`
	Ciphertext   string   `json:"ciphertext,omitempty"`
	ThreadRootID string   `json:"thread_root_id,omitempty"`
	Attachments  []string `json:"attachments,omitempty"`
}

type messageResponse struct {
	Message *unhidra.Message `json:"message"`
}

type messagesResponse struct {
	Messages []*unhidra.Message `json:"messages"`
	HasMore  bool               `json:"has_more"`
}

type eventsResponse struct {
	Events []unhidra.Event `json:"events"`
}

type readRequest struct {
	Seq *int64 `json:"seq"`
}

type editRequest struct {
	Body       string `json:"body,omitempty"`
	Ciphertext string `json:"ciphertext,omitempty"`
}

type historyResponse struct {
	Edits []chat.Edit `json:"edits"`
}

type searchResponse struct {
	Hits       []chat.SearchHit `json:"hits"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

func (s *Server) handleCreateChannel(w http.ResponseWriter, r *http.Request) error {
	var req createChannelRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if err := checkIDs("members", req.Members); err != nil {
		return err
	}
	ch, created, err := s.cfg.Chat.CreateChannel(r.Context(), chat.CreateChannelInput{
		Name: req.Name, Kind: req.Kind, Encrypted: req.Encrypted, Topic: req.Topic, Purpose: req.Purpose, Members: req.Members,
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, channelResponse{Channel: ch})
	return nil
}

func (s *Server) handleListChannels(w http.ResponseWriter, r *http.Request) error {
	chs, err := s.cfg.Chat.ListChannels(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, channelsResponse{Channels: chs})
	return nil
}

func (s *Server) handleBrowseChannels(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	chs, err := s.cfg.Chat.BrowseChannels(r.Context(), q.Get("q"), q.Get("cursor"), limit)
	if err != nil {
		return err
	}
	resp := channelsResponse{Channels: chs}
	if len(chs) == limit {
		resp.NextCursor = chs[len(chs)-1].Name
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) handleReadAll(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Chat.ReadAll(r.Context()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleGetChannel(w http.ResponseWriter, r *http.Request) error {
	ch, err := s.cfg.Chat.GetChannel(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, channelResponse{Channel: ch})
	return nil
}

func (s *Server) handleUpdateChannel(w http.ResponseWriter, r *http.Request) error {
	var req updateChannelRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	ch, err := s.cfg.Chat.UpdateChannel(r.Context(), r.PathValue("id"), chat.ChannelUpdate{Name: req.Name, Topic: req.Topic, Purpose: req.Purpose})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, channelResponse{Channel: ch})
	return nil
}

func (s *Server) handleArchiveChannel(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Chat.ArchiveChannel(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) error {
	ch, err := s.cfg.Chat.Join(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, channelResponse{Channel: ch})
	return nil
}

func (s *Server) handleLeave(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Chat.Leave(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// presenceResponse is one page of a channel's members' presence: the
// members who are not offline, by user id.
type presenceResponse struct {
	Presence   map[string]string `json:"presence" doc:"user id to online, away or dnd; members not listed are offline"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// handleChannelPresence answers the presence of a channel's members, a
// page of members at a time (the pages of GET …/members): what a client
// shows when it opens a channel, before the presence frames that follow
// changes. Only members may ask (the chat service's Members refuses others
// with 404).
func (s *Server) handleChannelPresence(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Gateway == nil {
		return unhidra.Errorf(unhidra.EUnavailable, "the real-time gateway is not running")
	}
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	ms, err := s.cfg.Chat.Members(r.Context(), r.PathValue("id"), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.UserID
	}
	st, err := s.cfg.Gateway.Statuses(r.Context(), ids)
	if err != nil {
		return err // the shared presence store failed: logged, answered 500
	}
	resp := presenceResponse{Presence: st}
	if len(ms) == limit {
		resp.NextCursor = ms[len(ms)-1].UserID
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) handleMembers(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	ms, err := s.cfg.Chat.Members(r.Context(), r.PathValue("id"), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, membersPage(ms, limit))
	return nil
}

func (s *Server) handleSetMember(w http.ResponseWriter, r *http.Request) error {
	var req setMemberRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	m, created, err := s.cfg.Chat.SetMember(r.Context(), r.PathValue("id"), r.PathValue("user_id"), req.Role)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, memberResponse{Member: m})
	return nil
}

func (s *Server) handleRemoveMember(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Chat.RemoveMember(r.Context(), r.PathValue("id"), r.PathValue("user_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handlePrefs(w http.ResponseWriter, r *http.Request) error {
	var req prefsRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	ch, err := s.cfg.Chat.SetPrefs(r.Context(), r.PathValue("id"), chat.Prefs{Muted: req.Muted, Notify: req.Notify, Hidden: req.Hidden})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, channelResponse{Channel: ch})
	return nil
}

func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) error {
	var req sendRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.ThreadRootID != "" {
		if err := unhidra.CheckID("thread_root_id", req.ThreadRootID); err != nil {
			return err
		}
	}
	if err := checkIDs("attachments", req.Attachments); err != nil {
		return err
	}
	m, created, err := s.cfg.Chat.Send(r.Context(), unhidra.SendInput{
		ChannelID: r.PathValue("id"), ClientMsgID: req.ClientMsgID, Body: req.Body, Ciphertext: req.Ciphertext,
		ThreadRootID: req.ThreadRootID, Attachments: req.Attachments,
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, messageResponse{Message: m})
	return nil
}

// querySeq reads an optional non-negative seq query parameter.
func querySeq(r *http.Request, name string) (int64, bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, false, unhidra.Errorf(unhidra.EInvalid, "%s must be a seq: a whole number, 0 or more", name)
	}
	return n, true, nil
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	after, hasAfter, err := querySeq(r, "after")
	if err != nil {
		return err
	}
	before, hasBefore, err := querySeq(r, "before")
	if err != nil {
		return err
	}
	if hasAfter && hasBefore {
		return unhidra.Errorf(unhidra.EInvalid, "give after or before, not both")
	}
	if hasBefore && before == 0 {
		// Nothing lies below seq 0; without this, 0 would mean "no bound".
		writeJSON(w, http.StatusOK, messagesResponse{Messages: []*unhidra.Message{}})
		return nil
	}
	ms, more, err := s.cfg.Chat.Messages(r.Context(), r.PathValue("id"), chat.Page{HasAfter: hasAfter, After: after, Before: before, Limit: limit})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, messagesResponse{Messages: ms, HasMore: more})
	return nil
}

func (s *Server) handlePins(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	ms, err := s.cfg.Chat.Pins(r.Context(), r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, messagesResponse{Messages: ms})
	return nil
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) error {
	after, _, err := querySeq(r, "after")
	if err != nil {
		return err
	}
	limit := chat.MaxEventsPage
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > chat.MaxEventsPage {
			return unhidra.Errorf(unhidra.EInvalid, "limit must be a whole number from 1 to %d", chat.MaxEventsPage)
		}
		limit = n
	}
	evs, err := s.cfg.Chat.Events(r.Context(), r.PathValue("id"), after, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, eventsResponse{Events: evs})
	return nil
}

func (s *Server) handleRead(w http.ResponseWriter, r *http.Request) error {
	var req readRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.Seq == nil {
		return unhidra.Errorf(unhidra.EInvalid, "seq is required")
	}
	if err := s.cfg.Chat.MarkRead(r.Context(), r.PathValue("id"), *req.Seq); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleGetMessage(w http.ResponseWriter, r *http.Request) error {
	m, err := s.cfg.Chat.GetMessage(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, messageResponse{Message: m})
	return nil
}

func (s *Server) handleEditMessage(w http.ResponseWriter, r *http.Request) error {
	var req editRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	m, err := s.cfg.Chat.Edit(r.Context(), r.PathValue("id"), chat.EditInput{Body: req.Body, Ciphertext: req.Ciphertext})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, messageResponse{Message: m})
	return nil
}

func (s *Server) handleDeleteMessage(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Chat.Delete(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleEditHistory(w http.ResponseWriter, r *http.Request) error {
	es, err := s.cfg.Chat.EditHistory(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, historyResponse{Edits: es})
	return nil
}

func (s *Server) handleThread(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	after, _, err := querySeq(r, "after")
	if err != nil {
		return err
	}
	t, err := s.cfg.Chat.Thread(r.Context(), r.PathValue("id"), after, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) handleFollow(follow bool) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.cfg.Chat.Follow(r.Context(), r.PathValue("id"), follow); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func (s *Server) handlePin(pin bool) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		m, err := s.cfg.Chat.Pin(r.Context(), r.PathValue("id"), pin)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, messageResponse{Message: m})
		return nil
	}
}

func (s *Server) handleReact(add bool) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		m, err := s.cfg.Chat.React(r.Context(), r.PathValue("id"), r.PathValue("emoji"), add)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, messageResponse{Message: m})
		return nil
	}
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	hits, next, err := s.cfg.Chat.Search(r.Context(), q.Get("q"), q.Get("cursor"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, searchResponse{Hits: hits, NextCursor: next})
	return nil
}

type disappearRequest struct {
	DisappearAfterS *int `json:"disappear_after_s" doc:"seconds from sending to deletion, 0 (off) to 31536000; required"`
}

type encryptedReactionRequest struct {
	Ciphertext string `json:"ciphertext" doc:"an e2ee envelope (standard base64) holding the emoji"`
}

type encryptedReactionResponse struct {
	Reaction *unhidra.EncryptedReaction `json:"reaction"`
}

func (s *Server) handleSetDisappear(w http.ResponseWriter, r *http.Request) error {
	var req disappearRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.DisappearAfterS == nil {
		return unhidra.Errorf(unhidra.EInvalid, "disappear_after_s is required (0 turns the timer off)")
	}
	ch, err := s.cfg.Chat.SetDisappear(r.Context(), r.PathValue("id"), *req.DisappearAfterS)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, channelResponse{Channel: ch})
	return nil
}

func (s *Server) handleReactEncrypted(w http.ResponseWriter, r *http.Request) error {
	var req encryptedReactionRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	er, err := s.cfg.Chat.ReactEncrypted(r.Context(), r.PathValue("id"), req.Ciphertext)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, encryptedReactionResponse{Reaction: er})
	return nil
}

func (s *Server) handleUnreactEncrypted(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Chat.UnreactEncrypted(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
