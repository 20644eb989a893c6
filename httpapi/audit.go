package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
)

// auditRoutes are the audit log's endpoints of API.md "Administration".
func (s *Server) auditRoutes() []route {
	return []route{
		{"GET", "/api/v1/admin/audit", user, s.handleAuditList, docAuditList},
		{"GET", "/api/v1/admin/audit/verify", user, s.handleAuditVerify, docAuditVerify},
		{"GET", "/api/v1/admin/audit/checkpoints", user, s.handleAuditCheckpoints, docAuditCheckpoints},
		{"GET", "/api/v1/admin/audit/prunes", user, s.handleAuditPrunes, docAuditPrunes},
	}
}

var (
	docAuditList = opDoc{summary: "Audit log entries in ascending seq (admins); format=jsonl streams JSON lines (application/x-ndjson)", tag: "admin",
		resp: auditEntriesResponse{}, query: []param{
			{"after", "exclusive lower seq bound (default 0)"}, limitParam,
			{"actor", "only entries of this actor id"}, {"action", "only entries of this action"},
			{"since", "RFC 3339 time: only entries at or after it"}, {"until", "RFC 3339 time: only entries before it"},
			{"format", "json (default) or jsonl"}}}
	docAuditVerify      = opDoc{summary: "Walk the whole audit log and check its hash chain and signed checkpoints (admins)", tag: "admin", resp: audit.Report{}}
	docAuditCheckpoints = opDoc{summary: "The signed checkpoints of the audit log, for export (admins)", tag: "admin", resp: auditCheckpointsResponse{},
		query: []param{{"after", "exclusive lower seq bound"}, limitParam}}
	docAuditPrunes = opDoc{summary: "The signed anchors of what audit retention removed, oldest first; the log starts after the newest (admins)", tag: "admin",
		resp: auditPrunesResponse{}}
)

type auditEntriesResponse struct {
	Entries []*audit.Entry `json:"entries"`
	HasMore bool           `json:"has_more"`
}

type auditCheckpointsResponse struct {
	Checkpoints []*audit.Checkpoint `json:"checkpoints"`
}

type auditPrunesResponse struct {
	Prunes []*audit.PruneAnchor `json:"prunes"`
}

func (s *Server) auditService() (*audit.Service, error) {
	if s.cfg.Audit == nil {
		return nil, unhidra.Errorf(unhidra.EUnavailable, "the audit log is not available on this server")
	}
	return s.cfg.Audit, nil
}

func queryAfter(r *http.Request) (int64, error) {
	v := r.URL.Query().Get("after")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, unhidra.Errorf(unhidra.EInvalid, "after must be a whole number, 0 or more")
	}
	return n, nil
}

func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, unhidra.Errorf(unhidra.EInvalid, "%s must be an RFC 3339 time like 2026-01-02T15:04:05Z", name)
	}
	return t, nil
}

func (s *Server) handleAuditList(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.auditService()
	if err != nil {
		return err
	}
	q := audit.Query{ActorID: r.URL.Query().Get("actor"), Action: r.URL.Query().Get("action")}
	if q.After, err = queryAfter(r); err != nil {
		return err
	}
	if q.Limit, err = queryLimit(r); err != nil {
		return err
	}
	if q.Since, err = queryTime(r, "since"); err != nil {
		return err
	}
	if q.Until, err = queryTime(r, "until"); err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "jsonl" {
		return unhidra.Errorf(unhidra.EInvalid, "format must be json or jsonl")
	}
	limit := q.Limit
	q.Limit++ // one more tells whether there is more
	entries, err := svc.List(r.Context(), q)
	if err != nil {
		return err
	}
	more := len(entries) > limit
	if more {
		entries = entries[:limit]
	}
	if format == "jsonl" {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		enc := json.NewEncoder(w)
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				return nil // the client went away; the status is sent
			}
		}
		return nil
	}
	writeJSON(w, http.StatusOK, auditEntriesResponse{Entries: orEmpty(entries), HasMore: more})
	return nil
}

func (s *Server) handleAuditVerify(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.auditService()
	if err != nil {
		return err
	}
	rep, err := svc.Verify(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) handleAuditCheckpoints(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.auditService()
	if err != nil {
		return err
	}
	after, err := queryAfter(r)
	if err != nil {
		return err
	}
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	cps, err := svc.Checkpoints(r.Context(), after, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, auditCheckpointsResponse{Checkpoints: orEmpty(cps)})
	return nil
}

func (s *Server) handleAuditPrunes(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.auditService()
	if err != nil {
		return err
	}
	as, err := svc.Anchors(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, auditPrunesResponse{Prunes: orEmpty(as)})
	return nil
}
