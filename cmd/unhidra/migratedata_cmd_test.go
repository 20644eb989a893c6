package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/internal/testserver"
	"github.com/unhidra/unhidra/ratelimit"
	"github.com/unhidra/unhidra/server"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
)

// migrateUser signs up (when register is set) and logs in on the node at url.
func migrateUser(t *testing.T, url, username, password string, register bool) *client.Client {
	t.Helper()
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	if register {
		if _, err := c.Register(t.Context(), client.RegisterInput{Username: username, Password: password}); err != nil {
			t.Fatalf("register %s: %v", username, err)
		}
	}
	if _, err := c.Login(t.Context(), username, password); err != nil {
		t.Fatalf("login %s: %v", username, err)
	}
	return c
}

// apiJSON calls the REST API as c and decodes the answer into out.
func apiJSON(t *testing.T, c *client.Client, method, url string, in, out any) {
	t.Helper()
	tok, err := c.AccessToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	if in != nil {
		json.NewEncoder(&body).Encode(in)
	}
	req, _ := http.NewRequestWithContext(t.Context(), method, url, &body)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: status %d", method, url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// snapshot is what users see of an install, read over REST.
type snapshot struct {
	AliceChannels, BobChannels []*unhidra.Channel
	Messages                   map[string][]*unhidra.Message
	Events                     map[string][]unhidra.Event
	Members                    map[string][]*unhidra.Member
	Thread                     *client.Thread
	History                    []client.Edit
	Search                     *client.SearchResult
	Pins                       []*unhidra.Message
	Invites                    json.RawMessage
	BobProfile                 *unhidra.User
}

func takeSnapshot(t *testing.T, url string, admin, alice, bob *client.Client, rootID, editedID string) snapshot {
	t.Helper()
	ctx := t.Context()
	s := snapshot{Messages: map[string][]*unhidra.Message{}, Events: map[string][]unhidra.Event{}, Members: map[string][]*unhidra.Member{}}
	var err error
	if s.AliceChannels, err = alice.Channels(ctx); err != nil {
		t.Fatal(err)
	}
	if s.BobChannels, err = bob.Channels(ctx); err != nil {
		t.Fatal(err)
	}
	for _, ch := range s.AliceChannels {
		page, err := alice.Messages(ctx, ch.ID, client.MessagesOptions{FromStart: true, Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		s.Messages[ch.ID] = page.Messages
		if s.Events[ch.ID], err = alice.Events(ctx, ch.ID, 0, 1000); err != nil {
			t.Fatal(err)
		}
		mp, err := alice.Members(ctx, ch.ID, client.ListOptions{Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		s.Members[ch.ID] = mp.Members
		if ch.Name == "general" {
			if s.Pins, err = alice.Pins(ctx, ch.ID, 50); err != nil {
				t.Fatal(err)
			}
		}
	}
	if s.Thread, err = alice.Thread(ctx, rootID, client.MessagesOptions{FromStart: true}); err != nil {
		t.Fatal(err)
	}
	if s.History, err = alice.History(ctx, editedID); err != nil {
		t.Fatal(err)
	}
	if s.Search, err = bob.Search(ctx, "deploy", client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	apiJSON(t, admin, "GET", url+"/api/v1/invites", nil, &s.Invites)
	if s.BobProfile, err = alice.UserByUsername(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAdminMigrateDataToPostgres(t *testing.T) {
	ctx := t.Context()
	cfg := testserver.Config(t, "sqlite")
	const (
		carolPW = "a third good passphrase"
		rootPW  = "the admin's passphrase"
	)
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"admin", "create-admin", "--data", cfg.DataDir, "--username", "root"}, strings.NewReader(rootPW+"\n"), &out, &errb, envOf(nil)); code != 1 ||
		!strings.Contains(errb.String(), "no database") {
		t.Fatalf("create-admin before migrate: %d %s", code, errb.String())
	}
	errb.Reset()
	if code := run(ctx, []string{"admin", "migrate", "--data", cfg.DataDir}, nil, &out, &errb, envOf(nil)); code != 0 {
		t.Fatalf("migrate: %d %s", code, errb.String())
	}
	if code := run(ctx, []string{"admin", "create-admin", "--data", cfg.DataDir, "--username", "root"}, strings.NewReader(rootPW+"\n"), &out, &errb, envOf(nil)); code != 0 {
		t.Fatalf("create-admin: %d %s", code, errb.String())
	}
	// A login limit on, so that rate_limits has rows to copy; slow enough
	// that they outlive the test (a bucket full again is swept).
	cfg.RateLogin = ratelimit.Spec{N: 50, Per: time.Hour}
	n := testserver.Start(t, cfg)
	rootUser := migrateUser(t, n.URL, "root", rootPW, false)
	alice := migrateUser(t, n.URL, "alice", alicePW, true)
	bob := migrateUser(t, n.URL, "bob", bobPW, true)
	carol := migrateUser(t, n.URL, "carol", carolPW, true)
	displayName := "Bob Builder"
	if _, err := bob.UpdateMe(ctx, client.ProfileUpdate{DisplayName: &displayName}); err != nil {
		t.Fatal(err)
	}
	bobUser, err := bob.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	general, err := alice.CreateChannel(ctx, client.CreateChannelInput{Name: "general", Topic: "everything"})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := alice.CreateChannel(ctx, client.CreateChannelInput{Name: "secret", Kind: unhidra.ChannelPrivate})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := alice.AddMember(ctx, secret.ID, bobUser.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Join(ctx, general.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.Join(ctx, general.ID); err != nil {
		t.Fatal(err)
	}
	if err := carol.Leave(ctx, general.ID); err != nil {
		t.Fatal(err)
	}
	dm, _, err := alice.CreateDM(ctx, []string{bobUser.ID}, false)
	if err != nil {
		t.Fatal(err)
	}

	send := func(c *client.Client, ch, body string) *unhidra.Message {
		t.Helper()
		m, err := c.SendText(ctx, ch, body)
		if err != nil {
			t.Fatalf("send %q: %v", body, err)
		}
		return m
	}
	root := send(alice, general.ID, "the deploy is green @bob")
	send(bob, general.ID, "great, thanks")
	edited := send(alice, general.ID, "second deploy at noon")
	gone := send(alice, general.ID, "oops wrong channel deploy password hunter2")
	pinned := send(bob, general.ID, "runbook: restart the pump")
	reply, err := bob.Send(ctx, &unhidra.SendInput{ChannelID: general.ID, Body: "thread reply about the deploy", ThreadRootID: root.ID})
	if err != nil {
		t.Fatal(err)
	}
	send(alice, secret.ID, "secret deploy plans")
	send(bob, dm.ID, "psst, a direct deploy")
	if _, err := alice.Edit(ctx, edited.ID, client.MessageEdit{Body: "second deploy moved to two"}); err != nil {
		t.Fatal(err)
	}
	if err := bob.React(ctx, root.ID, "👍"); err != nil {
		t.Fatal(err)
	}
	if err := alice.React(ctx, root.ID, "🎉"); err != nil {
		t.Fatal(err)
	}
	if err := bob.React(ctx, gone.ID, "👀"); err != nil {
		t.Fatal(err)
	}
	if err := alice.Delete(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := alice.Pin(ctx, pinned.ID); err != nil {
		t.Fatal(err)
	}
	if err := alice.Follow(ctx, root.ID); err != nil {
		t.Fatal(err)
	}
	muted, notify := true, "mentions"
	if err := bob.SetPrefs(ctx, general.ID, client.Prefs{Muted: &muted, Notify: &notify}); err != nil {
		t.Fatal(err)
	}
	if err := bob.MarkRead(ctx, general.ID, reply.Seq-1); err != nil {
		t.Fatal(err)
	}
	var inv struct{ Invite unhidra.Invite }
	apiJSON(t, rootUser, "POST", n.URL+"/api/v1/invites", map[string]int{"max_uses": 3}, &inv)
	if _, err := rootUser.PlaceHold(ctx, "channel", secret.ID, "case 7"); err != nil {
		t.Fatal(err)
	}
	// An identity from single sign-on, as a provider's first sign-in
	// leaves it (the sign-in flow itself needs a provider: sso tests).
	if _, err := n.Store.Write().Exec(ctx, `INSERT INTO identities (provider, subject, user_id, provisioned, created_at) VALUES ('corp', 'sub-1', ?, 0, 1)`, bobUser.ID); err != nil {
		t.Fatal(err)
	}
	// An encrypted reaction, as a member of an encrypted channel leaves it
	// (a real one needs an envelope: httpapi tests); any message will do
	// for the copy.
	if _, err := n.Store.Write().Exec(ctx, `INSERT INTO encrypted_reactions (id, message_id, channel_id, user_id, ciphertext, seq, created_at)
		VALUES ('er-1', ?, ?, ?, 'AAEC', 1, 1)`, reply.ID, general.ID, bobUser.ID); err != nil {
		t.Fatal(err)
	}
	// A passkey, as a registration leaves it (the ceremony itself needs an
	// authenticator: passkey tests).
	if _, err := n.Store.Write().Exec(ctx, `INSERT INTO passkeys (id, user_id, credential_id, name, backup_eligible, sign_count, credential, created_at)
		VALUES ('pk-1', ?, ?, 'Laptop', 0, 3, '{"id":"AQID"}', 1)`, bobUser.ID, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	// Two-factor (a secret, recovery codes and a login ticket), a personal
	// access token and a break-glass account, so that those tables copy too.
	dave := migrateUser(t, n.URL, "dave", carolPW, true)
	enr, err := dave.EnrolTOTP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	daveCode, _ := totp.GenerateCode(enr.Secret, time.Now())
	if _, err := dave.ConfirmTOTP(ctx, daveCode); err != nil {
		t.Fatal(err)
	}
	if _, err := dave.Login(ctx, "dave", carolPW); err == nil {
		t.Fatal("dave's login did not ask for the second factor")
	} else if _, ok := client.IsMFARequired(err); !ok {
		t.Fatal(err)
	}
	if _, _, err := bob.CreateToken(ctx, client.CreateTokenInput{Name: "ci", Scopes: []string{"read"}, ExpiresIn: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := rootUser.SetBreakGlass(ctx, bobUser.ID, true); err != nil {
		t.Fatal(err)
	}
	// An admin's override of a runtime setting.
	if _, err := rootUser.UpdateSettings(ctx, map[string]any{"retention_days": 400}); err != nil {
		t.Fatal(err)
	}

	// End-to-end keys: clients, prekeys, a backup and a to-device message
	// (bytes on SQLite, bytea on PostgreSQL).
	e2eeReg := func(b byte) client.ClientRegistration {
		k := func(n int) []byte { return bytes.Repeat([]byte{b}, n) }
		return client.ClientRegistration{IdentityKey: k(32), SigningKey: k(32), IdentitySig: k(64),
			SignedPreKey: &unhidra.SignedPreKey{ID: 1, Key: k(32), Sig: k(64)}}
	}
	if _, _, err := alice.RegisterClient(ctx, "alice-laptop", e2eeReg(7)); err != nil {
		t.Fatal(err)
	}
	rotated := e2eeReg(7)
	rotated.SignedPreKey = &unhidra.SignedPreKey{ID: 2, Key: bytes.Repeat([]byte{8}, 32), Sig: bytes.Repeat([]byte{8}, 64)}
	if _, _, err := alice.RegisterClient(ctx, "alice-laptop", rotated); err != nil { // a retired prekey
		t.Fatal(err)
	}
	if err := alice.SetMasterKey(ctx, bytes.Repeat([]byte{3}, 32), false); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SetClientList(ctx, &unhidra.ClientList{Version: 1, MasterKey: bytes.Repeat([]byte{3}, 32),
		Clients: []unhidra.ClientListEntry{{ClientID: "alice-laptop", SigningKey: bytes.Repeat([]byte{7}, 32)}}, Sig: bytes.Repeat([]byte{4}, 64)}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.UploadPreKeys(ctx, "alice-laptop", []unhidra.PreKey{{ID: 1, Key: bytes.Repeat([]byte{1}, 32)}, {ID: 2, Key: bytes.Repeat([]byte{2}, 32)}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := alice.PutKeyBackup(ctx, 3, []byte("auth"), []byte("an encrypted backup")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bob.RegisterClient(ctx, "bob-phone", e2eeReg(9)); err != nil {
		t.Fatal(err)
	}
	toDevice, err := bob.SendToDevice(ctx, "", []client.ToDeviceOut{{UserID: userIDOf(t, alice), ClientID: "alice-laptop", Ciphertext: []byte("sealed")}})
	if err != nil {
		t.Fatal(err)
	}

	before := takeSnapshot(t, n.URL, rootUser, alice, bob, root.ID, edited.ID)
	bobSessions, err := bob.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bobTokens := bob.Tokens()
	n.Stop()
	// A clean stop chains the whole audit outbox; an event recorded
	// while no node runs waits there, and must be copied too.
	auditKey, err := server.LoadAuditKey(cfg, false, nil)
	if err != nil || auditKey == nil {
		t.Fatalf("the node's audit key: %v", err)
	}
	if db, err := store.Open(ctx, cfg.DatabaseURL(), store.Options{}); err != nil {
		t.Fatal(err)
	} else {
		err := auditstore.New(db).Record(ctx, &audit.Event{Action: "test.pending", ActorType: audit.ActorSystem})
		if err == nil {
			err = pruneToFirstCheckpoint(ctx, db, auditKey)
		}
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
	}

	// Refusals first: a --to that is not PostgreSQL, and a source that
	// is not SQLite.
	out.Reset()
	errb.Reset()
	pg := testenv.PostgresURL(t)
	if code := run(ctx, []string{"admin", "migrate-data", "--data", cfg.DataDir, "--to", "sqlite:///tmp/x.db"}, nil, &out, &errb, envOf(nil)); code != 2 ||
		!strings.Contains(errb.String(), "postgres://") {
		t.Fatalf("--to sqlite: %d %q", code, errb.String())
	}
	errb.Reset()
	if code := run(ctx, []string{"admin", "migrate-data", "--db", pg, "--to", pg}, nil, &out, &errb, envOf(nil)); code != 1 ||
		!strings.Contains(errb.String(), "SQLite") {
		t.Fatalf("PostgreSQL source: %d %q", code, errb.String())
	}
	errb.Reset()

	code := run(ctx, []string{"admin", "migrate-data", "--data", cfg.DataDir, "--to", pg}, nil, &out, &errb, envOf(nil))
	if code != 0 {
		t.Fatalf("migrate-data: %d\n%s\n%s", code, out.String(), errb.String())
	}
	t.Logf("migrate-data:\n%s%s", errb.String(), out.String())
	if !strings.Contains(errb.String(), "copying messages") {
		t.Errorf("no progress on stderr: %q", errb.String())
	}
	for _, want := range []string{"users", "messages", "channel_events", "reactions", "refresh_tokens", "invites", "copied ", "PostgreSQL database unhidra_test_"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "messages_fts") {
		t.Error("the FTS5 tables were copied")
	}

	// A node on the PostgreSQL database, with the same data directory
	// (the signing keys).
	pgCfg := cfg
	pgCfg.DB = pg
	n2 := testserver.Start(t, pgCfg)

	// Everyone logs in with their password.
	alice2 := migrateUser(t, n2.URL, "alice", alicePW, false)
	bob2 := migrateUser(t, n2.URL, "bob", bobPW, false)
	migrateUser(t, n2.URL, "carol", carolPW, false)
	if _, err := (func() (*unhidra.User, error) {
		c, _ := client.New(n2.URL)
		return c.Login(ctx, "alice", "not alice's password")
	})(); err == nil {
		t.Fatal("a wrong password logs in")
	}

	after := takeSnapshot(t, n2.URL, migrateUser(t, n2.URL, "root", rootPW, false), alice2, bob2, root.ID, edited.ID)
	// The end-to-end keys came along: a bundle with one of the two
	// prekeys, the backup, the waiting message.
	keys, err := bob2.UserKeys(ctx, userIDOf(t, alice2))
	if err != nil || len(keys.Clients) != 1 || !bytes.Equal(keys.Clients[0].IdentityKey, bytes.Repeat([]byte{7}, 32)) ||
		keys.Clients[0].OneTimePreKey == nil || keys.Clients[0].OneTimePreKey.ID != 1 || keys.Clients[0].SignedPreKey.ID != 2 ||
		keys.ClientList == nil || keys.ClientList.Version != 1 || keys.ClientList.Clients[0].ClientID != "alice-laptop" {
		t.Fatalf("keys after the migration: %+v %v", keys, err)
	}
	if b, err := alice2.KeyBackup(ctx); err != nil || b.Version != 3 || string(b.Data) != "an encrypted backup" || string(b.AuthData) != "auth" {
		t.Fatalf("backup after the migration: %+v %v", b, err)
	}
	if msgs, _, err := alice2.ToDeviceMessages(ctx, "alice-laptop", "", 10); err != nil || len(msgs) != 1 || msgs[0].ID != toDevice[0] || msgs[0].Ciphertext != "c2VhbGVk" {
		t.Fatalf("inbox after the migration: %+v %v", msgs, err)
	}
	if !reflect.DeepEqual(before, after) {
		b, _ := json.MarshalIndent(before, "", " ")
		a, _ := json.MarshalIndent(after, "", " ")
		t.Fatalf("the install differs after the migration:\nbefore: %s\nafter: %s", b, a)
	}

	// Spot checks of what the comparison covers.
	msgs := after.Messages[general.ID]
	for i := 1; i < len(msgs); i++ {
		if msgs[i].Seq <= msgs[i-1].Seq {
			t.Fatalf("messages out of order: %d after %d", msgs[i].Seq, msgs[i-1].Seq)
		}
	}
	var tomb *unhidra.Message
	for _, m := range msgs {
		if m.ID == gone.ID {
			tomb = m
		}
	}
	if tomb == nil || !tomb.Deleted || tomb.Body != "" || len(tomb.Reactions) != 0 {
		t.Fatalf("tombstone after the migration: %+v", tomb)
	}
	if len(after.Search.Hits) < 4 {
		t.Fatalf("search after the migration: %+v", after.Search)
	}
	if res, err := bob2.Search(ctx, "hunter2", client.ListOptions{}); err != nil || len(res.Hits) != 0 {
		t.Fatalf("the deleted message is found: %+v %v", res, err)
	}
	if res, err := bob2.Search(ctx, "moved", client.ListOptions{}); err != nil || len(res.Hits) != 1 || res.Hits[0].Message.ID != edited.ID {
		t.Fatalf("the edited body is not found: %+v %v", res, err)
	}
	if len(after.History) != 1 || after.History[0].Body != "second deploy at noon" {
		t.Fatalf("edit history: %+v", after.History)
	}
	if len(after.Pins) != 1 || after.Pins[0].ID != pinned.ID {
		t.Fatalf("pins: %+v", after.Pins)
	}
	if len(after.Events[general.ID]) == 0 {
		t.Fatal("no channel events after the migration")
	}

	// bob's session from SQLite goes on: its refresh token is accepted.
	old, err := client.New(n2.URL)
	if err != nil {
		t.Fatal(err)
	}
	old.SetTokens(bobTokens)
	if err := old.Refresh(ctx); err != nil {
		t.Fatalf("refresh with a migrated session: %v", err)
	}
	sessions, err := old.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range bobSessions {
		found := false
		for _, s2 := range sessions {
			found = found || s2.ID == s.ID
		}
		if !found {
			t.Errorf("session %s is missing", s.ID)
		}
	}

	// New writes carry on from the copied seqs.
	next := send(alice2, general.ID, "first message on PostgreSQL")
	if want := before.AliceChannels[indexOf(before.AliceChannels, general.ID)].LastSeq + 1; next.Seq != want {
		t.Fatalf("next seq %d, want %d", next.Seq, want)
	}

	// A second run finds the target not empty, refuses, and changes nothing.
	n2.Stop()
	db, err := store.Open(ctx, pg, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var total, count int
	if err := db.Read().QueryRow(ctx, `SELECT COUNT(*) FROM messages`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	// The install above has rows in every table, so that every table's
	// copy is exercised (a new table needs rows here too).
	rows, err := db.Read().Query(ctx, `SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	for _, name := range tables {
		if name == "setup_tokens" || name == "sso_states" || name == "passkey_ceremonies" {
			continue // empty by design: once an admin exists; between sign-ins
		}
		if name == "audit_outbox" {
			// The node started on the copy chained what was copied: the
			// pending event is in the log now, once.
			if err := db.Read().QueryRow(ctx, `SELECT COUNT(*) FROM audit_log WHERE action = 'test.pending'`).Scan(&count); err != nil || count != 1 {
				t.Errorf("the copied outbox event is in the target's log %d times (%v)", count, err)
			}
			continue
		}
		if err := db.Read().QueryRow(ctx, `SELECT COUNT(*) FROM `+name).Scan(&count); err != nil || count == 0 {
			t.Errorf("table %s has %d rows on the target (%v): give it some in this test", name, count, err)
		}
	}
	out.Reset()
	errb.Reset()
	if code := run(ctx, []string{"admin", "migrate-data", "--data", cfg.DataDir, "--to", pg}, nil, &out, &errb, envOf(nil)); code != 1 ||
		!strings.Contains(errb.String(), "not empty") {
		t.Fatalf("second migrate-data: %d %q", code, errb.String())
	}
	if err := db.Read().QueryRow(ctx, `SELECT COUNT(*) FROM messages WHERE id = ?`, next.ID).Scan(&count); err != nil || count != 1 {
		t.Fatalf("the refused run changed the target: %d %v", count, err)
	}
	if err := db.Read().QueryRow(ctx, `SELECT COUNT(*) FROM messages`).Scan(&count); err != nil || count != total {
		t.Fatalf("messages on the target after the refused run: %d, want %d (%v)", count, total, err)
	}
	if v, err := db.SchemaVersion(ctx); err != nil || v == 0 {
		t.Fatalf("schema version after the refused run: %d %v", v, err)
	}
	// The copied log verifies from its copied prune anchor.
	ring := audit.Keyring{}
	ring.Add(auditKey.Public())
	if rep, err := audit.Verify(ctx, auditstore.New(db), ring, nil); err != nil || !rep.OK || rep.PrunedThrough == 0 {
		t.Fatalf("the copied audit log: %+v %v", rep, err)
	}
}

// pruneToFirstCheckpoint does what a prune does (store/auditstore/prune.go)
// up to the first checkpoint, signed with key, with the legal hold of
// this install out of the way: so that audit_prunes has a row to copy.
func pruneToFirstCheckpoint(ctx context.Context, db *store.DB, key *audit.SigningKey) error {
	return db.InTx(ctx, func(c store.Conn) error {
		a := &audit.PruneAnchor{Time: time.Now().UTC().Truncate(time.Microsecond)}
		if err := c.QueryRow(ctx, `SELECT seq, hash FROM audit_checkpoints ORDER BY seq LIMIT 1`).Scan(&a.Seq, &a.Hash); err != nil {
			return err
		}
		key.SignAnchor(a)
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO audit_prunes (through_seq, hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?)`, []any{a.Seq, []byte(a.Hash), a.Time.UnixMicro(), a.KeyID, a.Signature}},
			{`DELETE FROM audit_log WHERE seq <= ?`, []any{a.Seq}},
			{`DELETE FROM audit_checkpoints WHERE seq < ?`, []any{a.Seq}},
		} {
			if _, err := c.Exec(ctx, q.sql, q.args...); err != nil {
				return err
			}
		}
		return nil
	})
}

func indexOf(chs []*unhidra.Channel, id string) int {
	for i, c := range chs {
		if c.ID == id {
			return i
		}
	}
	return -1
}

// A SQLite database behind the binary's schema is refused with the advice
// to migrate it, and the target is left empty.
func TestAdminMigrateDataRefusesAnOldSchema(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"admin", "migrate", "--data", dir}, nil, &out, &errb, envOf(nil)); code != 0 {
		t.Fatalf("migrate: %d %s", code, errb.String())
	}
	db, err := store.Open(ctx, "sqlite://"+dir+"/unhidra.db", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Write().Exec(ctx, `DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	pg := testenv.PostgresURL(t)
	if code := run(ctx, []string{"admin", "migrate-data", "--data", dir, "--to", pg}, nil, &out, &errb, envOf(nil)); code != 1 ||
		!strings.Contains(errb.String(), "run `unhidra admin migrate`") {
		t.Fatalf("old schema: %d %q", code, errb.String())
	}
	target, err := store.Open(ctx, pg, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if v, err := target.SchemaVersion(ctx); err != nil || v != 0 {
		t.Fatalf("target version after a refusal: %d %v", v, err)
	}
}

func userIDOf(t *testing.T, c *client.Client) string {
	t.Helper()
	u, err := c.Me(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}
