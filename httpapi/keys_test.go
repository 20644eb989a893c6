package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/testserver"
)

// key is the standard base64 of n bytes of b: a key or signature of that
// size (the server checks sizes, never signatures).
func key(b byte, n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, n)) }

func signedKey(id int, b byte, n int) map[string]any {
	return map[string]any{"id": id, "key": key(b, n), "sig": key(b+1, 64)}
}

// clientBody is a full client registration whose keys are made of b.
func clientBody(b byte) map[string]any {
	return map[string]any{
		"identity_key": key(b, 32), "signing_key": key(b+1, 32), "identity_sig": key(b+2, 64),
		"signed_prekey":      signedKey(1, b+3, 32),
		"last_resort_prekey": signedKey(2, b+5, 32),
		"pq_prekey":          signedKey(3, b+7, 1184),
	}
}

func prekeys(from, n int) map[string]any {
	var ks []map[string]any
	for i := from; i < from+n; i++ {
		ks = append(ks, map[string]any{"id": i, "key": key(byte(i), 32)})
	}
	return map[string]any{"one_time_prekeys": ks}
}

type prekeyJSON struct {
	ID  uint32 `json:"id"`
	Key string `json:"key"`
	Sig string `json:"sig"`
}

type retiredJSON struct {
	Kind      string    `json:"kind"`
	ID        uint32    `json:"id"`
	RetiredAt time.Time `json:"retired_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

type clientJSON struct {
	ClientID         string        `json:"client_id"`
	UserID           string        `json:"user_id"`
	IdentityKey      string        `json:"identity_key"`
	SigningKey       string        `json:"signing_key"`
	SignedPreKey     *prekeyJSON   `json:"signed_prekey"`
	PQPreKey         *prekeyJSON   `json:"pq_prekey"`
	LastResortPreKey *prekeyJSON   `json:"last_resort_prekey"`
	OneTimePreKeys   int           `json:"one_time_prekeys"`
	PQOneTimePreKeys int           `json:"pq_one_time_prekeys"`
	RetiredPreKeys   []retiredJSON `json:"retired_prekeys"`
}

type bundleJSON struct {
	UserID           string      `json:"user_id"`
	ClientID         string      `json:"client_id"`
	IdentityKey      string      `json:"identity_key"`
	SignedPreKey     *prekeyJSON `json:"signed_prekey"`
	OneTimePreKey    *prekeyJSON `json:"one_time_prekey"`
	LastResortPreKey *prekeyJSON `json:"last_resort_prekey"`
	PQOneTimePreKey  *prekeyJSON `json:"pq_one_time_prekey"`
	PQPreKey         *prekeyJSON `json:"pq_prekey"`
}

type userKeysJSON struct {
	Keys struct {
		UserID     string `json:"user_id"`
		MasterKey  string `json:"master_key"`
		ClientList *struct {
			UserID    string `json:"user_id"`
			Version   uint64 `json:"version"`
			MasterKey string `json:"master_key"`
			Clients   []struct {
				ClientID   string `json:"client_id"`
				SigningKey string `json:"signing_key"`
			} `json:"clients"`
			Sig string `json:"sig"`
		} `json:"client_list"`
		Clients []bundleJSON `json:"clients"`
	} `json:"keys"`
}

// keysNode is a node with the key directory's rate limits off, unless a
// test sets them.
func keysNode(t *testing.T, engine string) *testserver.Node {
	t.Helper()
	cfg := testserver.Config(t, engine)
	cfg.RateKeysFetch.N, cfg.RateKeysFetchUser.N, cfg.RateToDevice.N = 0, 0, 0
	return testserver.Start(t, cfg)
}

func getClient(t *testing.T, n *testserver.Node, tok, id string) clientJSON {
	t.Helper()
	var out struct{ Client clientJSON }
	newCall(t, n, "GET", "/api/v1/keys/clients/"+id).bearer(tok).expect(200, &out)
	return out.Client
}

func fetchKeys(t *testing.T, n *testserver.Node, tok, userID string) userKeysJSON {
	t.Helper()
	var out userKeysJSON
	newCall(t, n, "GET", "/api/v1/users/"+userID+"/keys").bearer(tok).expect(200, &out)
	return out
}

// refreshed spends the refresh token of tk and returns its successor.
func refreshed(t *testing.T, n *testserver.Node, tk tokens) tokens {
	t.Helper()
	var out tokens
	newCall(t, n, "POST", "/api/v1/auth/refresh").json(map[string]string{"refresh_token": tk.RefreshToken}).expect(200, &out)
	return out
}

// claims decodes the payload of an access token.
func claims(t *testing.T, access string) map[string]any {
	t.Helper()
	parts := strings.Split(access, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", access)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestKeyDirectory walks the directory as two users' clients use it:
// registration and the session's client_id, prekeys popped once each and
// then the last-resort keys, signed-prekey rotation with its grace period,
// an identity change as an audited key change, the master key and signed
// client list, the backup's versions.
func TestKeyDirectory(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			n := keysNode(t, engine)
			alice := bootstrapAdmin(t, n, "alice", bobPW)
			bob := register(t, n, "bob", bobPW)
			at, bt := login(t, n, "alice", bobPW), login(t, n, "bob", bobPW)

			// Registration: 201, then the same again is 200 and changes
			// nothing; the session's next access token carries client_id.
			var reg struct{ Client clientJSON }
			newCall(t, n, "PUT", "/api/v1/keys/clients/alice-laptop").bearer(at.AccessToken).json(clientBody(10)).expect(201, &reg)
			if reg.Client.UserID != alice.ID || reg.Client.IdentityKey != key(10, 32) || reg.Client.PQPreKey == nil || reg.Client.RetiredPreKeys == nil {
				t.Fatalf("registered %+v", reg.Client)
			}
			newCall(t, n, "PUT", "/api/v1/keys/clients/alice-laptop").bearer(at.AccessToken).json(clientBody(10)).expect(200, nil)
			if c := claims(t, at.AccessToken); c["client_id"] != nil {
				t.Fatalf("the token from before the registration names a client: %v", c)
			}
			at = refreshed(t, n, at)
			if c := claims(t, at.AccessToken); c["client_id"] != "alice-laptop" {
				t.Fatalf("claims after the refresh = %v, want client_id alice-laptop", c)
			}
			var sessions struct {
				Sessions []struct {
					ClientID string `json:"client_id"`
					Current  bool   `json:"current"`
				}
			}
			newCall(t, n, "GET", "/api/v1/users/me/sessions").bearer(at.AccessToken).expect(200, &sessions)
			if len(sessions.Sessions) != 1 || sessions.Sessions[0].ClientID != "alice-laptop" {
				t.Fatalf("sessions = %+v", sessions.Sessions)
			}
			newCall(t, n, "PUT", "/api/v1/keys/clients/bob-phone").bearer(bt.AccessToken).json(clientBody(50)).expect(201, nil)

			// Prekeys: three one-time and one post-quantum one-time.
			var counts struct {
				OneTime int `json:"one_time_prekeys"`
				PQ      int `json:"pq_one_time_prekeys"`
			}
			body := prekeys(100, 3)
			body["pq_one_time_prekeys"] = []any{signedKey(200, 9, 1184)}
			newCall(t, n, "POST", "/api/v1/keys/clients/alice-laptop/prekeys").bearer(at.AccessToken).json(body).expect(200, &counts)
			if counts.OneTime != 3 || counts.PQ != 1 {
				t.Fatalf("counts = %+v", counts)
			}
			// Each fetch takes one; then the last-resort keys come.
			seen := map[uint32]bool{}
			for i := range 4 {
				k := fetchKeys(t, n, bt.AccessToken, alice.ID)
				if k.Keys.UserID != alice.ID || len(k.Keys.Clients) != 1 {
					t.Fatalf("fetch %d: %+v", i, k.Keys)
				}
				b := k.Keys.Clients[0]
				if b.ClientID != "alice-laptop" || b.IdentityKey != key(10, 32) || b.SignedPreKey == nil || b.SignedPreKey.ID != 1 {
					t.Fatalf("fetch %d: bundle %+v", i, b)
				}
				switch {
				case i < 3 && (b.OneTimePreKey == nil || b.LastResortPreKey != nil || seen[b.OneTimePreKey.ID]):
					t.Fatalf("fetch %d: %+v, want a one-time prekey not seen before", i, b)
				case i == 3 && (b.OneTimePreKey != nil || b.LastResortPreKey == nil || b.LastResortPreKey.ID != 2):
					t.Fatalf("fetch %d: %+v, want the last-resort prekey", i, b)
				case b.PQPreKey == nil || b.PQPreKey.ID != 3 || b.UserID != alice.ID:
					t.Fatalf("fetch %d: %+v, want alice's post-quantum prekey always", i, b)
				case i == 0 && (b.PQOneTimePreKey == nil || b.PQOneTimePreKey.ID != 200):
					t.Fatalf("fetch 0: %+v, want the post-quantum one-time prekey", b)
				case i > 0 && b.PQOneTimePreKey != nil:
					t.Fatalf("fetch %d: %+v, want no post-quantum one-time prekey left", i, b)
				}
				if b.OneTimePreKey != nil {
					seen[b.OneTimePreKey.ID] = true
				}
			}
			newCall(t, n, "GET", "/api/v1/keys/clients/alice-laptop/prekeys/count").bearer(at.AccessToken).expect(200, &counts)
			if counts.OneTime != 0 || counts.PQ != 0 {
				t.Fatalf("counts after the fetches = %+v", counts)
			}

			// Signed-prekey rotation: the old one is listed to its owner
			// for the grace period (30 days).
			rotated := clientBody(10)
			rotated["signed_prekey"] = signedKey(4, 77, 32)
			newCall(t, n, "PUT", "/api/v1/keys/clients/alice-laptop").bearer(at.AccessToken).json(rotated).expect(200, nil)
			c := getClient(t, n, at.AccessToken, "alice-laptop")
			if c.SignedPreKey.ID != 4 || len(c.RetiredPreKeys) != 1 || c.RetiredPreKeys[0].ID != 1 || c.RetiredPreKeys[0].Kind != "signed" ||
				c.RetiredPreKeys[0].ExpiresAt.Sub(c.RetiredPreKeys[0].RetiredAt) != 30*24*time.Hour {
				t.Fatalf("after rotation: %+v", c)
			}
			if k := fetchKeys(t, n, bt.AccessToken, alice.ID); k.Keys.Clients[0].SignedPreKey.ID != 4 {
				t.Fatalf("bundle after rotation: %+v", k.Keys.Clients[0])
			}
			// An id reused with another key is refused.
			reused := clientBody(10)
			reused["signed_prekey"] = signedKey(4, 78, 32)
			newCall(t, n, "PUT", "/api/v1/keys/clients/alice-laptop").bearer(at.AccessToken).json(reused).expectError(409, "conflict")

			// An identity change: audited as a key change with
			// fingerprints only; the old one-time prekeys are dropped.
			newCall(t, n, "POST", "/api/v1/keys/clients/alice-laptop/prekeys").bearer(at.AccessToken).json(prekeys(300, 2)).expect(200, nil)
			newCall(t, n, "PUT", "/api/v1/keys/clients/alice-laptop").bearer(at.AccessToken).json(clientBody(20)).expect(200, nil)
			if c := getClient(t, n, at.AccessToken, "alice-laptop"); c.IdentityKey != key(20, 32) || c.OneTimePreKeys != 0 {
				t.Fatalf("after the identity change: %+v", c)
			}
			if got := auditCount(t, n, `action = 'keys.change' AND target_id = 'alice-laptop'`); got != 1 {
				t.Fatalf("%d key changes audited, want 1", got)
			}
			if got := auditCount(t, n, `action = 'keys.client_register'`); got != 2 {
				t.Fatalf("%d registrations audited, want 2", got)
			}
			noKeyMaterialAudited(t, n, key(10, 32), key(20, 32), key(11, 32), key(21, 32))

			// Master key: once; another needs replace and is a key change,
			// which drops the list the old key signed. The list names the
			// master key, a growing version and each client's signing key.
			list := func(version int, master string, entries ...[2]string) map[string]any {
				var cs []any
				for _, e := range entries {
					cs = append(cs, map[string]any{"client_id": e[0], "signing_key": e[1]})
				}
				return map[string]any{"version": version, "master_key": master, "clients": cs, "sig": key(31, 64)}
			}
			laptop := [2]string{"alice-laptop", key(21, 32)}
			newCall(t, n, "PUT", "/api/v1/keys/users/me/client-list").bearer(at.AccessToken).json(list(1, key(30, 32), laptop)).expectError(409, "conflict")
			newCall(t, n, "PUT", "/api/v1/keys/users/me/master").bearer(at.AccessToken).json(map[string]any{"master_key": key(30, 32)}).expect(204, nil)
			newCall(t, n, "PUT", "/api/v1/keys/users/me/master").bearer(at.AccessToken).json(map[string]any{"master_key": key(30, 32)}).expect(204, nil)
			newCall(t, n, "PUT", "/api/v1/keys/users/me/client-list").bearer(at.AccessToken).json(list(1, key(30, 32), laptop)).expect(200, nil)
			newCall(t, n, "PUT", "/api/v1/keys/users/me/client-list").bearer(at.AccessToken).json(list(1, key(30, 32), laptop)).expectError(409, "conflict") // not newer
			newCall(t, n, "PUT", "/api/v1/keys/users/me/client-list").bearer(at.AccessToken).json(list(2, key(33, 32), laptop)).expectError(409, "conflict") // another master key
			newCall(t, n, "PUT", "/api/v1/keys/users/me/client-list").bearer(at.AccessToken).json(list(2, key(30, 32), [2]string{"alice-laptop", key(11, 32)})).
				expectError(400, "invalid_argument") // the signing key from before the identity change
			newCall(t, n, "PUT", "/api/v1/keys/users/me/client-list").bearer(at.AccessToken).json(list(2, key(30, 32), laptop)).expect(200, nil)
			k := fetchKeys(t, n, bt.AccessToken, alice.ID)
			if cl := k.Keys.ClientList; k.Keys.MasterKey != key(30, 32) || cl == nil || cl.UserID != alice.ID || cl.Version != 2 || cl.MasterKey != key(30, 32) ||
				len(cl.Clients) != 1 || cl.Clients[0].ClientID != "alice-laptop" || cl.Clients[0].SigningKey != key(21, 32) || cl.Sig != key(31, 64) {
				t.Fatalf("keys = %+v", k.Keys)
			}
			newCall(t, n, "PUT", "/api/v1/keys/users/me/master").bearer(at.AccessToken).json(map[string]any{"master_key": key(32, 32)}).expectError(409, "conflict")
			newCall(t, n, "PUT", "/api/v1/keys/users/me/master").bearer(at.AccessToken).json(map[string]any{"master_key": key(32, 32), "replace": true}).expect(204, nil)
			if k := fetchKeys(t, n, bt.AccessToken, alice.ID); k.Keys.MasterKey != key(32, 32) || k.Keys.ClientList != nil {
				t.Fatalf("after replacing the master key: %+v", k.Keys)
			}
			if got := auditCount(t, n, `action = 'keys.change' AND target_id = '`+alice.ID+`'`); got != 1 {
				t.Fatalf("%d master key changes audited, want 1", got)
			}
			if got := auditCount(t, n, `action = 'keys.client_list'`); got != 2 {
				t.Fatalf("%d client lists audited, want 2", got)
			}
			noKeyMaterialAudited(t, n, key(30, 32), key(32, 32))

			// Backups: versioned, the older refused.
			newCall(t, n, "GET", "/api/v1/keys/backup").bearer(at.AccessToken).expectError(404, "not_found")
			newCall(t, n, "PUT", "/api/v1/keys/backup").bearer(at.AccessToken).json(map[string]any{"version": 2, "auth_data": key(1, 10), "data": key(2, 5000)}).expect(200, nil)
			newCall(t, n, "PUT", "/api/v1/keys/backup").bearer(at.AccessToken).json(map[string]any{"version": 2, "auth_data": key(3, 10), "data": key(4, 5000)}).expectError(409, "conflict")
			var backup struct {
				Backup struct {
					Version  int64  `json:"version"`
					AuthData string `json:"auth_data"`
					Data     string `json:"data"`
				}
			}
			newCall(t, n, "GET", "/api/v1/keys/backup").bearer(at.AccessToken).expect(200, &backup)
			if backup.Backup.Version != 2 || backup.Backup.Data != key(2, 5000) || backup.Backup.AuthData != key(1, 10) {
				t.Fatalf("backup = %+v", backup.Backup)
			}
			newCall(t, n, "DELETE", "/api/v1/keys/backup").bearer(at.AccessToken).expect(204, nil)
			newCall(t, n, "GET", "/api/v1/keys/backup").bearer(at.AccessToken).expectError(404, "not_found")

			// Removing a client: gone from bundles, its id stays alice's.
			newCall(t, n, "DELETE", "/api/v1/keys/clients/alice-laptop").bearer(at.AccessToken).expect(204, nil)
			if k := fetchKeys(t, n, bt.AccessToken, alice.ID); len(k.Keys.Clients) != 0 {
				t.Fatalf("a removed client is still handed out: %+v", k.Keys.Clients)
			}
			newCall(t, n, "PUT", "/api/v1/keys/clients/alice-laptop").bearer(at.AccessToken).json(clientBody(10)).expectError(409, "conflict")
			newCall(t, n, "PUT", "/api/v1/keys/clients/alice-laptop").bearer(bt.AccessToken).json(clientBody(10)).expectError(409, "conflict")
			if got := auditCount(t, n, `action = 'keys.client_remove'`); got != 1 {
				t.Fatalf("%d removals audited, want 1", got)
			}
			_ = bob
		})
	}
}

// noKeyMaterialAudited fails if any audit row holds one of the keys.
func noKeyMaterialAudited(t *testing.T, n *testserver.Node, keys ...string) {
	t.Helper()
	rows, err := n.Store.Read().Query(t.Context(), `SELECT metadata FROM audit_outbox UNION ALL SELECT metadata FROM audit_log`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var meta string
		if err := rows.Scan(&meta); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			for _, frag := range []string{k, k[:16]} {
				if strings.Contains(meta, frag) {
					t.Fatalf("audit metadata %s holds key material", meta)
				}
			}
		}
	}
}

// TestKeyRefusals: everything the directory and the inbox refuse, from
// the side of the user refused, each leaving nothing changed.
func TestKeyRefusals(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			n := keysNode(t, engine)
			alice := bootstrapAdmin(t, n, "alice", bobPW)
			bob := register(t, n, "bob", bobPW)
			at, bt := login(t, n, "alice", bobPW), login(t, n, "bob", bobPW)
			newCall(t, n, "PUT", "/api/v1/keys/clients/alice-laptop").bearer(at.AccessToken).json(clientBody(10)).expect(201, nil)
			newCall(t, n, "POST", "/api/v1/keys/clients/alice-laptop/prekeys").bearer(at.AccessToken).json(prekeys(1, 5)).expect(200, nil)
			newCall(t, n, "PUT", "/api/v1/keys/clients/bob-phone").bearer(bt.AccessToken).json(clientBody(50)).expect(201, nil)
			at, bt = refreshed(t, n, at), refreshed(t, n, bt)
			newCall(t, n, "PUT", "/api/v1/keys/backup").bearer(at.AccessToken).json(map[string]any{"version": 1, "auth_data": "", "data": key(1, 100)}).expect(200, nil)
			var sent struct{ IDs []string }
			newCall(t, n, "POST", "/api/v1/to-device").bearer(bt.AccessToken).
				json(map[string]any{"messages": []any{map[string]any{"user_id": alice.ID, "client_id": "alice-laptop", "ciphertext": key(7, 100)}}}).expect(201, &sent)
			unchanged := func(t *testing.T) {
				t.Helper()
				c := getClient(t, n, at.AccessToken, "alice-laptop")
				if c.IdentityKey != key(10, 32) || c.OneTimePreKeys != 5 || c.UserID != alice.ID {
					t.Fatalf("alice's client changed: %+v", c)
				}
				var inbox struct{ Messages []struct{ ID string } }
				newCall(t, n, "GET", "/api/v1/to-device").bearer(at.AccessToken).expect(200, &inbox)
				if len(inbox.Messages) != 1 || inbox.Messages[0].ID != sent.IDs[0] {
					t.Fatalf("alice's inbox changed: %+v", inbox)
				}
				var b struct{ Backup struct{ Version int } }
				newCall(t, n, "GET", "/api/v1/keys/backup").bearer(at.AccessToken).expect(200, &b)
				if b.Backup.Version != 1 {
					t.Fatalf("alice's backup changed: %+v", b)
				}
			}

			// Bob, with someone else's client id.
			newCall(t, n, "PUT", "/api/v1/keys/clients/alice-laptop").bearer(bt.AccessToken).json(clientBody(60)).expectError(409, "conflict")
			newCall(t, n, "GET", "/api/v1/keys/clients/alice-laptop").bearer(bt.AccessToken).expectError(404, "not_found")
			newCall(t, n, "DELETE", "/api/v1/keys/clients/alice-laptop").bearer(bt.AccessToken).expectError(404, "not_found")
			newCall(t, n, "POST", "/api/v1/keys/clients/alice-laptop/prekeys").bearer(bt.AccessToken).json(prekeys(90, 1)).expectError(404, "not_found")
			newCall(t, n, "GET", "/api/v1/keys/clients/alice-laptop/prekeys/count").bearer(bt.AccessToken).expectError(404, "not_found")
			bobList := func(entries ...[2]string) map[string]any {
				var cs []any
				for _, e := range entries {
					cs = append(cs, map[string]any{"client_id": e[0], "signing_key": e[1]})
				}
				return map[string]any{"version": 1, "master_key": key(1, 32), "clients": cs, "sig": key(1, 64)}
			}
			newCall(t, n, "PUT", "/api/v1/keys/users/me/client-list").bearer(bt.AccessToken).
				json(bobList([2]string{"bob-phone", key(51, 32)})).expectError(409, "conflict") // no master key yet
			newCall(t, n, "PUT", "/api/v1/keys/users/me/master").bearer(bt.AccessToken).json(map[string]any{"master_key": key(1, 32)}).expect(204, nil)
			newCall(t, n, "PUT", "/api/v1/keys/users/me/client-list").bearer(bt.AccessToken).
				json(bobList([2]string{"alice-laptop", key(11, 32)}, [2]string{"bob-phone", key(51, 32)})).expectError(400, "invalid_argument") // alice's client
			withUser := bobList([2]string{"bob-phone", key(51, 32)})
			withUser["user_id"] = alice.ID
			newCall(t, n, "PUT", "/api/v1/keys/users/me/client-list").bearer(bt.AccessToken).json(withUser).expectError(400, "invalid_argument") // in alice's name
			// Another user's inbox and backup: there is no way to name them.
			newCall(t, n, "GET", "/api/v1/to-device?client_id=alice-laptop").bearer(bt.AccessToken).expectError(404, "not_found")
			var acked struct{ Deleted int }
			newCall(t, n, "POST", "/api/v1/to-device/ack").bearer(bt.AccessToken).json(map[string]any{"ids": sent.IDs}).expect(200, &acked)
			if acked.Deleted != 0 {
				t.Fatalf("bob's ack deleted %d of alice's messages", acked.Deleted)
			}
			newCall(t, n, "POST", "/api/v1/to-device/ack").bearer(bt.AccessToken).json(map[string]any{"client_id": "alice-laptop", "ids": sent.IDs}).expectError(404, "not_found")
			newCall(t, n, "GET", "/api/v1/keys/backup").bearer(bt.AccessToken).expectError(404, "not_found")
			newCall(t, n, "DELETE", "/api/v1/keys/backup").bearer(bt.AccessToken).expectError(404, "not_found")
			// Sending in another's name, or to a client its user does not have.
			newCall(t, n, "POST", "/api/v1/to-device").bearer(bt.AccessToken).
				json(map[string]any{"from_client": "alice-laptop", "messages": []any{map[string]any{"user_id": alice.ID, "client_id": "alice-laptop", "ciphertext": "AAAA"}}}).
				expectError(400, "invalid_argument")
			newCall(t, n, "POST", "/api/v1/to-device").bearer(bt.AccessToken).
				json(map[string]any{"messages": []any{
					map[string]any{"user_id": alice.ID, "client_id": "alice-laptop", "ciphertext": "AAAA"},
					map[string]any{"user_id": bob.ID, "client_id": "alice-laptop", "ciphertext": "AAAA"}}}).
				expectError(404, "not_found")
			newCall(t, n, "POST", "/api/v1/to-device").bearer(bt.AccessToken).
				json(map[string]any{"messages": []any{map[string]any{"user_id": alice.ID, "client_id": "nobody", "ciphertext": "AAAA"}}}).
				expectError(404, "not_found")
			// The backup's version must grow.
			newCall(t, n, "PUT", "/api/v1/keys/backup").bearer(at.AccessToken).json(map[string]any{"version": 1, "auth_data": "", "data": key(2, 100)}).expectError(409, "conflict")
			// Someone who does not exist.
			newCall(t, n, "GET", "/api/v1/users/nobody/keys").bearer(bt.AccessToken).expectError(404, "not_found")
			unchanged(t)

			// Without a token; with a personal access token that may only
			// read (fetching keys uses prekeys up: it needs write too).
			newCall(t, n, "GET", "/api/v1/users/"+alice.ID+"/keys").expectError(401, "unauthenticated")
			newCall(t, n, "PUT", "/api/v1/keys/clients/x").json(clientBody(1)).expectError(401, "unauthenticated")
			read := createPAT(t, n, bt.AccessToken, "reader", "read")
			for _, c := range []*call{
				newCall(t, n, "PUT", "/api/v1/keys/clients/bob-pat").json(clientBody(70)),
				newCall(t, n, "POST", "/api/v1/keys/clients/bob-phone/prekeys").json(prekeys(1, 1)),
				newCall(t, n, "GET", "/api/v1/users/"+alice.ID+"/keys"),
				newCall(t, n, "POST", "/api/v1/to-device").json(map[string]any{"from_client": "bob-phone", "messages": []any{map[string]any{"user_id": alice.ID, "client_id": "alice-laptop", "ciphertext": "AAAA"}}}),
				newCall(t, n, "PUT", "/api/v1/keys/backup").json(map[string]any{"version": 9, "auth_data": "", "data": "AAAA"}),
				newCall(t, n, "PUT", "/api/v1/keys/users/me/master").json(map[string]any{"master_key": key(5, 32), "replace": true}),
				newCall(t, n, "DELETE", "/api/v1/keys/clients/bob-phone"),
			} {
				c.bearer(read.Secret).expectError(403, "permission_denied")
			}
			newCall(t, n, "GET", "/api/v1/keys/clients").bearer(read.Secret).expect(200, nil)
			unchanged(t)
			// A token that may write can fetch (and binds no session).
			write := createPAT(t, n, bt.AccessToken, "writer", "write")
			fetchKeys(t, n, write.Secret, alice.ID)
			newCall(t, n, "POST", "/api/v1/to-device").bearer(write.Secret).
				json(map[string]any{"messages": []any{map[string]any{"user_id": alice.ID, "client_id": "alice-laptop", "ciphertext": "AAAA"}}}).
				expectError(400, "invalid_argument") // no client in the token, none named
		})
	}
}

// TestKeyBadInput: malformed keys, ids and bodies are 400 invalid_argument
// and change nothing.
func TestKeyBadInput(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			n := keysNode(t, engine)
			alice := bootstrapAdmin(t, n, "alice", bobPW)
			at := login(t, n, "alice", bobPW)
			newCall(t, n, "PUT", "/api/v1/keys/clients/laptop").bearer(at.AccessToken).json(clientBody(10)).expect(201, nil)
			newCall(t, n, "POST", "/api/v1/keys/clients/laptop/prekeys").bearer(at.AccessToken).json(prekeys(1, 2)).expect(200, nil)
			at = refreshed(t, n, at)

			with := func(field string, v any) map[string]any {
				b := clientBody(10)
				b[field] = v
				return b
			}
			keyBytes := bytes.Repeat([]byte{10}, 32)
			padded := base64.StdEncoding.EncodeToString(keyBytes)
			badBits := padded[:len(padded)-2] + "B=" // the last character's unused bits set
			manyPrekeys := prekeys(1000, 101)
			tooManyMsgs := make([]any, 101)
			for i := range tooManyMsgs {
				tooManyMsgs[i] = map[string]any{"user_id": alice.ID, "client_id": "laptop", "ciphertext": "AAAA"}
			}
			manyIDs := make([]string, 1001)
			for i := range manyIDs {
				manyIDs[i] = fmt.Sprintf("id-%d", i)
			}
			msg := func(ct string) map[string]any {
				return map[string]any{"messages": []any{map[string]any{"user_id": alice.ID, "client_id": "laptop", "ciphertext": ct}}}
			}
			cases := []struct {
				name, method, path string
				body               any
			}{
				{"identity key of 31 bytes", "PUT", "/api/v1/keys/clients/laptop", with("identity_key", key(20, 31))},
				{"identity key of 33 bytes", "PUT", "/api/v1/keys/clients/laptop", with("identity_key", key(20, 33))},
				{"identity key not base64", "PUT", "/api/v1/keys/clients/laptop", with("identity_key", strings.Repeat("!", 44))},
				{"identity key base64url", "PUT", "/api/v1/keys/clients/laptop", with("identity_key", base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)))},
				{"identity key unpadded", "PUT", "/api/v1/keys/clients/laptop", with("identity_key", base64.RawStdEncoding.EncodeToString(keyBytes))},
				{"identity key with a line break", "PUT", "/api/v1/keys/clients/laptop", with("identity_key", padded[:20]+"\n"+padded[20:])},
				{"identity key with non-canonical bits", "PUT", "/api/v1/keys/clients/laptop", with("identity_key", badBits)},
				{"identity key with NUL", "PUT", "/api/v1/keys/clients/laptop", with("identity_key", padded[:43]+"\x00")},
				{"signature of 63 bytes", "PUT", "/api/v1/keys/clients/laptop", with("identity_sig", key(1, 63))},
				{"no signed prekey", "PUT", "/api/v1/keys/clients/laptop", with("signed_prekey", nil)},
				{"signed prekey without sig", "PUT", "/api/v1/keys/clients/laptop", with("signed_prekey", map[string]any{"id": 1, "key": key(1, 32)})},
				{"pq prekey of 1183 bytes", "PUT", "/api/v1/keys/clients/laptop", with("pq_prekey", signedKey(3, 7, 1183))},
				{"pq prekey of X25519 size", "PUT", "/api/v1/keys/clients/laptop", with("pq_prekey", signedKey(3, 7, 32))},
				{"negative prekey id", "PUT", "/api/v1/keys/clients/laptop", with("signed_prekey", map[string]any{"id": -1, "key": key(1, 32), "sig": key(1, 64)})},
				{"prekey id past 32 bits", "PUT", "/api/v1/keys/clients/laptop", with("signed_prekey", map[string]any{"id": 1 << 32, "key": key(1, 32), "sig": key(1, 64)})},
				{"unknown field", "PUT", "/api/v1/keys/clients/laptop", with("surprise", 1)},
				{"client id with a dot", "PUT", "/api/v1/keys/clients/a.b", clientBody(20)},
				{"client id of 65 characters", "PUT", "/api/v1/keys/clients/" + strings.Repeat("c", 65), clientBody(20)},
				{"client id with NUL", "PUT", "/api/v1/keys/clients/a%00b", clientBody(20)},
				{"101 prekeys", "POST", "/api/v1/keys/clients/laptop/prekeys", manyPrekeys},
				{"prekey of 16 bytes", "POST", "/api/v1/keys/clients/laptop/prekeys", map[string]any{"one_time_prekeys": []any{map[string]any{"id": 9, "key": key(1, 16)}}}},
				{"prekey id twice", "POST", "/api/v1/keys/clients/laptop/prekeys", map[string]any{"one_time_prekeys": []any{map[string]any{"id": 9, "key": key(1, 32)}, map[string]any{"id": 9, "key": key(2, 32)}}}},
				{"unsigned pq prekey", "POST", "/api/v1/keys/clients/laptop/prekeys", map[string]any{"pq_one_time_prekeys": []any{map[string]any{"id": 9, "key": key(1, 1184)}}}},
				{"prekeys not an array", "POST", "/api/v1/keys/clients/laptop/prekeys", map[string]any{"one_time_prekeys": "many"}},
				{"master key of 64 bytes", "PUT", "/api/v1/keys/users/me/master", map[string]any{"master_key": key(1, 64)}},
				{"empty client list", "PUT", "/api/v1/keys/users/me/client-list", map[string]any{"version": 1, "master_key": key(1, 32), "clients": []any{}, "sig": key(1, 64)}},
				{"client list of ids alone", "PUT", "/api/v1/keys/users/me/client-list", map[string]any{"version": 1, "master_key": key(1, 32), "clients": []string{"laptop"}, "sig": key(1, 64)}},
				{"client list version 0", "PUT", "/api/v1/keys/users/me/client-list", map[string]any{"version": 0, "master_key": key(1, 32), "clients": []any{map[string]any{"client_id": "laptop", "signing_key": key(11, 32)}}, "sig": key(1, 64)}},
				{"client list out of order", "PUT", "/api/v1/keys/users/me/client-list", map[string]any{"version": 1, "master_key": key(1, 32), "clients": []any{
					map[string]any{"client_id": "laptop", "signing_key": key(11, 32)}, map[string]any{"client_id": "a", "signing_key": key(11, 32)}}, "sig": key(1, 64)}},
				{"client list twice the same", "PUT", "/api/v1/keys/users/me/client-list", map[string]any{"version": 1, "master_key": key(1, 32), "clients": []any{
					map[string]any{"client_id": "laptop", "signing_key": key(11, 32)}, map[string]any{"client_id": "laptop", "signing_key": key(11, 32)}}, "sig": key(1, 64)}},
				{"client list signing key of 31 bytes", "PUT", "/api/v1/keys/users/me/client-list", map[string]any{"version": 1, "master_key": key(1, 32), "clients": []any{
					map[string]any{"client_id": "laptop", "signing_key": key(11, 31)}}, "sig": key(1, 64)}},
				{"no messages", "POST", "/api/v1/to-device", map[string]any{"messages": []any{}}},
				{"101 messages", "POST", "/api/v1/to-device", map[string]any{"messages": tooManyMsgs}},
				{"ciphertext not base64", "POST", "/api/v1/to-device", msg("not base64!")},
				{"ciphertext with NUL", "POST", "/api/v1/to-device", msg("AAAA\x00")},
				{"empty ciphertext", "POST", "/api/v1/to-device", msg("")},
				{"ciphertext too long", "POST", "/api/v1/to-device", msg(key(1, 48<<10))},
				{"user id with NUL", "POST", "/api/v1/to-device", map[string]any{"messages": []any{map[string]any{"user_id": "a\x00", "client_id": "laptop", "ciphertext": "AAAA"}}}},
				{"1001 ids to ack", "POST", "/api/v1/to-device/ack", map[string]any{"ids": manyIDs}},
				{"no ids to ack", "POST", "/api/v1/to-device/ack", map[string]any{"ids": []string{}}},
				{"backup version 0", "PUT", "/api/v1/keys/backup", map[string]any{"version": 0, "auth_data": "", "data": "AAAA"}},
				{"backup auth data over 4 KiB", "PUT", "/api/v1/keys/backup", map[string]any{"version": 1, "auth_data": key(1, 4097), "data": "AAAA"}},
				{"backup data not base64", "PUT", "/api/v1/keys/backup", map[string]any{"version": 1, "auth_data": "", "data": "AAA"}},
				{"backup without data", "PUT", "/api/v1/keys/backup", map[string]any{"version": 1, "auth_data": ""}},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					newCall(t, n, tc.method, tc.path).bearer(at.AccessToken).json(tc.body).expectError(400, "invalid_argument")
				})
			}
			newCall(t, n, "GET", "/api/v1/to-device?limit=500").bearer(at.AccessToken).expectError(400, "invalid_argument")
			newCall(t, n, "GET", "/api/v1/to-device?cursor=a%00").bearer(at.AccessToken).expectError(400, "invalid_argument")
			// Nothing changed.
			c := getClient(t, n, at.AccessToken, "laptop")
			if c.IdentityKey != key(10, 32) || c.OneTimePreKeys != 2 || c.SignedPreKey.ID != 1 || c.PQPreKey.Key != key(17, 1184) {
				t.Fatalf("the client changed: %+v", c)
			}
			var list struct{ Clients []clientJSON }
			newCall(t, n, "GET", "/api/v1/keys/clients").bearer(at.AccessToken).expect(200, &list)
			if len(list.Clients) != 1 {
				t.Fatalf("clients = %+v", list.Clients)
			}
			var inbox struct{ Messages []any }
			newCall(t, n, "GET", "/api/v1/to-device").bearer(at.AccessToken).expect(200, &inbox)
			newCall(t, n, "GET", "/api/v1/keys/backup").bearer(at.AccessToken).expectError(404, "not_found")
			if len(inbox.Messages) != 0 {
				t.Fatalf("inbox = %v", inbox.Messages)
			}
			var keys userKeysJSON
			newCall(t, n, "GET", "/api/v1/users/"+alice.ID+"/keys").bearer(at.AccessToken).expect(200, &keys)
			if keys.Keys.MasterKey != "" {
				t.Fatalf("a master key was set: %+v", keys.Keys)
			}
		})
	}
}

// TestKeyFetchLimits: bundle fetches are limited per (requester, target)
// and per requester, with the documented 429.
func TestKeyFetchLimits(t *testing.T) {
	cfg := testserver.Config(t, "sqlite")
	cfg.RateKeysFetch.N, cfg.RateKeysFetch.Per = 2, time.Hour
	cfg.RateKeysFetchUser.N, cfg.RateKeysFetchUser.Per = 3, time.Hour
	n := testserver.Start(t, cfg)
	alice := bootstrapAdmin(t, n, "alice", bobPW)
	bob := register(t, n, "bob", bobPW)
	carol := register(t, n, "carol", bobPW)
	mallory := register(t, n, "mallory", bobPW)
	at := login(t, n, "alice", bobPW)
	mt := login(t, n, "mallory", bobPW)
	newCall(t, n, "PUT", "/api/v1/keys/clients/alice-laptop").bearer(at.AccessToken).json(clientBody(10)).expect(201, nil)
	newCall(t, n, "POST", "/api/v1/keys/clients/alice-laptop/prekeys").bearer(at.AccessToken).json(prekeys(1, 10)).expect(200, nil)

	fetchKeys(t, n, mt.AccessToken, alice.ID)
	fetchKeys(t, n, mt.AccessToken, alice.ID)
	r := newCall(t, n, "GET", "/api/v1/users/"+alice.ID+"/keys").bearer(mt.AccessToken).expectError(429, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	var counts struct {
		OneTime int `json:"one_time_prekeys"`
	}
	newCall(t, n, "GET", "/api/v1/keys/clients/alice-laptop/prekeys/count").bearer(at.AccessToken).expect(200, &counts)
	if counts.OneTime != 8 {
		t.Fatalf("alice has %d prekeys left after mallory's two fetches, want 8", counts.OneTime)
	}
	// Another target is a key of its own, until the requester's own limit.
	fetchKeys(t, n, mt.AccessToken, bob.ID)
	newCall(t, n, "GET", "/api/v1/users/"+carol.ID+"/keys").bearer(mt.AccessToken).expectError(429, "rate_limited")
	// Others are not held back by mallory.
	fetchKeys(t, n, at.AccessToken, mallory.ID)
}
