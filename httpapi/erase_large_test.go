package httpapi_test

import (
	"flag"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/internal/testserver"
	"github.com/unhidra/unhidra/store"
)

var eraseN = flag.Int("erase.n", 0, "TestEraseLargeUser: messages of the user to erase (0 skips the test)")

// TestEraseLargeUser measures erasing a user with many messages (go test
// ./httpapi -run TestEraseLargeUser -erase.n 100000 -v): the messages are
// written straight into the table, then the account is deleted with
// erase. The request works for auth.DeleteBudget and answers pending; the
// rest runs as RunDeletions runs it, batch after batch, each its own short
// transaction.
func TestEraseLargeUser(t *testing.T) {
	if *eraseN <= 0 {
		t.Skip("set -erase.n to run")
	}
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			e := newDeleteEnv(t, engine)
			gen := e.createChannel(t, "erin", "general", "public")
			e.as(t, "carol", "POST", "/api/v1/channels/"+gen.ID+"/join").expect(200, nil)
			ctx := t.Context()
			start := time.Now()
			q := `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?)
				INSERT INTO messages (id, channel_id, seq, client_msg_id, content_hash, sender_type, sender_id, kind, body, created_at)
				SELECT printf('m-%09d', i), ?, i + 2, printf('c%d', i), '', 'user', ?, 'text', 'bulk wombat ' || i, ? + i FROM s`
			if e.n.Store.Engine() == store.EnginePostgres {
				q = `INSERT INTO messages (id, channel_id, seq, client_msg_id, content_hash, sender_type, sender_id, kind, body, created_at)
					SELECT 'm-' || lpad(i::text, 9, '0'), $2, i + 2, 'c' || i, '', 'user', $3, 'text', 'bulk wombat ' || i, $4 + i
					FROM generate_series(1, $1::bigint) i`
			}
			if _, err := e.n.Store.Write().Exec(ctx, q, *eraseN, gen.ID, e.carol.ID, time.Now().Add(-time.Hour).UnixMicro()); err != nil {
				t.Fatal(err)
			}
			if _, err := e.n.Store.Write().Exec(ctx, `UPDATE channels SET last_seq = ? WHERE id = ?`, *eraseN+2, gen.ID); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: wrote %d messages in %v", engine, *eraseN, time.Since(start).Round(time.Millisecond))

			// While the erase runs, erin keeps posting in the channel: how
			// long a send waits says how long a batch holds the channel.
			erin := unhidra.NewContextWithPrincipal(ctx, &unhidra.Principal{UserID: e.erin.ID, Role: unhidra.RoleMember})
			stop, sent := make(chan struct{}), make(chan []time.Duration, 1)
			go func() {
				var waits []time.Duration
				for i := 0; ; i++ {
					select {
					case <-stop:
						sent <- waits
						return
					case <-time.After(50 * time.Millisecond):
					}
					before := time.Now()
					if _, _, err := e.n.Chat.Send(erin, unhidra.SendInput{ChannelID: gen.ID, ClientMsgID: "during-" + strconv.Itoa(i), Body: "still here"}); err != nil {
						t.Error(err)
					}
					waits = append(waits, time.Since(before))
				}
			}()

			admin := unhidra.NewContextWithPrincipal(ctx, &unhidra.Principal{UserID: e.alice.ID, Role: unhidra.RoleAdmin})
			start = time.Now()
			d, err := e.n.Auth.AdminDeleteUser(admin, e.carol.ID, unhidra.DeleteErase)
			if err != nil {
				t.Fatal(err)
			}
			answered := time.Since(start)
			left, _ := e.n.Chat.UserMessageCount(ctx, e.carol.ID)
			t.Logf("%s: AdminDeleteUser answered in %v, pending %v, %d of %d messages erased", engine, answered.Round(time.Millisecond), d.Pending, *eraseN-left, *eraseN)
			// The node's own RunDeletions goes on with it; this loop only
			// waits (and would take over, were it not running).
			for left > 0 {
				if err := e.n.Auth.ResumeDeletions(ctx); err != nil {
					t.Fatal(err)
				}
				time.Sleep(100 * time.Millisecond)
				left, _ = e.n.Chat.UserMessageCount(ctx, e.carol.ID)
			}
			close(stop)
			waits := <-sent
			slices.Sort(waits)
			if len(waits) > 0 {
				t.Logf("%s: %d sends during the erase: median %v, p99 %v, max %v", engine, len(waits),
					waits[len(waits)/2].Round(time.Millisecond), waits[len(waits)*99/100].Round(time.Millisecond), waits[len(waits)-1].Round(time.Millisecond))
			}
			total := time.Since(start)
			t.Logf("%s: erased %d messages in %v (%.0f messages/s)", engine, *eraseN, total.Round(time.Millisecond), float64(*eraseN)/total.Seconds())
			if hits := e.searchHits(t, "erin", "wombat"); hits != 0 {
				t.Fatalf("search finds %d", hits)
			}
		})
	}
}
