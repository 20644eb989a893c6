package settings_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/settings"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/settingsstore"
	"github.com/unhidra/unhidra/wire"
)

var defaults = settings.Defaults{Registration: "open", PasswordLogin: "on", RetentionDays: 0, PasswordMinLength: 15}

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), testenv.SQLiteURL(t), store.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func adminCtx() context.Context {
	return unhidra.NewContextWithPrincipal(context.Background(), &unhidra.Principal{UserID: "u-admin", Role: unhidra.RoleAdmin, SessionID: "s"})
}

type recordingBus struct {
	mu   sync.Mutex
	sent []string
}

func (b *recordingBus) Publish(_ context.Context, subject string, data []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent = append(b.sent, subject+" "+string(data))
	return nil
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
	}
}

// TestNodesFollowChanges: two services on one database, as two nodes.
// The one that changes a setting uses it at once and announces it; the
// other takes it on a notification (Changed) or, without one, at its
// periodic reload.
func TestNodesFollowChanges(t *testing.T) {
	db := openDB(t)
	bus := &recordingBus{}
	a := settings.New(settings.Config{Store: settingsstore.New(db), Defaults: defaults, Bus: bus})
	notified := settings.New(settings.Config{Store: settingsstore.New(db), Defaults: defaults, ReloadEvery: time.Hour})
	polling := settings.New(settings.Config{Store: settingsstore.New(db), Defaults: defaults, ReloadEvery: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go notified.Run(ctx)
	go polling.Run(ctx)

	if _, err := a.Update(adminCtx(), map[string]json.RawMessage{"registration": json.RawMessage(`"closed"`), "retention_days": json.RawMessage(`90`)}); err != nil {
		t.Fatal(err)
	}
	if a.Registration() != "closed" || a.RetentionDays() != 90 {
		t.Fatalf("the changing node: %s %d", a.Registration(), a.RetentionDays())
	}
	if len(bus.sent) != 1 || bus.sent[0] != wire.SettingsSubject+` {"keys":["registration","retention_days"]}` {
		t.Fatalf("published %q", bus.sent)
	}
	eventually(t, "the polling node", func() bool { return polling.Registration() == "closed" && polling.RetentionDays() == 90 })
	if notified.Registration() != "open" {
		t.Fatal("the other node reloaded without being told")
	}
	notified.Changed()
	eventually(t, "the notified node", func() bool { return notified.Registration() == "closed" })

	if _, err := a.Update(adminCtx(), map[string]json.RawMessage{"registration": json.RawMessage(`null`)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reset on the polling node", func() bool { return polling.Registration() == "open" })
}

// TestUnusableOverrides: rows this binary cannot use (a newer version's
// key, a value outside the rules) leave the defaults in force.
func TestUnusableOverrides(t *testing.T) {
	db := openDB(t)
	st := settingsstore.New(db)
	if err := st.Tx(t.Context(), func(tx settings.Tx) error {
		for _, o := range []settings.Override{
			{Key: "from_the_future", Value: `true`},
			{Key: "registration", Value: `"sometimes"`},
			{Key: "retention_days", Value: `-3`},
			{Key: "password_min_length", Value: `20`},
		} {
			if err := tx.Put(t.Context(), o); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s := settings.New(settings.Config{Store: st, Defaults: defaults})
	if err := s.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s.Registration() != "open" || s.RetentionDays() != 0 || s.PasswordMinLength() != 20 {
		t.Fatalf("values %s %d %d", s.Registration(), s.RetentionDays(), s.PasswordMinLength())
	}
	list, err := s.List(adminCtx())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range list {
		if want := map[string]string{"password_min_length": "override"}[st.Key]; st.Source != want && !(want == "" && st.Source == "default") {
			t.Fatalf("%s: source %s", st.Key, st.Source)
		}
	}
}

// TestOnlyAdmins: the service itself refuses members, guests and callers
// without a principal.
func TestOnlyAdmins(t *testing.T) {
	s := settings.New(settings.Config{Store: settingsstore.New(openDB(t)), Defaults: defaults})
	patch := map[string]json.RawMessage{"registration": json.RawMessage(`"closed"`)}
	for _, role := range []string{unhidra.RoleMember, unhidra.RoleGuest} {
		ctx := unhidra.NewContextWithPrincipal(context.Background(), &unhidra.Principal{UserID: "u", Role: role})
		if _, err := s.List(ctx); unhidra.ErrorCode(err) != unhidra.EPermission {
			t.Fatalf("%s lists: %v", role, err)
		}
		if _, err := s.Update(ctx, patch); unhidra.ErrorCode(err) != unhidra.EPermission {
			t.Fatalf("%s updates: %v", role, err)
		}
	}
	if _, err := s.Update(context.Background(), patch); unhidra.ErrorCode(err) != unhidra.EUnauthenticated {
		t.Fatalf("no caller: %v", err)
	}
	if s.Registration() != "open" {
		t.Fatal("a refused caller changed a setting")
	}
}

// TestSSOOnlyGuard: the check runs only when SSO only would come into
// force, and its refusal changes nothing.
func TestSSOOnlyGuard(t *testing.T) {
	calls := 0
	refuse := true
	s := settings.New(settings.Config{Store: settingsstore.New(openDB(t)), Defaults: defaults, CheckSSOOnly: func(context.Context) error {
		calls++
		if refuse {
			return unhidra.Errorf(unhidra.EConflict, "no break-glass admin")
		}
		return nil
	}})
	patch := func(js string) error {
		var p map[string]json.RawMessage
		if err := json.Unmarshal([]byte(js), &p); err != nil {
			t.Fatal(err)
		}
		_, err := s.Update(adminCtx(), p)
		return err
	}
	if err := patch(`{"password_login": "sso-only", "registration": "closed"}`); unhidra.ErrorCode(err) != unhidra.EConflict {
		t.Fatalf("refused: %v", err)
	}
	if s.PasswordLogin() != "on" || s.Registration() != "open" {
		t.Fatal("a refused patch changed something")
	}
	if err := patch(`{"password_login": "on"}`); err != nil || calls != 1 {
		t.Fatalf("on: %v, %d checks", err, calls)
	}
	refuse = false
	if err := patch(`{"password_login": "sso-only"}`); err != nil || s.PasswordLogin() != "sso-only" || calls != 2 {
		t.Fatalf("allowed: %v %s %d", err, s.PasswordLogin(), calls)
	}
	refuse = true
	if err := patch(`{"password_login": "sso-only"}`); err != nil || calls != 2 {
		t.Fatalf("already in force: %v, %d checks", err, calls)
	}
	// A default of sso-only is checked on the way back to it.
	d := defaults
	d.PasswordLogin = "sso-only"
	s2 := settings.New(settings.Config{Store: settingsstore.New(openDB(t)), Defaults: d, CheckSSOOnly: func(context.Context) error {
		return unhidra.Errorf(unhidra.EConflict, "no break-glass admin")
	}})
	if _, err := s2.Update(adminCtx(), map[string]json.RawMessage{"password_login": json.RawMessage(`"on"`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Update(adminCtx(), map[string]json.RawMessage{"password_login": json.RawMessage(`null`)}); unhidra.ErrorCode(err) != unhidra.EConflict {
		t.Fatalf("reset to sso-only: %v", err)
	}
}

// FuzzParsePatch: any JSON object either parses into changes that are
// each valid (and encode back to what parses the same) or is refused
// with invalid_argument; nothing panics.
func FuzzParsePatch(f *testing.F) {
	for _, s := range []string{`{"registration":"closed"}`, `{"retention_days":30,"password_login":null}`, `{"password_min_length":1e3}`,
		`{"registration":"\u0000"}`, `{"x":1}`, `{"retention_days":-0}`, `{"retention_days":99999999999999999999}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p map[string]json.RawMessage
		if json.Unmarshal(b, &p) != nil {
			return
		}
		changes, err := settings.ParsePatch(p)
		if err != nil {
			if unhidra.ErrorCode(err) != unhidra.EInvalid {
				t.Fatalf("error %v is not invalid_argument", err)
			}
			return
		}
		if len(changes) != len(p) {
			t.Fatalf("%d changes of %d entries", len(changes), len(p))
		}
		for _, c := range changes {
			if c.Value == nil {
				continue
			}
			again, _ := json.Marshal(c.Value)
			back, err := settings.ParsePatch(map[string]json.RawMessage{c.Key: again})
			if err != nil || len(back) != 1 || back[0].Value != c.Value {
				t.Fatalf("%s=%v does not survive its encoding: %v %v", c.Key, c.Value, back, err)
			}
		}
	})
}
