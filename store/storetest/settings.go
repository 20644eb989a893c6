package storetest

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/settings"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/settingsstore"
)

// Settings runs the contract cases of settings.Store, on
// settingsstore.Store, as parallel subtests of t (open as for Accounts).
func Settings(t *testing.T, open func(t *testing.T) *store.DB) {
	cases := []struct {
		name string
		fn   func(t *testing.T, db *store.DB, st settings.Store)
	}{
		{"Settings/PutReadDelete", testSettingsPutReadDelete},
		{"Settings/TxAllOrNothing", testSettingsAllOrNothing},
		{"Settings/TxExclusive", testSettingsExclusive},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			c.fn(t, db, settingsstore.New(db))
		})
	}
}

func overridesOf(t *testing.T, st settings.Store) map[string]settings.Override {
	t.Helper()
	os, err := st.Overrides(t.Context())
	mustOK(t, err)
	m := map[string]settings.Override{}
	for _, o := range os {
		m[o.Key] = o
	}
	return m
}

func outboxRows(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	mustOK(t, db.Read().QueryRow(t.Context(), `SELECT COUNT(*) FROM audit_outbox`).Scan(&n))
	return n
}

// testSettingsPutReadDelete: Put stores and replaces, Delete removes (a
// missing key too), times come back as stored.
func testSettingsPutReadDelete(t *testing.T, _ *store.DB, st settings.Store) {
	ctx := t.Context()
	if len(overridesOf(t, st)) != 0 {
		t.Fatal("a new database has overrides")
	}
	put := func(o settings.Override) {
		mustOK(t, st.Tx(ctx, func(tx settings.Tx) error { return tx.Put(ctx, o) }))
	}
	put(settings.Override{Key: "registration", Value: `"invite"`, UpdatedBy: "u-1", UpdatedAt: now})
	put(settings.Override{Key: "retention_days", Value: `30`, UpdatedAt: now})
	put(settings.Override{Key: "registration", Value: `"closed"`, UpdatedBy: "u-2", UpdatedAt: now.Add(1)})
	got := overridesOf(t, st)
	if len(got) != 2 || got["registration"].Value != `"closed"` || got["registration"].UpdatedBy != "u-2" ||
		!got["registration"].UpdatedAt.Equal(now.Add(1).Truncate(1000)) || got["retention_days"].Value != `30` || got["retention_days"].UpdatedBy != "" {
		t.Fatalf("overrides = %+v", got)
	}
	mustOK(t, st.Tx(ctx, func(tx settings.Tx) error {
		if err := tx.Delete(ctx, "registration"); err != nil {
			return err
		}
		return tx.Delete(ctx, "not_there")
	}))
	if got := overridesOf(t, st); len(got) != 1 || got["retention_days"].Value != `30` {
		t.Fatalf("after delete: %+v", got)
	}
}

// testSettingsAllOrNothing: a Tx that fails leaves neither its overrides
// nor its audit events; one that succeeds keeps both.
func testSettingsAllOrNothing(t *testing.T, db *store.DB, st settings.Store) {
	ctx := t.Context()
	ev := func() *audit.Event {
		return &audit.Event{Action: audit.ActionSettingsChange, ActorType: audit.ActorUser, ActorID: "u-1", TargetType: "setting",
			TargetID: "registration", Metadata: map[string]string{"key": "registration", "old": "open", "new": "closed"}, Time: now}
	}
	boom := errors.New("boom")
	err := st.Tx(ctx, func(tx settings.Tx) error {
		if err := tx.Put(ctx, settings.Override{Key: "registration", Value: `"closed"`, UpdatedAt: now}); err != nil {
			return err
		}
		if err := tx.Audit(ctx, ev()); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx = %v, want boom", err)
	}
	if len(overridesOf(t, st)) != 0 || outboxRows(t, db) != 0 {
		t.Fatal("a failed Tx left an override or an audit event")
	}
	mustOK(t, st.Tx(ctx, func(tx settings.Tx) error {
		if err := tx.Put(ctx, settings.Override{Key: "registration", Value: `"closed"`, UpdatedAt: now}); err != nil {
			return err
		}
		return tx.Audit(ctx, ev())
	}))
	if len(overridesOf(t, st)) != 1 || outboxRows(t, db) != 1 {
		t.Fatal("a committed Tx lost its override or its audit event")
	}
}

// testSettingsExclusive: concurrent Txs that read a value and write it
// plus one lose no increment.
func testSettingsExclusive(t *testing.T, _ *store.DB, st settings.Store) {
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- st.Tx(ctx, func(tx settings.Tx) error {
				os, err := tx.Overrides(ctx)
				if err != nil {
					return err
				}
				v := 0
				for _, o := range os {
					if o.Key == "counter" {
						v, _ = strconv.Atoi(o.Value)
					}
				}
				return tx.Put(ctx, settings.Override{Key: "counter", Value: strconv.Itoa(v + 1), UpdatedAt: now})
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		mustOK(t, err)
	}
	if got := overridesOf(t, st)["counter"].Value; got != strconv.Itoa(n) {
		t.Fatalf("counter = %s after %d exclusive increments", got, n)
	}
}
