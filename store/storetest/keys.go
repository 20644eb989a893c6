package storetest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/keys"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/authstore"
	"github.com/unhidra/unhidra/store/e2eestore"
)

// Keys runs the contract cases of keys.Store, on e2eestore.Store, as
// parallel subtests of t, with the same open as Accounts.
func Keys(t *testing.T, open func(t *testing.T) *store.DB) {
	cases := []struct {
		name string
		fn   func(t *testing.T, users auth.Store, st keys.Store)
	}{
		{"Keys/ClientInsertReadUpdate", testClientRoundTrip},
		{"Keys/ClientIDTakenOnce", testClientIDTaken},
		{"Keys/RemoveKeepsTheIDAndDropsTheRest", testRemoveClient},
		{"Keys/PrekeysPoppedOnceOldestFirst", testPopOrder},
		{"Keys/PrekeysSameIDSkippedOtherKeyConflicts", testAddPreKeysConflict},
		{"Keys/PrekeyPopsConcurrent", testPopConcurrent},
		{"Keys/RetiredPrekeys", testRetired},
		{"Keys/MasterKeyClearsClientList", testMasterKey},
		{"Keys/LockUserSerializesFirstWriters", testLockUserConcurrent},
		{"Keys/BackupOnlyNewerVersions", testBackupVersions},
		{"Keys/ToDeviceInbox", testToDeviceInbox},
		{"Keys/SweepExpired", testKeysSweep},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			c.fn(t, authstore.New(db), e2eestore.New(db))
		})
	}
}

// fill returns n bytes of b: a key of that size, different per b.
func fill(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func sampleClient(id, userID string, b byte) *keys.Client {
	c := &keys.Client{ClientKeys: unhidra.ClientKeys{
		ClientID: id, UserID: userID,
		IdentityKey: fill(b, 32), SigningKey: fill(b+1, 32), IdentitySig: fill(b+2, 64),
		SignedPreKey:     &unhidra.SignedPreKey{ID: 1, Key: fill(b+3, 32), Sig: fill(b+4, 64)},
		LastResortPreKey: &unhidra.SignedPreKey{ID: 2, Key: fill(b+5, 32), Sig: fill(b+6, 64)},
		CreatedAt:        now, UpdatedAt: now,
	}}
	return c
}

func insertClient(t *testing.T, st keys.Store, c *keys.Client) {
	t.Helper()
	mustOK(t, st.Tx(t.Context(), func(tx keys.Tx) error { return tx.InsertClient(t.Context(), c) }))
}

func addX(t *testing.T, st keys.Store, clientID string, ids ...uint32) {
	t.Helper()
	var ks []unhidra.PreKey
	for _, id := range ids {
		ks = append(ks, unhidra.PreKey{ID: id, Key: fill(byte(id), 32)})
	}
	mustOK(t, st.Tx(t.Context(), func(tx keys.Tx) error { return tx.AddPreKeys(t.Context(), clientID, ks, nil, now) }))
}

func pop(ctx context.Context, st keys.Store, clientID string) (*unhidra.PreKey, error) {
	return popHolding(ctx, st, clientID, 0)
}

// popHolding pops in a transaction that stays open for hold after the pop,
// as a bundle fetch does while it pops the user's other clients' prekeys.
func popHolding(ctx context.Context, st keys.Store, clientID string, hold time.Duration) (*unhidra.PreKey, error) {
	var k *unhidra.PreKey
	err := st.Tx(ctx, func(tx keys.Tx) error {
		var err error
		k, err = tx.PopPreKey(ctx, clientID)
		time.Sleep(hold)
		return err
	})
	return k, err
}

func testClientRoundTrip(t *testing.T, users auth.Store, st keys.Store) {
	ctx := t.Context()
	a := newUser(t, users, "alice")
	c := sampleClient("laptop", a.ID, 1)
	c.PQPreKey = &unhidra.SignedPreKey{ID: 9, Key: fill(7, unhidra.MLKEM768KeySize), Sig: fill(8, 64)}
	insertClient(t, st, c)
	got, err := st.Client(ctx, "laptop")
	mustOK(t, err)
	if got.UserID != a.ID || !bytes.Equal(got.IdentityKey, c.IdentityKey) || got.PQPreKey == nil || got.PQPreKey.ID != 9 ||
		!bytes.Equal(got.PQPreKey.Key, c.PQPreKey.Key) || got.LastResortPreKey.ID != 2 || got.RemovedAt != nil || !got.CreatedAt.Equal(now) {
		t.Fatalf("client read back as %+v", got)
	}
	c.PQPreKey, c.LastResortPreKey = nil, nil
	c.SignedPreKey = &unhidra.SignedPreKey{ID: 3, Key: fill(9, 32), Sig: fill(10, 64)}
	c.UpdatedAt = now.Add(time.Minute)
	mustOK(t, st.Tx(ctx, func(tx keys.Tx) error { return tx.UpdateClient(ctx, c) }))
	got, err = st.Client(ctx, "laptop")
	mustOK(t, err)
	if got.PQPreKey != nil || got.LastResortPreKey != nil || got.SignedPreKey.ID != 3 || !got.UpdatedAt.Equal(c.UpdatedAt) {
		t.Fatalf("updated client read back as %+v", got)
	}
	list, err := st.Clients(ctx, a.ID)
	mustOK(t, err)
	if len(list) != 1 || list[0].ClientID != "laptop" {
		t.Fatalf("clients = %v", list)
	}
	_, err = st.Client(ctx, "nope")
	wantCode(t, err, unhidra.ENotFound)
}

func testClientIDTaken(t *testing.T, users auth.Store, st keys.Store) {
	a, b := newUser(t, users, "alice"), newUser(t, users, "bob")
	insertClient(t, st, sampleClient("shared", a.ID, 1))
	err := st.Tx(t.Context(), func(tx keys.Tx) error { return tx.InsertClient(t.Context(), sampleClient("shared", b.ID, 2)) })
	wantCode(t, err, unhidra.EConflict)
	got, err := st.Client(t.Context(), "shared")
	mustOK(t, err)
	if got.UserID != a.ID {
		t.Fatalf("the id changed hands: %+v", got)
	}
}

func testRemoveClient(t *testing.T, users auth.Store, st keys.Store) {
	ctx := t.Context()
	a := newUser(t, users, "alice")
	insertClient(t, st, sampleClient("old", a.ID, 1))
	addX(t, st, "old", 1, 2)
	mustOK(t, st.Tx(ctx, func(tx keys.Tx) error {
		return tx.AddToDevice(ctx, []*unhidra.ToDeviceMessage{{ID: "m1", UserID: a.ID, ClientID: "old", FromUser: a.ID, FromClient: "old",
			Ciphertext: "AAAA", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}})
	}))
	mustOK(t, st.Tx(ctx, func(tx keys.Tx) error { return tx.RemoveClient(ctx, "old", now) }))
	got, err := st.Client(ctx, "old")
	mustOK(t, err)
	if got.RemovedAt == nil || got.IdentityKey != nil || got.SignedPreKey != nil || got.UserID != a.ID {
		t.Fatalf("removed client = %+v", got)
	}
	if list, _ := st.Clients(ctx, a.ID); len(list) != 0 {
		t.Fatalf("a removed client is listed: %v", list)
	}
	if n, _ := st.PreKeyCounts(ctx, "old"); n.OneTimePreKeys != 0 {
		t.Fatalf("prekeys left: %+v", n)
	}
	if msgs, _ := st.ToDevice(ctx, a.ID, "old", nil, "", now, 10); len(msgs) != 0 {
		t.Fatalf("inbox left: %v", msgs)
	}
}

func testPopOrder(t *testing.T, users auth.Store, st keys.Store) {
	ctx := t.Context()
	a := newUser(t, users, "alice")
	insertClient(t, st, sampleClient("c", a.ID, 1))
	addX(t, st, "c", 30, 10)
	mustOK(t, st.Tx(ctx, func(tx keys.Tx) error {
		return tx.AddPreKeys(ctx, "c", []unhidra.PreKey{{ID: 20, Key: fill(20, 32)}}, nil, now.Add(time.Second))
	}))
	mustOK(t, st.Tx(ctx, func(tx keys.Tx) error {
		return tx.AddPreKeys(ctx, "c", nil, []unhidra.SignedPreKey{{ID: 5, Key: fill(5, unhidra.MLKEM768KeySize), Sig: fill(6, 64)}}, now)
	}))
	if n, _ := st.PreKeyCounts(ctx, "c"); n.OneTimePreKeys != 3 || n.PQOneTimePreKeys != 1 {
		t.Fatalf("counts = %+v", n)
	}
	for _, want := range []uint32{10, 30, 20} { // oldest upload first, then by id
		k, err := pop(ctx, st, "c")
		mustOK(t, err)
		if k == nil || k.ID != want || !bytes.Equal(k.Key, fill(byte(want), 32)) {
			t.Fatalf("popped %+v, want id %d", k, want)
		}
	}
	if k, err := pop(ctx, st, "c"); err != nil || k != nil {
		t.Fatalf("pop of none = %+v, %v", k, err)
	}
	var pq *unhidra.SignedPreKey
	mustOK(t, st.Tx(ctx, func(tx keys.Tx) error {
		var err error
		pq, err = tx.PopPQPreKey(ctx, "c")
		return err
	}))
	if pq == nil || pq.ID != 5 || len(pq.Key) != unhidra.MLKEM768KeySize || !bytes.Equal(pq.Sig, fill(6, 64)) {
		t.Fatalf("pq pop = %+v", pq)
	}
}

func testAddPreKeysConflict(t *testing.T, users auth.Store, st keys.Store) {
	ctx := t.Context()
	a := newUser(t, users, "alice")
	insertClient(t, st, sampleClient("c", a.ID, 1))
	addX(t, st, "c", 1, 2)
	addX(t, st, "c", 2, 3) // 2 again with the same key: skipped
	if n, _ := st.PreKeyCounts(ctx, "c"); n.OneTimePreKeys != 3 {
		t.Fatalf("counts = %+v", n)
	}
	err := st.Tx(ctx, func(tx keys.Tx) error {
		return tx.AddPreKeys(ctx, "c", []unhidra.PreKey{{ID: 4, Key: fill(4, 32)}, {ID: 3, Key: fill(99, 32)}}, nil, now)
	})
	wantCode(t, err, unhidra.EConflict)
	if n, _ := st.PreKeyCounts(ctx, "c"); n.OneTimePreKeys != 3 {
		t.Fatalf("a refused upload left keys behind: %+v", n)
	}
}

// testPopConcurrent: goroutines popping one client's prekeys at once, each
// in its own transaction held open a moment so that they overlap, get
// every prekey exactly once between them and then none; no pop fails, and
// none finds nothing while prekeys remain (on PostgreSQL a pop that waited
// for another's row instead of skipping it would).
func testPopConcurrent(t *testing.T, users auth.Store, st keys.Store) {
	ctx := t.Context()
	a := newUser(t, users, "alice")
	insertClient(t, st, sampleClient("c", a.ID, 1))
	const workers, each = 16, 12
	const total = workers * each
	for i := 0; i < total; i += 96 {
		ids := make([]uint32, 0, 96)
		for j := i; j < i+96; j++ {
			ids = append(ids, uint32(j))
		}
		addX(t, st, "c", ids...)
	}
	var mu sync.Mutex
	seen := map[uint32]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				k, err := popHolding(ctx, st, "c", time.Millisecond)
				if err != nil {
					t.Error(err)
					return
				}
				if k == nil {
					t.Error("a pop found no prekey while others remained")
					return
				}
				mu.Lock()
				seen[k.ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if len(seen) != total {
		t.Fatalf("%d distinct prekeys handed out, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("prekey %d handed out %d times", id, n)
		}
	}
	if k, err := pop(ctx, st, "c"); err != nil || k != nil {
		t.Fatalf("pop after all were taken = %+v, %v", k, err)
	}
}

func testRetired(t *testing.T, users auth.Store, st keys.Store) {
	ctx := t.Context()
	a := newUser(t, users, "alice")
	insertClient(t, st, sampleClient("c", a.ID, 1))
	k := &unhidra.SignedPreKey{ID: 1, Key: fill(1, 32), Sig: fill(2, 64)}
	mustOK(t, st.Tx(ctx, func(tx keys.Tx) error {
		if err := tx.RetirePreKey(ctx, "c", unhidra.PreKeySigned, k, now); err != nil {
			return err
		}
		return tx.RetirePreKey(ctx, "c", unhidra.PreKeySigned, k, now.Add(time.Hour)) // again: replaced
	}))
	got, err := st.RetiredPreKeys(ctx, "c")
	mustOK(t, err)
	if len(got) != 1 || got[0].ID != 1 || got[0].Kind != unhidra.PreKeySigned || !got[0].RetiredAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("retired = %+v", got)
	}
}

func testMasterKey(t *testing.T, users auth.Store, st keys.Store) {
	ctx := t.Context()
	a := newUser(t, users, "alice")
	if m, l, err := st.UserKeys(ctx, a.ID); err != nil || m != nil || l != nil {
		t.Fatalf("fresh user keys = %v %v %v", m, l, err)
	}
	mustOK(t, st.Tx(ctx, func(tx keys.Tx) error {
		if _, _, err := tx.LockUser(ctx, a.ID); err != nil {
			return err
		}
		if err := tx.SetMasterKey(ctx, a.ID, fill(1, 32), now); err != nil {
			return err
		}
		return tx.SetClientList(ctx, a.ID, &unhidra.ClientList{UserID: a.ID, Version: 7, MasterKey: fill(1, 32),
			Clients: []unhidra.ClientListEntry{{ClientID: "x", SigningKey: fill(4, 32)}, {ClientID: "y", SigningKey: fill(5, 32)}}, Sig: fill(2, 64), UpdatedAt: now})
	}))
	m, l, err := st.UserKeys(ctx, a.ID)
	mustOK(t, err)
	if !bytes.Equal(m, fill(1, 32)) || l == nil || len(l.Clients) != 2 || l.Clients[1].ClientID != "y" || !bytes.Equal(l.Clients[1].SigningKey, fill(5, 32)) ||
		l.Version != 7 || l.UserID != a.ID || !bytes.Equal(l.MasterKey, fill(1, 32)) || !bytes.Equal(l.Sig, fill(2, 64)) || !l.UpdatedAt.Equal(now) {
		t.Fatalf("user keys = %v %+v", m, l)
	}
	mustOK(t, st.Tx(ctx, func(tx keys.Tx) error { return tx.SetMasterKey(ctx, a.ID, fill(3, 32), now) }))
	if m, l, _ := st.UserKeys(ctx, a.ID); !bytes.Equal(m, fill(3, 32)) || l != nil {
		t.Fatalf("after a new master key: %v %+v (the old list must go)", m, l)
	}
	err = st.Tx(ctx, func(tx keys.Tx) error { _, _, err := tx.LockUser(ctx, "u-nobody"); return err })
	wantCode(t, err, unhidra.ENotFound)
}

// testLockUserConcurrent: first writers of a user's row, racing, each see
// what the one before them wrote, so a check-then-set under LockUser
// lets exactly one set the master key first.
func testLockUserConcurrent(t *testing.T, users auth.Store, st keys.Store) {
	ctx := t.Context()
	a := newUser(t, users, "alice")
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	firsts := 0
	for i := range n {
		wg.Go(func() {
			err := st.Tx(ctx, func(tx keys.Tx) error {
				cur, _, err := tx.LockUser(ctx, a.ID)
				if err != nil || cur != nil {
					return err
				}
				mu.Lock()
				firsts++
				mu.Unlock()
				return tx.SetMasterKey(ctx, a.ID, fill(byte(i), 32), now)
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if firsts != 1 {
		t.Fatalf("%d writers saw no master key; want exactly 1", firsts)
	}
}

func testBackupVersions(t *testing.T, users auth.Store, st keys.Store) {
	ctx := t.Context()
	a := newUser(t, users, "alice")
	put := func(v int64, data string) bool {
		t.Helper()
		var ok bool
		mustOK(t, st.Tx(ctx, func(tx keys.Tx) error {
			var err error
			ok, err = tx.PutBackup(ctx, a.ID, &unhidra.KeyBackup{Version: v, AuthData: []byte("a"), Data: []byte(data), UpdatedAt: now})
			return err
		}))
		return ok
	}
	_, err := st.Backup(ctx, a.ID)
	wantCode(t, err, unhidra.ENotFound)
	if !put(2, "two") || put(2, "again") || put(1, "older") || !put(5, "five") {
		t.Fatal("backup versions: want only newer versions stored")
	}
	b, err := st.Backup(ctx, a.ID)
	mustOK(t, err)
	if b.Version != 5 || string(b.Data) != "five" || string(b.AuthData) != "a" {
		t.Fatalf("backup = %+v", b)
	}
	var deleted bool
	mustOK(t, st.Tx(ctx, func(tx keys.Tx) error { var err error; deleted, err = tx.DeleteBackup(ctx, a.ID); return err }))
	if _, err := st.Backup(ctx, a.ID); !deleted || unhidra.ErrorCode(err) != unhidra.ENotFound {
		t.Fatalf("after delete: %v %v", deleted, err)
	}
}

func testToDeviceInbox(t *testing.T, users auth.Store, st keys.Store) {
	ctx := t.Context()
	a, b := newUser(t, users, "alice"), newUser(t, users, "bob")
	insertClient(t, st, sampleClient("a1", a.ID, 1))
	insertClient(t, st, sampleClient("b1", b.ID, 2))
	var msgs []*unhidra.ToDeviceMessage
	for i := range 5 {
		msgs = append(msgs, &unhidra.ToDeviceMessage{ID: fmt.Sprintf("m%d", i), UserID: b.ID, ClientID: "b1", FromUser: a.ID, FromClient: "a1",
			Ciphertext: "AAAA", CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	}
	mustOK(t, st.Tx(ctx, func(tx keys.Tx) error { return tx.AddToDevice(ctx, msgs) }))
	page, err := st.ToDevice(ctx, b.ID, "b1", nil, "m1", now, 2)
	mustOK(t, err)
	if len(page) != 2 || page[0].ID != "m2" || page[1].ID != "m3" || page[0].FromClient != "a1" || page[0].Ciphertext != "AAAA" {
		t.Fatalf("page after m1 = %+v", page)
	}
	byID, err := st.ToDevice(ctx, b.ID, "b1", []string{"m4", "m0", "nope"}, "", now, 10)
	mustOK(t, err)
	if len(byID) != 2 || byID[0].ID != "m0" || byID[1].ID != "m4" {
		t.Fatalf("by id = %+v", byID)
	}
	if other, _ := st.ToDevice(ctx, a.ID, "b1", nil, "", now, 10); len(other) != 0 {
		t.Fatalf("another user read b1's inbox: %v", other)
	}
	counts, err := st.CountToDevice(ctx, []string{"b1", "a1"})
	mustOK(t, err)
	if counts["b1"] != 5 || counts["a1"] != 0 {
		t.Fatalf("counts = %v", counts)
	}
	// Acks of someone else's client delete nothing; the owner's do.
	if n, err := st.AckToDevice(ctx, a.ID, "b1", []string{"m0"}); err != nil || n != 0 {
		t.Fatalf("foreign ack = %d, %v", n, err)
	}
	if n, err := st.AckToDevice(ctx, b.ID, "b1", []string{"m0", "m1", "m9"}); err != nil || n != 2 {
		t.Fatalf("ack = %d, %v", n, err)
	}
	if left, _ := st.ToDevice(ctx, b.ID, "b1", nil, "", now, 10); len(left) != 3 || left[0].ID != "m2" {
		t.Fatalf("left after ack = %+v", left)
	}
	if late, _ := st.ToDevice(ctx, b.ID, "b1", nil, "", now.Add(2*time.Hour), 10); len(late) != 0 {
		t.Fatalf("expired messages are read: %v", late)
	}
}

func testKeysSweep(t *testing.T, users auth.Store, st keys.Store) {
	ctx := t.Context()
	a := newUser(t, users, "alice")
	insertClient(t, st, sampleClient("c", a.ID, 1))
	mustOK(t, st.Tx(ctx, func(tx keys.Tx) error {
		if err := tx.AddToDevice(ctx, []*unhidra.ToDeviceMessage{
			{ID: "old", UserID: a.ID, ClientID: "c", FromUser: a.ID, FromClient: "c", Ciphertext: "AA==", CreatedAt: now, ExpiresAt: now.Add(time.Minute)},
			{ID: "new", UserID: a.ID, ClientID: "c", FromUser: a.ID, FromClient: "c", Ciphertext: "AA==", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		}); err != nil {
			return err
		}
		if err := tx.RetirePreKey(ctx, "c", unhidra.PreKeySigned, &unhidra.SignedPreKey{ID: 1, Key: fill(1, 32), Sig: fill(1, 64)}, now); err != nil {
			return err
		}
		return tx.RetirePreKey(ctx, "c", unhidra.PreKeyPQ, &unhidra.SignedPreKey{ID: 2, Key: fill(1, 32), Sig: fill(1, 64)}, now.Add(time.Hour))
	}))
	msgs, prekeys, err := st.Sweep(ctx, now.Add(2*time.Minute), now.Add(time.Minute))
	mustOK(t, err)
	if msgs != 1 || prekeys != 1 {
		t.Fatalf("swept %d messages and %d prekeys, want 1 and 1", msgs, prekeys)
	}
	if left, _ := st.ToDevice(ctx, a.ID, "c", nil, "", now, 10); len(left) != 1 || left[0].ID != "new" {
		t.Fatalf("left = %+v", left)
	}
}
