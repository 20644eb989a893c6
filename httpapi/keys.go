package httpapi

import (
	"net/http"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/keys"
)

// keyRoutes are the endpoints of API.md "End-to-end keys and to-device
// messages".
func (s *Server) keyRoutes() []route {
	return []route{
		{"GET", "/api/v1/keys/clients", user, s.handleListClients, docListClients},
		{"PUT", "/api/v1/keys/clients/{client_id}", user, s.handlePutClient, docPutClient},
		{"GET", "/api/v1/keys/clients/{client_id}", user, s.handleGetClient, docGetClient},
		{"DELETE", "/api/v1/keys/clients/{client_id}", user, s.handleRemoveClient, docRemoveClient},
		{"POST", "/api/v1/keys/clients/{client_id}/prekeys", user, s.handleAddPreKeys, docAddPreKeys},
		{"GET", "/api/v1/keys/clients/{client_id}/prekeys/count", user, s.handlePreKeyCount, docPreKeyCount},
		{"GET", "/api/v1/users/{id}/keys", user, s.handleUserKeys, docUserKeys},
		{"PUT", "/api/v1/keys/users/me/master", user, s.handleSetMasterKey, docSetMasterKey},
		{"PUT", "/api/v1/keys/users/me/client-list", user, s.handleSetClientList, docSetClientList},
		{"GET", "/api/v1/keys/backup", user, s.handleGetBackup, docGetBackup},
		{"PUT", "/api/v1/keys/backup", user, s.handlePutBackup, docPutBackup},
		{"DELETE", "/api/v1/keys/backup", user, s.handleDeleteBackup, docDeleteBackup},
		{"POST", "/api/v1/to-device", user, s.handleSendToDevice, docSendToDevice},
		{"GET", "/api/v1/to-device", user, s.handleListToDevice, docListToDevice},
		{"POST", "/api/v1/to-device/ack", user, s.handleAckToDevice, docAckToDevice},
	}
}

var (
	clientIDParam = param{"client_id", "the client install whose inbox to read (default: the access token's client_id)"}

	docListClients   = opDoc{summary: "The caller's client installs, with their prekey counts and retired prekeys", tag: "keys", resp: clientsResponse{}}
	docPutClient     = opDoc{summary: "Register one client install of the caller, or replace its keys (201 when new); the session's next refresh carries its client_id", tag: "keys", req: putClientRequest{}, resp: clientResponse{}}
	docGetClient     = opDoc{summary: "One of the caller's client installs (404 for anyone else's)", tag: "keys", resp: clientResponse{}}
	docRemoveClient  = opDoc{summary: "Remove one of the caller's client installs: its keys, prekeys and inbox are deleted; its id stays reserved", tag: "keys"}
	docAddPreKeys    = opDoc{summary: "Append one-time prekeys (at most 100 of each kind per call, 500 held); answers the counts held", tag: "keys", req: preKeysRequest{}, resp: preKeyCountsResponse{}}
	docPreKeyCount   = opDoc{summary: "How many one-time prekeys the client has left", tag: "keys", resp: preKeyCountsResponse{}}
	docUserKeys      = opDoc{summary: "A user's master key, signed client list and one bundle per client, each taking one one-time prekey (or carrying the last-resort one); rate-limited per requester and target", tag: "keys", resp: userKeysResponse{}}
	docSetMasterKey  = opDoc{summary: "Set the caller's master signing key, once; another key needs replace: true and is a key change everyone sees", tag: "keys", req: masterKeyRequest{}}
	docSetClientList = opDoc{summary: "Store the caller's list of clients signed by the master key", tag: "keys", req: clientListRequest{}, resp: clientListResponse{}}
	docGetBackup     = opDoc{summary: "The caller's encrypted key backup", tag: "keys", resp: backupResponse{}}
	docPutBackup     = opDoc{summary: "Replace the caller's encrypted key backup with a higher version (409 for a version not above the stored one)", tag: "keys", req: backupRequest{}, resp: backupVersionResponse{}}
	docDeleteBackup  = opDoc{summary: "Delete the caller's encrypted key backup", tag: "keys"}
	docSendToDevice  = opDoc{summary: "Send pairwise ciphertext to client installs (1 to 100 messages; all stored or none): kept until each client acknowledges it, delivered as to_device frames", tag: "keys", req: toDeviceRequest{}, resp: toDeviceSentResponse{}, status: http.StatusCreated}
	docListToDevice  = opDoc{summary: "A page of the unacknowledged to-device messages of one of the caller's clients, oldest first", tag: "keys", resp: toDeviceResponse{},
		query: []param{clientIDParam, cursorParam, {"limit", "page size, 1 to 200 (default 50)"}}}
	docAckToDevice = opDoc{summary: "Acknowledge to-device messages: they are deleted", tag: "keys", req: toDeviceAckRequest{}, resp: toDeviceAckResponse{}}
)

// Request types are the service's input types under names of their own,
// so that the decoding fuzzer and the generated types see each.
type (
	putClientRequest  keys.ClientInput
	preKeysRequest    keys.PreKeysInput
	clientListRequest keys.ClientListInput
	backupRequest     keys.BackupInput
	toDeviceRequest   keys.ToDeviceInput
)

type masterKeyRequest struct {
	MasterKey string `json:"master_key" doc:"Ed25519 public key, 32 bytes, standard base64"`
	Replace   bool   `json:"replace,omitempty" doc:"replace a master key set before: a key change everyone sees"`
}

type toDeviceAckRequest struct {
	ClientID string   `json:"client_id,omitempty" doc:"the client whose messages these are (default: the access token's client_id)"`
	IDs      []string `json:"ids"`
}

type clientResponse struct {
	Client *unhidra.ClientInfo `json:"client"`
}

type clientsResponse struct {
	Clients []*unhidra.ClientInfo `json:"clients"`
}

type preKeyCountsResponse struct {
	unhidra.PreKeyCounts
}

type userKeysResponse struct {
	Keys *unhidra.UserKeys `json:"keys"`
}

type clientListResponse struct {
	ClientList *unhidra.ClientList `json:"client_list"`
}

type backupResponse struct {
	Backup *unhidra.KeyBackup `json:"backup"`
}

type backupVersionResponse struct {
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

type toDeviceSentResponse struct {
	IDs []string `json:"ids"`
}

type toDeviceResponse struct {
	Messages   []*unhidra.ToDeviceMessage `json:"messages"`
	HasMore    bool                       `json:"has_more"`
	NextCursor string                     `json:"next_cursor,omitempty"`
}

type toDeviceAckResponse struct {
	Deleted int `json:"deleted"`
}

// maxBackupBody bounds the body of a backup upload: the base64 of
// keys.MaxBackupData and keys.MaxBackupAuthData with room for the JSON.
const maxBackupBody = (keys.MaxBackupData+keys.MaxBackupAuthData)/3*4 + 64<<10

func (s *Server) keys() (*keys.Service, error) {
	if s.cfg.Keys == nil {
		return nil, unhidra.Errorf(unhidra.ENotFound, "end-to-end keys are not available on this server")
	}
	return s.cfg.Keys, nil
}

func (s *Server) handleListClients(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.keys()
	if err != nil {
		return err
	}
	list, err := svc.Clients(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, clientsResponse{Clients: orEmpty(list)})
	return nil
}

func (s *Server) handlePutClient(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.keys()
	if err != nil {
		return err
	}
	var req putClientRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	info, created, err := svc.PutClient(r.Context(), r.PathValue("client_id"), keys.ClientInput(req))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, clientResponse{Client: info})
	return nil
}

func (s *Server) handleGetClient(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.keys()
	if err != nil {
		return err
	}
	info, err := svc.Client(r.Context(), r.PathValue("client_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, clientResponse{Client: info})
	return nil
}

func (s *Server) handleRemoveClient(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.keys()
	if err != nil {
		return err
	}
	if err := svc.RemoveClient(r.Context(), r.PathValue("client_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleAddPreKeys(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.keys()
	if err != nil {
		return err
	}
	var req preKeysRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	counts, err := svc.AddPreKeys(r.Context(), r.PathValue("client_id"), keys.PreKeysInput(req))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, preKeyCountsResponse{counts})
	return nil
}

func (s *Server) handlePreKeyCount(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.keys()
	if err != nil {
		return err
	}
	counts, err := svc.PreKeyCount(r.Context(), r.PathValue("client_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, preKeyCountsResponse{counts})
	return nil
}

func (s *Server) handleUserKeys(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.keys()
	if err != nil {
		return err
	}
	k, err := svc.UserKeys(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userKeysResponse{Keys: k})
	return nil
}

func (s *Server) handleSetMasterKey(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.keys()
	if err != nil {
		return err
	}
	var req masterKeyRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if _, err := svc.SetMasterKey(r.Context(), req.MasterKey, req.Replace); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleSetClientList(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.keys()
	if err != nil {
		return err
	}
	var req clientListRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	list, err := svc.SetClientList(r.Context(), keys.ClientListInput(req))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, clientListResponse{ClientList: list})
	return nil
}

func (s *Server) handleGetBackup(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.keys()
	if err != nil {
		return err
	}
	b, err := svc.Backup(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, backupResponse{Backup: b})
	return nil
}

func (s *Server) handlePutBackup(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.keys()
	if err != nil {
		return err
	}
	var req backupRequest
	if err := decodeJSON(w, r, max(s.cfg.MaxBodyBytes, maxBackupBody), &req); err != nil {
		return err
	}
	b, err := svc.PutBackup(r.Context(), keys.BackupInput(req))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, backupVersionResponse{Version: b.Version, UpdatedAt: b.UpdatedAt})
	return nil
}

func (s *Server) handleDeleteBackup(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.keys()
	if err != nil {
		return err
	}
	if err := svc.DeleteBackup(r.Context()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleSendToDevice(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.keys()
	if err != nil {
		return err
	}
	var req toDeviceRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	ids, err := svc.SendToDevice(r.Context(), keys.ToDeviceInput(req))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toDeviceSentResponse{IDs: ids})
	return nil
}

func (s *Server) handleListToDevice(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.keys()
	if err != nil {
		return err
	}
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	msgs, more, err := svc.ToDevice(r.Context(), q.Get("client_id"), q.Get("cursor"), limit)
	if err != nil {
		return err
	}
	resp := toDeviceResponse{Messages: orEmpty(msgs), HasMore: more}
	if more {
		resp.NextCursor = msgs[len(msgs)-1].ID
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) handleAckToDevice(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.keys()
	if err != nil {
		return err
	}
	var req toDeviceAckRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	n, err := svc.AckToDevice(r.Context(), req.ClientID, req.IDs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toDeviceAckResponse{Deleted: n})
	return nil
}
