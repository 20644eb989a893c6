package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/internal/testserver"
)

// TestRetention: expired messages are deleted for real (content gone from
// the rows, the search index and, on SQLite, the files), a channel's own
// retention and legal holds on users and channels win over the server's,
// releasing a hold lets retention proceed, a compliance export lists what
// is left, and everything here is refused to a member.
func TestRetention(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			cfg := testserver.Config(t, engine)
			cfg.RetentionDays = 30
			n := testserver.Start(t, cfg)
			bootstrapAdmin(t, n, "alice", adminPW)
			bobUser := register(t, n, "bob", bobPW)
			admin := login(t, n, "alice", adminPW).AccessToken
			bob := login(t, n, "bob", bobPW).AccessToken

			channel := func(name string) string {
				var out struct{ Channel struct{ ID string } }
				newCall(t, n, "POST", "/api/v1/channels").bearer(admin).json(map[string]any{"name": name, "kind": "public"}).expect(201, &out)
				newCall(t, n, "POST", "/api/v1/channels/"+out.Channel.ID+"/join").bearer(bob).expect(200, nil)
				return out.Channel.ID
			}
			sent := 0
			post := func(tok, ch, body string) string {
				var out struct{ Message struct{ ID string } }
				sent++
				newCall(t, n, "POST", "/api/v1/channels/"+ch+"/messages").bearer(tok).json(map[string]any{"body": body, "client_msg_id": "m" + strconv.Itoa(sent)}).expect(201, &out)
				return out.Message.ID
			}
			general, kept, held := channel("general"), channel("kept"), channel("held")
			doomed := post(bob, general, "doomed zebra words")
			post(admin, general, "alice is on hold")
			post(bob, kept, "kept forever")
			heldMsg := post(bob, held, "held for the lawyers")

			// A member may do none of it.
			newCall(t, n, "PUT", "/api/v1/admin/channels/"+kept+"/retention").bearer(bob).json(map[string]any{"days": 0}).expectError(403, "permission_denied")
			newCall(t, n, "GET", "/api/v1/admin/channels/"+kept+"/retention").bearer(bob).expectError(403, "permission_denied")
			newCall(t, n, "PUT", "/api/v1/admin/legal-holds/user/"+bobUser.ID).bearer(bob).json(map[string]any{}).expectError(403, "permission_denied")
			newCall(t, n, "GET", "/api/v1/admin/legal-holds").bearer(bob).expectError(403, "permission_denied")
			newCall(t, n, "POST", "/api/v1/admin/retention/sweep").bearer(bob).expectError(403, "permission_denied")
			newCall(t, n, "GET", "/api/v1/admin/compliance/export?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z").bearer(bob).expectError(403, "permission_denied")
			// Bad input changes nothing.
			newCall(t, n, "PUT", "/api/v1/admin/channels/"+kept+"/retention").bearer(admin).json(map[string]any{"days": -1}).expectError(400, "invalid_argument")
			newCall(t, n, "PUT", "/api/v1/admin/legal-holds/team/"+kept).bearer(admin).json(map[string]any{}).expectError(400, "invalid_argument")
			newCall(t, n, "PUT", "/api/v1/admin/legal-holds/user/"+kept).bearer(admin).json(map[string]any{}).expectError(404, "not_found")
			newCall(t, n, "DELETE", "/api/v1/admin/legal-holds/channel/"+kept).bearer(admin).expectError(404, "not_found")

			var ret struct {
				Days       *int
				ServerDays int `json:"server_days"`
			}
			newCall(t, n, "PUT", "/api/v1/admin/channels/"+kept+"/retention").bearer(admin).json(map[string]any{"days": 0}).expect(200, &ret)
			if ret.Days == nil || *ret.Days != 0 || ret.ServerDays != 30 {
				t.Fatalf("retention of kept: %+v", ret)
			}
			admins := login(t, n, "alice", adminPW).User
			newCall(t, n, "PUT", "/api/v1/admin/legal-holds/user/"+admins.ID).bearer(admin).json(map[string]any{"reason": "case 7"}).expect(200, nil)
			newCall(t, n, "PUT", "/api/v1/admin/legal-holds/channel/"+held).bearer(admin).json(map[string]any{}).expect(200, nil)
			var holds struct {
				Holds []struct{ Kind, TargetID string }
			}
			newCall(t, n, "GET", "/api/v1/admin/legal-holds").bearer(admin).expect(200, &holds)
			if len(holds.Holds) != 2 {
				t.Fatalf("holds %+v", holds)
			}

			// Nothing is old enough yet.
			var swept struct{ Deleted int }
			newCall(t, n, "POST", "/api/v1/admin/retention/sweep").bearer(admin).expect(200, &swept)
			if swept.Deleted != 0 {
				t.Fatalf("a sweep now deleted %d", swept.Deleted)
			}
			// A month and a day later: only bob's message in general goes.
			later := time.Now().Add(31 * 24 * time.Hour)
			if got, err := n.Chat.SweepRetention(t.Context(), later); err != nil || got != 1 {
				t.Fatalf("sweep: %d, %v", got, err)
			}
			var m struct{ Message struct{ Deleted bool } }
			newCall(t, n, "GET", "/api/v1/messages/"+doomed).bearer(admin).expect(200, &m)
			if !m.Message.Deleted {
				t.Fatal("the expired message is still there")
			}
			var found struct{ Messages []any }
			newCall(t, n, "GET", "/api/v1/search?q=zebra").bearer(admin).expect(200, &found)
			if len(found.Messages) != 0 {
				t.Fatalf("search still finds the expired message: %+v", found)
			}
			if engine == "sqlite" {
				path := filepath.Join(n.Config.DataDir, "unhidra.db")
				for deadline := time.Now().Add(20 * time.Second); testenv.SQLiteFilesContain(t, path, "doomed zebra"); time.Sleep(50 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("the expired text is still in the database files")
					}
				}
				if !testenv.SQLiteFilesContain(t, path, "kept forever") {
					t.Fatal("the scan does not see text that was kept: it proves nothing")
				}
			}

			// The deletion, the hold and the retention change are audited
			// (ids and counts only), once the chain has taken them in.
			for _, action := range []string{"chat.retention_delete", "admin.hold_place", "admin.retention_set"} {
				for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
					var log struct{ Entries []map[string]any }
					newCall(t, n, "GET", "/api/v1/admin/audit?action="+action).bearer(admin).expect(200, &log)
					if len(log.Entries) > 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("no %s entry in the audit log", action)
					}
				}
			}

			// The export holds what is left, oldest first, as JSON lines
			// and as CSV.
			q := url.Values{"from": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, "to": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}
			r := newCall(t, n, "GET", "/api/v1/admin/compliance/export?"+q.Encode()).bearer(admin).do()
			if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/jsonl") {
				t.Fatalf("export: %d %s", r.Status, r.Body)
			}
			var bodies []string
			sc := bufio.NewScanner(bytes.NewReader(r.Body))
			for sc.Scan() {
				var rec struct {
					Body        string
					ChannelName string `json:"channel_name"`
				}
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Fatalf("export line %q: %v", sc.Text(), err)
				}
				bodies = append(bodies, rec.ChannelName+": "+rec.Body)
			}
			want := []string{"general: alice is on hold", "kept: kept forever", "held: held for the lawyers"}
			if strings.Join(bodies, "|") != strings.Join(want, "|") {
				t.Fatalf("export %q, want %q", bodies, want)
			}
			q.Set("format", "csv")
			q.Set("channel_id", kept)
			r = newCall(t, n, "GET", "/api/v1/admin/compliance/export?"+q.Encode()).bearer(admin).do()
			rows, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
			if r.Status != 200 || err != nil || len(rows) != 2 || rows[0][0] != "id" || rows[1][7] != "kept forever" {
				t.Fatalf("csv export: %d %v %q", r.Status, err, rows)
			}
			q.Set("format", "xml")
			newCall(t, n, "GET", "/api/v1/admin/compliance/export?"+q.Encode()).bearer(admin).expectError(400, "invalid_argument")
			q.Set("format", "csv")
			q.Set("to", "2000-01-01T00:00:00Z")
			newCall(t, n, "GET", "/api/v1/admin/compliance/export?"+q.Encode()).bearer(admin).expectError(400, "invalid_argument")

			// Released, the held channel's message expires too.
			newCall(t, n, "DELETE", "/api/v1/admin/legal-holds/channel/"+held).bearer(admin).expect(204, nil)
			if got, err := n.Chat.SweepRetention(t.Context(), later); err != nil || got != 1 {
				t.Fatalf("sweep after release: %d, %v", got, err)
			}
			newCall(t, n, "GET", "/api/v1/messages/"+heldMsg).bearer(admin).expect(200, &m)
			if !m.Message.Deleted {
				t.Fatal("the message of a released channel survived")
			}
			// Back to the server's retention, kept's message expires.
			ret.Days = nil // decoding leaves an absent member as it was
			newCall(t, n, "DELETE", "/api/v1/admin/channels/"+kept+"/retention").bearer(admin).expect(200, &ret)
			if ret.Days != nil {
				t.Fatalf("reset retention: %+v", ret)
			}
			if got, err := n.Chat.SweepRetention(t.Context(), later); err != nil || got != 1 {
				t.Fatalf("sweep after reset: %d, %v", got, err)
			}
		})
	}
}
