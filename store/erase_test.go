package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/testenv"
)

// TestEraseContentMigration: a database written before migration 0003
// (event frames carrying message bodies, deleted messages' edit history)
// comes out of it with no content in the event log and nothing of deleted
// messages but their tombstones.
func TestEraseContentMigration(t *testing.T) {
	for _, engine := range []string{EngineSQLite, EnginePostgres} {
		t.Run(engine, func(t *testing.T) {
			url := testenv.SQLiteURL(t)
			if engine == EnginePostgres {
				url = testenv.PostgresURL(t)
			}
			ctx := t.Context()
			db, err := Open(ctx, url, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			all := db.migrations
			db.migrations = all[:2]
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			w := db.Write()
			for _, q := range []string{
				`INSERT INTO users (id, username, username_lower, role, password_hash, created_at, updated_at) VALUES ('u1', 'alice', 'alice', 'member', 'x', 1, 1)`,
				`INSERT INTO channels (id, name, name_lower, kind, created_by, created_at, updated_at, last_seq) VALUES ('c1', 'one', 'one', 'public', 'u1', 1, 1, 5)`,
				`INSERT INTO messages (id, channel_id, seq, client_msg_id, content_hash, sender_type, sender_id, kind, body, created_at) VALUES ('m1', 'c1', 1, 'a', 'h1', 'user', 'u1', 'text', 'kept words', 1)`,
				`INSERT INTO messages (id, channel_id, seq, client_msg_id, content_hash, sender_type, sender_id, kind, body, created_at, deleted_at) VALUES ('m2', 'c1', 2, 'b', 'h2', 'user', 'u1', 'text', '', 1, 2)`,
				`INSERT INTO message_edits (message_id, edited_at, editor_id, old_body) VALUES ('m2', 1, 'u1', 'gone words')`,
				`INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES ('m2', 'u1', 'x', 1)`,
				`INSERT INTO channel_events (channel_id, seq, type, frame, created_at) VALUES
					('c1', 1, 'message', '{"type":"message","channel_id":"c1","seq":1,"message":{"id":"m1","seq":1,"body":"kept words","mentions":["u1"],"attachments":[]}}', 1),
					('c1', 2, 'message', '{"type":"message","channel_id":"c1","seq":2,"message":{"id":"m2","seq":2,"body":"gone words"}}', 1),
					('c1', 3, 'reaction', '{"type":"reaction","channel_id":"c1","message_id":"m2","emoji":"x","user_id":"u1","added":true,"seq":3}', 1),
					('c1', 4, 'message_deleted', '{"type":"message_deleted","channel_id":"c1","message_id":"m2","seq":4}', 1),
					('c1', 5, 'member_left', '{"type":"member_left","channel_id":"c1","user_id":"u1","seq":5}', 1)`,
			} {
				if _, err := w.h.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			db.migrations = all
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			rows, err := db.Read().Query(ctx, `SELECT seq, COALESCE(message_id, ''), COALESCE(user_id, ''), frame FROM channel_events ORDER BY seq`)
			if err != nil {
				t.Fatal(err)
			}
			want := map[int64][2]string{1: {"m1", ""}, 2: {"m2", ""}, 3: {"m2", "u1"}, 4: {"m2", ""}, 5: {"", "u1"}}
			for rows.Next() {
				var seq int64
				var msg, user, frame string
				if err := rows.Scan(&seq, &msg, &user, &frame); err != nil {
					t.Fatal(err)
				}
				if want[seq] != [2]string{msg, user} {
					t.Errorf("event %d: message_id %q user_id %q, want %q", seq, msg, user, want[seq])
				}
				if strings.Contains(frame, "words") || strings.Contains(frame, `"mentions"`) {
					t.Errorf("event %d still carries content: %s", seq, frame)
				}
			}
			rows.Close()
			var n int
			db.Read().QueryRow(ctx, `SELECT COUNT(*) FROM message_edits`).Scan(&n)
			var m int
			db.Read().QueryRow(ctx, `SELECT COUNT(*) FROM reactions`).Scan(&m)
			var hash string
			db.Read().QueryRow(ctx, `SELECT content_hash FROM messages WHERE id = 'm2'`).Scan(&hash)
			if n != 0 || m != 0 || hash != "" {
				t.Errorf("deleted message keeps %d edits, %d reactions, hash %q", n, m, hash)
			}
		})
	}
}

// TestEraserTruncatesTheLog: after a commit that erased content, the
// write-ahead log is checkpointed and truncated within the erase delay, so
// the erased text is in neither file; content that was not erased still is.
func TestEraserTruncatesTheLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "unhidra.db")
	ctx := t.Context()
	db, err := Open(ctx, path, Options{Migrate: true, EraseDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`INSERT INTO invites (code, max_uses, created_at) VALUES ('zqxerasedmarker', 1, 1)`,
		`INSERT INTO invites (code, max_uses, created_at) VALUES ('zqxkeptmarker', 1, 1)`,
	} {
		if err := db.InTx(ctx, func(c Conn) error { _, err := c.Exec(ctx, q); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if !testenv.SQLiteFilesContain(t, path, "zqxerasedmarker") {
		t.Fatal("the marker is not on disk to begin with: the scan proves nothing")
	}
	before := db.eraser.checkpoints.Load()
	if err := db.InTx(ctx, func(c Conn) error {
		c.Erased()
		_, err := c.Exec(ctx, `DELETE FROM invites WHERE code = 'zqxerasedmarker'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for db.eraser.checkpoints.Load() == before || testenv.SQLiteFilesContain(t, path, "zqxerasedmarker") {
		if time.Now().After(deadline) {
			t.Fatalf("erased text still on disk (checkpoints %d)", db.eraser.checkpoints.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !testenv.SQLiteFilesContain(t, path, "zqxkeptmarker") {
		t.Fatal("content that was not erased is gone too")
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Fatalf("write-ahead log is %d bytes after the truncating checkpoint", fi.Size())
	}
}
