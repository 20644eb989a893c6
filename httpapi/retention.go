package httpapi

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/chat"
)

// retentionRoutes are the admin endpoints of retention, legal holds and
// compliance export (docs/api.md "Retention and compliance").
func (s *Server) retentionRoutes() []route {
	return []route{
		{"GET", "/api/v1/admin/channels/{id}/retention", user, s.handleGetRetention, docGetRetention},
		{"PUT", "/api/v1/admin/channels/{id}/retention", user, s.handleSetRetention, docSetRetention},
		{"DELETE", "/api/v1/admin/channels/{id}/retention", user, s.handleResetRetention, docResetRetention},
		{"POST", "/api/v1/admin/retention/sweep", user, s.handleSweepRetention, docSweepRetention},
		{"GET", "/api/v1/admin/legal-holds", user, s.handleListHolds, docListHolds},
		{"PUT", "/api/v1/admin/legal-holds/{kind}/{id}", user, s.handlePlaceHold, docPlaceHold},
		{"DELETE", "/api/v1/admin/legal-holds/{kind}/{id}", user, s.handleReleaseHold, docReleaseHold},
		{"GET", "/api/v1/admin/compliance/export", user, s.handleComplianceExport, docComplianceExport},
	}
}

type retentionResponse struct {
	Days       *int `json:"days,omitempty" doc:"the channel's own retention in days (0: forever); absent when it follows the server's"`
	ServerDays int  `json:"server_days" doc:"the server's --retention-days (0: forever)"`
}

type setRetentionRequest struct {
	Days int `json:"days" doc:"days to keep messages, 0 for forever"`
}

type sweepResponse struct {
	Deleted int `json:"deleted" doc:"messages deleted by this sweep"`
}

type holdsResponse struct {
	Holds []chat.Hold `json:"holds"`
}

type placeHoldRequest struct {
	Reason string `json:"reason,omitempty"`
}

type holdResponse struct {
	Hold *chat.Hold `json:"hold"`
}

var (
	docGetRetention   = opDoc{summary: "A channel's retention (admins)", tag: "admin", resp: retentionResponse{}}
	docSetRetention   = opDoc{summary: "Set how many days a channel keeps its messages, 0 for forever (admins)", tag: "admin", req: setRetentionRequest{}, resp: retentionResponse{}}
	docResetRetention = opDoc{summary: "Make a channel follow the server's retention again (admins)", tag: "admin", resp: retentionResponse{}}
	docSweepRetention = opDoc{summary: "Delete every expired message now, as the periodic sweep does (admins)", tag: "admin", resp: sweepResponse{}}
	docListHolds      = opDoc{summary: "Legal holds (admins)", tag: "admin", resp: holdsResponse{}}
	docPlaceHold      = opDoc{summary: "Put a user (kind user) or a channel (kind channel) on legal hold: retention deletes none of their messages (admins)", tag: "admin", req: placeHoldRequest{}, resp: holdResponse{}}
	docReleaseHold    = opDoc{summary: "Release a legal hold (admins)", tag: "admin"}
	// The export is streamed: not a JSON document but one per line.
	docComplianceExport = opDoc{summary: "Messages of standard channels created in [from, to) as JSON lines (format=jsonl, the default) or CSV (format=csv), oldest first (admins)", tag: "admin",
		query: []param{{"from", "RFC 3339 start (inclusive)"}, {"to", "RFC 3339 end (exclusive); at most 366 days after from"},
			{"channel_id", "one channel only"}, {"format", "jsonl or csv"}}}
)

func (s *Server) writeRetention(w http.ResponseWriter, r *http.Request) error {
	own, server, err := s.cfg.Chat.ChannelRetention(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, retentionResponse{Days: own, ServerDays: server})
	return nil
}

func (s *Server) handleGetRetention(w http.ResponseWriter, r *http.Request) error {
	return s.writeRetention(w, r)
}

func (s *Server) handleSetRetention(w http.ResponseWriter, r *http.Request) error {
	var req setRetentionRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if err := s.cfg.Chat.SetChannelRetention(r.Context(), r.PathValue("id"), &req.Days); err != nil {
		return err
	}
	return s.writeRetention(w, r)
}

func (s *Server) handleResetRetention(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Chat.SetChannelRetention(r.Context(), r.PathValue("id"), nil); err != nil {
		return err
	}
	return s.writeRetention(w, r)
}

func (s *Server) handleSweepRetention(w http.ResponseWriter, r *http.Request) error {
	// Admins only: checked through an admin-only read before the sweep,
	// which itself runs as the server.
	if _, err := s.cfg.Chat.Holds(r.Context()); err != nil {
		return err
	}
	n, err := s.cfg.Chat.SweepRetention(r.Context(), time.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sweepResponse{Deleted: n})
	return nil
}

func (s *Server) handleListHolds(w http.ResponseWriter, r *http.Request) error {
	hs, err := s.cfg.Chat.Holds(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, holdsResponse{Holds: hs})
	return nil
}

func (s *Server) handlePlaceHold(w http.ResponseWriter, r *http.Request) error {
	var req placeHoldRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	h, err := s.cfg.Chat.PlaceHold(r.Context(), r.PathValue("kind"), r.PathValue("id"), req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, holdResponse{Hold: h})
	return nil
}

func (s *Server) handleReleaseHold(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Chat.ReleaseHold(r.Context(), r.PathValue("kind"), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// complianceRecord is one line of a JSON-lines export.
type complianceRecord struct {
	ID           string     `json:"id"`
	ChannelID    string     `json:"channel_id"`
	ChannelName  string     `json:"channel_name"`
	Seq          int64      `json:"seq"`
	SenderType   string     `json:"sender_type"`
	SenderID     string     `json:"sender_id"`
	Kind         string     `json:"kind"`
	Body         string     `json:"body"`
	ThreadRootID string     `json:"thread_root_id,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	EditedAt     *time.Time `json:"edited_at,omitempty"`
}

var complianceCSVHeader = []string{"id", "channel_id", "channel_name", "seq", "sender_type", "sender_id", "kind", "body", "thread_root_id", "created_at", "edited_at"}

func (s *Server) handleComplianceExport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	parse := func(name string) (time.Time, error) {
		t, err := time.Parse(time.RFC3339, q.Get(name))
		if err != nil {
			return time.Time{}, unhidra.Errorf(unhidra.EInvalid, "%s must be an RFC 3339 time", name)
		}
		return t, nil
	}
	from, err := parse("from")
	if err != nil {
		return err
	}
	to, err := parse("to")
	if err != nil {
		return err
	}
	format := q.Get("format")
	switch format {
	case "", "jsonl":
		format = "jsonl"
	case "csv":
	default:
		return unhidra.Errorf(unhidra.EInvalid, "format must be jsonl or csv")
	}
	var enc *json.Encoder
	var cw *csv.Writer
	started := false
	start := func() {
		started = true
		name := "unhidra-export-" + from.UTC().Format("20060102") + "-" + to.UTC().Format("20060102")
		if format == "csv" {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
			cw = csv.NewWriter(w)
			cw.Write(complianceCSVHeader)
		} else {
			w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.jsonl"`)
			enc = json.NewEncoder(w)
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
	}
	err = s.cfg.Chat.ComplianceExport(r.Context(), from, to, q.Get("channel_id"), func(rec chat.ComplianceRecord) error {
		if !started {
			start()
		}
		m := rec.Message
		if enc != nil {
			return enc.Encode(complianceRecord{ID: m.ID, ChannelID: m.ChannelID, ChannelName: rec.ChannelName, Seq: m.Seq,
				SenderType: m.Sender.Type, SenderID: m.Sender.ID, Kind: m.Kind, Body: m.Body, ThreadRootID: m.ThreadRootID,
				CreatedAt: m.CreatedAt, EditedAt: m.EditedAt})
		}
		edited := ""
		if m.EditedAt != nil {
			edited = m.EditedAt.Format(time.RFC3339Nano)
		}
		if err := cw.Write([]string{m.ID, m.ChannelID, csvCell(rec.ChannelName), strconv.FormatInt(m.Seq, 10), m.Sender.Type, m.Sender.ID,
			m.Kind, csvCell(m.Body), m.ThreadRootID, m.CreatedAt.Format(time.RFC3339Nano), edited}); err != nil {
			return err
		}
		return cw.Error()
	})
	if !started {
		if err != nil {
			return err // nothing written yet: a proper error answer
		}
		start()
	}
	if cw != nil {
		cw.Flush()
	}
	if err != nil {
		// Headers are gone: the client sees a truncated body (and the
		// access log the error). Cut the connection so it cannot mistake
		// it for a complete export.
		s.log.Warn("compliance export ended early", "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// csvCell neutralises a cell a spreadsheet would run as a formula, the
// usual defence against CSV injection: such a cell gets a leading quote.
func csvCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
