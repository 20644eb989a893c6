package gateway_test

import (
	"bytes"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/unhidra/unhidra/config"
	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/internal/testserver"
)

// TestDeleteMeansDelete: after an edit, nothing of the earlier text
// reaches anyone who may not read the edit history; after a delete,
// nothing of the message's text (any version) is returned by any endpoint
// or frame — events from 0, message lists, the message, its thread, its
// edit history, search, a socket resuming from 0 (from the gateway's
// memory or the store), a member added afterwards — and on SQLite the
// database file and its write-ahead log no longer hold it.
func TestDeleteMeansDelete(t *testing.T) {
	const (
		first  = "zqxfirstversion"
		second = "zqxsecondversion"
		kept   = "zqxkeptreply"
	)
	eachEngine(t, func(t *testing.T, engine string) {
		n := startNode(t, engine, func(c *config.Config) { c.EraseDelay = 50 * time.Millisecond })
		a, b, d := newAccount(t, n, false), newAccount(t, n, false), newAccount(t, n, false)
		ch := newChannel(t, n, a, b)
		// a's socket stays connected throughout, so the node keeps the
		// channel's recent events in memory (its replay ring): every resume
		// below is served from there unless the node forgets what an edit or
		// delete superseded.
		wa := dial(t, n, a.Token)
		ready(wa)

		var mr struct {
			Message struct {
				ID  string `json:"id"`
				Seq int64  `json:"seq"`
			} `json:"message"`
		}
		api(t, n, "POST", "/api/v1/channels/"+ch+"/messages", a.Token, map[string]any{"client_msg_id": "r1", "body": "root " + first + " @" + b.Name}, 201, &mr)
		root := mr.Message.ID
		// The ring holds what the node delivered since a's socket
		// subscribed, which is from just before the root on.
		from := mr.Message.Seq - 1
		api(t, n, "POST", "/api/v1/channels/"+ch+"/messages", b.Token, map[string]any{"client_msg_id": "t1", "body": "reply " + kept, "thread_root_id": root}, 201, nil)
		api(t, n, "PUT", "/api/v1/messages/"+root+"/reactions/"+url.PathEscape("👍"), b.Token, nil, 200, nil)
		api(t, n, "PUT", "/api/v1/messages/"+root+"/pin", a.Token, nil, 200, nil)
		api(t, n, "PATCH", "/api/v1/messages/"+root, a.Token, map[string]any{"body": "root " + second}, 200, nil)

		// After the edit: b may not read the edit history, so b meets only
		// the current version, over REST and on a socket resuming from 0.
		api(t, n, "GET", "/api/v1/messages/"+root+"/history", b.Token, nil, 403, nil)
		evs := get(t, n, b.Token, "/api/v1/channels/"+ch+"/events?after=0")
		if !bytes.Contains(evs, []byte(second)) || bytes.Contains(evs, []byte(first)) {
			t.Fatalf("events after the edit, as a plain member: %s", evs)
		}
		for _, pos := range []int64{0, from} {
			if rep := resumeFrom(t, n, b.Token, ch, pos); bytes.Contains(rep, []byte(first)) || !bytes.Contains(rep, []byte(second)) {
				t.Fatalf("replay from %d after the edit: %s", pos, rep)
			}
		}
		if h := get(t, n, a.Token, "/api/v1/messages/"+root+"/history"); !bytes.Contains(h, []byte(first)) {
			t.Fatalf("the author's edit history lost the first version: %s", h)
		}

		api(t, n, "DELETE", "/api/v1/messages/"+root, a.Token, nil, 204, nil)
		api(t, n, "PUT", "/api/v1/channels/"+ch+"/members/"+d.ID, a.Token, map[string]string{"role": "member"}, 201, nil)

		gone := func(what string, b []byte) {
			t.Helper()
			for _, s := range []string{first, second} {
				if bytes.Contains(b, []byte(s)) {
					t.Fatalf("%s still holds %q: %s", what, s, b)
				}
			}
		}
		for _, viewer := range []account{a, b, d} {
			gone("events from 0", get(t, n, viewer.Token, "/api/v1/channels/"+ch+"/events?after=0"))
			gone("message list", get(t, n, viewer.Token, "/api/v1/channels/"+ch+"/messages"))
			gone("thread", get(t, n, viewer.Token, "/api/v1/messages/"+root+"/thread"))
			gone("pins", get(t, n, viewer.Token, "/api/v1/channels/"+ch+"/pins"))
			msg := get(t, n, viewer.Token, "/api/v1/messages/"+root)
			gone("the message", msg)
			if !bytes.Contains(msg, []byte(`"deleted":true`)) || bytes.Contains(msg, []byte("👍")) {
				t.Fatalf("tombstone %s", msg)
			}
			for _, q := range []string{first, second} {
				gone("search", get(t, n, viewer.Token, "/api/v1/search?q="+q))
			}
			gone("resume from 0", resumeFrom(t, n, viewer.Token, ch, 0))
			gone("resume from the node's memory", resumeFrom(t, n, viewer.Token, ch, from))
		}
		if h := get(t, n, a.Token, "/api/v1/messages/"+root+"/history"); !bytes.Contains(h, []byte(`"edits":[]`)) {
			t.Fatalf("edit history after the delete: %s", h)
		}
		if s := get(t, n, b.Token, "/api/v1/search?q="+kept); !bytes.Contains(s, []byte(kept)) {
			t.Fatalf("search lost a message that was not deleted: %s", s)
		}

		if engine == "sqlite" {
			path := filepath.Join(n.Config.DataDir, "unhidra.db")
			deadline := time.Now().Add(20 * time.Second)
			for testenv.SQLiteFilesContain(t, path, first) || testenv.SQLiteFilesContain(t, path, second) {
				if time.Now().After(deadline) {
					t.Fatalf("deleted text still in %s or its WAL", path)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if !testenv.SQLiteFilesContain(t, path, kept) {
				t.Fatal("the scan does not see text that was not deleted: it proves nothing")
			}
		}
	})
}

func get(t *testing.T, n *testserver.Node, token, path string) []byte {
	t.Helper()
	var raw jsonRaw
	api(t, n, "GET", path, token, nil, 200, &raw)
	return raw
}

// jsonRaw keeps a response body as it came.
type jsonRaw []byte

func (r *jsonRaw) UnmarshalJSON(b []byte) error { *r = append((*r)[:0], b...); return nil }

// resumeFrom opens a socket that resumes ch from pos and returns every
// frame of the replay.
func resumeFrom(t *testing.T, n *testserver.Node, token, ch string, pos int64) []byte {
	t.Helper()
	w := dial(t, n, token)
	w.expect("hello")
	w.send(map[string]any{"type": "resume", "positions": map[string]int64{ch: pos}})
	out := collectReplay(t, w, ch)
	w.c.CloseNow()
	return out
}

// collectReplay reads frames until ch's resumed frame and returns them.
func collectReplay(t *testing.T, w *wsClient, ch string) []byte {
	t.Helper()
	var out []byte
	for {
		f := w.next()
		out = append(append(out, f.raw...), '\n')
		if f.Type == "resumed" && f.ChannelID == ch {
			return out
		}
	}
}
