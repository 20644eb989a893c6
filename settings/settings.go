// Package settings holds the server settings an admin may change while the
// server runs, shared by every node of an install. Each setting's default
// is the node's configuration (its serve flag, config file key or UNHIDRA_
// variable); an override stored in the database wins over it, until an
// admin resets it. Authorization (admins only) and validation live here;
// the transports only translate.
//
// Guarantees:
//
//   - A change is all or nothing: every key and value of a patch is checked
//     before anything is written, and the overrides and their audit events
//     (admin.settings_change, one per setting that changed, with the old and
//     new value) commit in one transaction.
//   - The node that made a change uses it from the moment Update returns.
//     Every other node hears a notification on the bus
//     (wire.SettingsSubject) and reloads the overrides from the database;
//     since the bus is at most once, every node also reloads every
//     ReloadEvery (10 s), so a change reaches a node that missed the
//     notification within that time.
//   - An override the binary cannot use (a key it does not know, written by
//     a newer version, or a value outside its rules) is ignored with a
//     warning: the default applies.
//   - Switching password sign-in to sso-only (by an override or by
//     resetting to a default of sso-only) is refused while no enabled admin
//     is break-glass, so that an outage of the identity provider cannot
//     lock every admin out (Config.CheckSSOOnly).
package settings

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/wire"
)

// Keys of the settings.
const (
	Registration      = "registration"
	PasswordLogin     = "password_login"
	RetentionDays     = "retention_days"
	PasswordMinLength = "password_min_length"
)

// Sources of a setting's value.
const (
	SourceDefault  = "default"  // the node's configuration
	SourceOverride = "override" // set by an admin, kept in the database
)

// Types of a setting's value.
const (
	TypeString  = "string"  // one of Choices
	TypeInteger = "integer" // a whole number from Min to Max
)

// DefaultReloadEvery is how often a node reloads the overrides whatever
// the bus says.
const DefaultReloadEvery = 10 * time.Second

// MaxPatchKeys bounds one patch (there are only a handful of settings).
const MaxPatchKeys = 32

// Defaults are the node's configured values of every setting.
type Defaults struct {
	Registration      string // --registration
	PasswordLogin     string // --password-login
	RetentionDays     int    // --retention-days
	PasswordMinLength int    // --password-min-length
}

// definition is one setting: its rules and where its default comes from.
type definition struct {
	key, flag, description string
	typ                    string
	choices                []string // TypeString
	min, max               int      // TypeInteger
	def                    func(Defaults) any
}

// definitions lists every setting, in the order List returns them. The
// bounds are those of the flags (config.Validate), so that a default is
// always a valid override too.
var definitions = []definition{
	{key: Registration, flag: "--registration", typ: TypeString,
		choices:     []string{unhidra.RegistrationOpen, unhidra.RegistrationInvite, unhidra.RegistrationClosed},
		description: "Who may create an account: open (anyone), invite (with an invite code) or closed (nobody; admins and single sign-on still add people).",
		def:         func(d Defaults) any { return d.Registration }},
	{key: PasswordLogin, flag: "--password-login", typ: TypeString,
		choices:     []string{"on", "sso-only"},
		description: "Password sign-in: on, or sso-only (only break-glass accounts sign in with a password; everyone else through single sign-on). sso-only needs an enabled break-glass admin.",
		def:         func(d Defaults) any { return d.PasswordLogin }},
	{key: RetentionDays, flag: "--retention-days", typ: TypeInteger, min: 0, max: 36500,
		description: "Days messages are kept in channels without a retention of their own; 0 keeps them forever. The next sweep deletes what is older.",
		def:         func(d Defaults) any { return d.RetentionDays }},
	{key: PasswordMinLength, flag: "--password-min-length", typ: TypeInteger, min: 8, max: 128,
		description: "The shortest password, in characters, accepted when an account is created or a password changed; existing passwords keep working.",
		def:         func(d Defaults) any { return d.PasswordMinLength }},
}

func lookup(key string) *definition {
	for i := range definitions {
		if definitions[i].key == key {
			return &definitions[i]
		}
	}
	return nil
}

// Keys returns the keys of every setting, in List's order.
func Keys() []string {
	out := make([]string, len(definitions))
	for i, d := range definitions {
		out[i] = d.key
	}
	return out
}

// Setting is one setting as an admin sees it.
type Setting struct {
	Key         string     `json:"key"`
	Value       any        `json:"value" doc:"the value in force: a string or a whole number, as type says"`
	Default     any        `json:"default" doc:"the value of this node's configuration (its flag), in force when there is no override"`
	Source      string     `json:"source" doc:"default (the configuration's value is in force) or override (an admin's)"`
	Description string     `json:"description"`
	Type        string     `json:"type" doc:"string (one of choices) or integer (from min to max)"`
	Choices     []string   `json:"choices,omitempty" doc:"the values a string setting takes"`
	Min         *int       `json:"min,omitempty" doc:"the least value of an integer setting"`
	Max         *int       `json:"max,omitempty" doc:"the greatest value of an integer setting"`
	Flag        string     `json:"flag" doc:"the serve flag that sets the default (also a config file key and an UNHIDRA_ variable)"`
	UpdatedAt   *time.Time `json:"updated_at,omitempty" doc:"when the override was set"`
	UpdatedBy   string     `json:"updated_by,omitempty" doc:"the user id of the admin who set the override; empty when set from the shell"`
}

// Override is a stored override: the setting's value as JSON.
type Override struct {
	Key       string
	Value     string // JSON: "invite", 30
	UpdatedBy string // user id; "" from the shell
	UpdatedAt time.Time
}

// Store is the storage the settings need (store/settingsstore).
type Store interface {
	// Overrides returns every stored override.
	Overrides(ctx context.Context) ([]Override, error)
	// Tx runs fn in one write transaction, exclusive with every other
	// Tx: what fn reads is what it changes, and everything commits or
	// nothing does.
	Tx(ctx context.Context, fn func(tx Tx) error) error
}

// Tx is a transaction of Store.Tx.
type Tx interface {
	Overrides(ctx context.Context) ([]Override, error)
	// Put stores an override, replacing one of its key.
	Put(ctx context.Context, o Override) error
	// Delete removes the override of key; a missing one is not an error.
	Delete(ctx context.Context, key string) error
	// Audit writes audit events in the transaction.
	Audit(ctx context.Context, events ...*audit.Event) error
}

// Publisher is the part of the bus the service publishes on.
type Publisher interface {
	Publish(ctx context.Context, subject string, data []byte) error
}

// Config wires a Service. Store is required.
type Config struct {
	Store    Store
	Defaults Defaults
	// Bus, when set, carries the notification of a change to the other
	// nodes (wire.SettingsSubject).
	Bus Publisher
	// CheckSSOOnly, when set, is asked before password sign-in becomes
	// sso-only; an error refuses the change (auth.Service.CheckSSOOnly:
	// an enabled break-glass admin must exist).
	CheckSSOOnly func(ctx context.Context) error
	// ReloadEvery is how often Run reloads the overrides
	// (DefaultReloadEvery if zero).
	ReloadEvery time.Duration
	Logger      *slog.Logger
	Now         func() time.Time
}

// Service is the settings of one node: the values in force, kept current
// by Run, and the admin's view and changes.
type Service struct {
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	cur  atomic.Pointer[snapshot]
	kick chan struct{}
	// reloadMu orders reloads, so that an older read never replaces a
	// newer one.
	reloadMu sync.Mutex
}

// snapshot is the values in force: the defaults with the usable
// overrides on top.
type snapshot struct {
	values    map[string]any
	overrides map[string]Override
}

// New returns a Service with every setting at its default; Reload (or
// Run) loads the overrides.
func New(cfg Config) *Service {
	if cfg.ReloadEvery <= 0 {
		cfg.ReloadEvery = DefaultReloadEvery
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, log: cfg.Logger, now: cfg.Now, kick: make(chan struct{}, 1)}
	s.cur.Store(s.build(nil))
	return s
}

// build makes the snapshot of the defaults and the usable overrides.
func (s *Service) build(overrides []Override) *snapshot {
	snap := &snapshot{values: map[string]any{}, overrides: map[string]Override{}}
	for _, d := range definitions {
		snap.values[d.key] = d.def(s.cfg.Defaults)
	}
	for _, o := range overrides {
		d := lookup(o.Key)
		if d == nil {
			s.log.Warn("settings: ignoring an override of a setting this version does not know", slog.String("key", cut(o.Key)))
			continue
		}
		v, err := d.parse(json.RawMessage(o.Value))
		if err != nil || v == nil {
			s.log.Warn("settings: ignoring an override this version cannot use; the default applies", slog.String("key", o.Key), slog.Any("err", err))
			continue
		}
		snap.values[d.key] = v
		snap.overrides[d.key] = o
	}
	return snap
}

func cut(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// parse reads a JSON value of the setting: nil for null (reset).
func (d *definition) parse(raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	switch d.typ {
	case TypeString:
		var v string
		if raw[0] != '"' || json.Unmarshal(raw, &v) != nil {
			return nil, fmt.Errorf("%s: want one of %s", d.key, strings.Join(d.choices, ", "))
		}
		if !slices.Contains(d.choices, v) {
			return nil, fmt.Errorf("%s: %s is not one of %s", d.key, quote(v), strings.Join(d.choices, ", "))
		}
		return v, nil
	case TypeInteger:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: want a whole number from %d to %d", d.key, d.min, d.max)
		}
		if n < int64(d.min) || n > int64(d.max) {
			return nil, fmt.Errorf("%s: %d is outside %d to %d", d.key, n, d.min, d.max)
		}
		return int(n), nil
	}
	return nil, fmt.Errorf("%s: unknown type", d.key)
}

// quote shows a caller's string in an error, bounded.
func quote(s string) string { return strconv.QuoteToASCII(cut(s)) }

// encode writes a value as the stored JSON.
func encode(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// show writes a value for the audit log and logs: strings as they are.
func show(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// Change is one parsed entry of a patch: a new override, or a reset
// (Value nil).
type Change struct {
	Key   string
	Value any
}

// ParsePatch checks a patch: each key a known setting, each value null
// (back to the default) or valid for its setting. It returns the changes
// in key order, or an EInvalid error naming every bad entry.
func ParsePatch(patch map[string]json.RawMessage) ([]Change, error) {
	if len(patch) == 0 {
		return nil, unhidra.Errorf(unhidra.EInvalid, "name at least one setting, with its new value or null for its default")
	}
	if len(patch) > MaxPatchKeys {
		return nil, unhidra.Errorf(unhidra.EInvalid, "at most %d settings at once", MaxPatchKeys)
	}
	keys := make([]string, 0, len(patch))
	for k := range patch {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var bad []string
	out := make([]Change, 0, len(keys))
	for _, k := range keys {
		d := lookup(k)
		if d == nil {
			bad = append(bad, fmt.Sprintf("%s is not a setting (the settings are %s)", quote(k), strings.Join(Keys(), ", ")))
			continue
		}
		v, err := d.parse(patch[k])
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		out = append(out, Change{Key: k, Value: v})
	}
	if len(bad) > 0 {
		return nil, unhidra.Errorf(unhidra.EInvalid, "nothing was changed: %s", strings.Join(bad, "; "))
	}
	return out, nil
}

func requireAdmin(ctx context.Context) (*unhidra.Principal, error) {
	p := unhidra.PrincipalFromContext(ctx)
	if p == nil || p.UserID == "" {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "sign in first")
	}
	if p.Role != unhidra.RoleAdmin {
		return nil, unhidra.Errorf(unhidra.EPermission, "only admins may read or change the server settings")
	}
	return p, nil
}

// List returns every setting with its value in force, read from the
// database (so that it shows a change made on another node at once).
// Admins only.
func (s *Service) List(ctx context.Context) ([]Setting, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.ListUnchecked(ctx)
}

// ListUnchecked is List for the operator's shell (unhidra admin settings),
// which has no caller to authorize.
func (s *Service) ListUnchecked(ctx context.Context) ([]Setting, error) {
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	return s.view(s.cur.Load()), nil
}

func (s *Service) view(snap *snapshot) []Setting {
	out := make([]Setting, 0, len(definitions))
	for _, d := range definitions {
		st := Setting{Key: d.key, Value: snap.values[d.key], Default: d.def(s.cfg.Defaults), Source: SourceDefault,
			Description: d.description, Type: d.typ, Flag: d.flag}
		if d.typ == TypeString {
			st.Choices = slices.Clone(d.choices)
		} else {
			lo, hi := d.min, d.max
			st.Min, st.Max = &lo, &hi
		}
		if o, ok := snap.overrides[d.key]; ok {
			st.Source = SourceOverride
			at := o.UpdatedAt
			st.UpdatedAt, st.UpdatedBy = &at, o.UpdatedBy
		}
		out = append(out, st)
	}
	return out
}

// Update applies a patch: for each key its new value, or null to return
// to the default. Admins only. Every entry is checked first (EInvalid
// names the bad ones and nothing changes); then the overrides and one
// audit event per setting that changed commit in one transaction, this
// node uses the new values at once and the other nodes are told. It
// returns every setting, as List.
func (s *Service) Update(ctx context.Context, patch map[string]json.RawMessage) ([]Setting, error) {
	p, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	return s.update(ctx, patch, p)
}

// UpdateUnchecked is Update for the operator's shell, recorded as the
// system's action: the way back from an override the web no longer
// allows to undo (the flags are only defaults, so a changed flag does
// not beat an override).
func (s *Service) UpdateUnchecked(ctx context.Context, patch map[string]json.RawMessage) ([]Setting, error) {
	return s.update(ctx, patch, nil)
}

func (s *Service) update(ctx context.Context, patch map[string]json.RawMessage, p *unhidra.Principal) ([]Setting, error) {
	changes, err := ParsePatch(patch)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	by := ""
	if p != nil {
		by = p.UserID
	}
	// The rules beyond a value's own are checked first, on the values in
	// force now: they read other tables, which the transaction must not.
	stored, err := s.cfg.Store.Overrides(ctx)
	if err != nil {
		return nil, fmt.Errorf("settings: load overrides: %w", err)
	}
	current := s.build(stored)
	for _, c := range changes {
		next := c.Value
		if next == nil {
			next = lookup(c.Key).def(s.cfg.Defaults)
		}
		if err := s.guard(ctx, c.Key, current.values[c.Key], next); err != nil {
			return nil, err
		}
	}
	var changed []string
	var snap *snapshot
	err = s.cfg.Store.Tx(ctx, func(tx Tx) error {
		changed = changed[:0]
		stored, err := tx.Overrides(ctx)
		if err != nil {
			return err
		}
		before := s.build(stored)
		next := map[string]Override{}
		for k, o := range before.overrides {
			next[k] = o
		}
		var events []*audit.Event
		for _, c := range changes {
			d := lookup(c.Key)
			old, had := before.overrides[c.Key]
			oldValue := before.values[c.Key]
			newValue := c.Value
			if c.Value == nil {
				newValue = d.def(s.cfg.Defaults)
				if !had {
					continue // already the default
				}
				if err := tx.Delete(ctx, c.Key); err != nil {
					return err
				}
				delete(next, c.Key)
			} else {
				if had && old.Value == encode(c.Value) {
					continue // the same override
				}
				o := Override{Key: c.Key, Value: encode(c.Value), UpdatedBy: by, UpdatedAt: now}
				if err := tx.Put(ctx, o); err != nil {
					return err
				}
				next[c.Key] = o
			}
			source := SourceOverride
			if c.Value == nil {
				source = SourceDefault
			}
			events = append(events, s.event(ctx, p, c.Key, show(oldValue), show(newValue), source, now))
			changed = append(changed, c.Key)
		}
		if len(events) > 0 {
			if err := tx.Audit(ctx, events...); err != nil {
				return err
			}
		}
		list := make([]Override, 0, len(next))
		for _, o := range next {
			list = append(list, o)
		}
		snap = s.build(list)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// What the transaction read and wrote is the newest state: in force
	// here from now on.
	s.reloadMu.Lock()
	s.cur.Store(snap)
	s.reloadMu.Unlock()
	if len(changed) > 0 {
		s.log.LogAttrs(ctx, slog.LevelInfo, "settings changed", slog.String("by", by), slog.Any("keys", changed))
		s.notify(ctx, changed)
	}
	return s.view(snap), nil
}

// guard applies the rules beyond a value's own: password sign-in becomes
// sso-only only while an enabled break-glass admin exists.
func (s *Service) guard(ctx context.Context, key string, old, next any) error {
	if key == PasswordLogin && next == "sso-only" && old != "sso-only" && s.cfg.CheckSSOOnly != nil {
		return s.cfg.CheckSSOOnly(ctx)
	}
	return nil
}

func (s *Service) event(ctx context.Context, p *unhidra.Principal, key, old, next, source string, at time.Time) *audit.Event {
	e := &audit.Event{Action: audit.ActionSettingsChange, ActorType: audit.ActorSystem, TargetType: "setting", TargetID: key,
		IP: audit.CleanIP(audit.ClientIP(ctx)), Result: audit.ResultOK, Time: at,
		Metadata: map[string]string{"key": key, "old": old, "new": next, "source": source}}
	if p != nil {
		e.ActorType, e.ActorID = audit.ActorUser, p.UserID
	} else {
		e.Metadata["via"] = "cli"
	}
	return e
}

// notify tells the other nodes that settings changed. A lost notification
// costs at most ReloadEvery.
func (s *Service) notify(ctx context.Context, keys []string) {
	if s.cfg.Bus == nil {
		return
	}
	b := wire.SettingsChanged{Keys: keys}.Encode()
	if err := s.cfg.Bus.Publish(context.WithoutCancel(ctx), wire.SettingsSubject, b); err != nil {
		s.log.Warn("settings: tell the other nodes; they reload within the reload interval", slog.Any("err", err))
	}
}

// Reload reads the overrides from the database and puts them in force.
func (s *Service) Reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	os, err := s.cfg.Store.Overrides(ctx)
	if err != nil {
		return fmt.Errorf("settings: load overrides: %w", err)
	}
	next := s.build(os)
	if prev := s.cur.Load(); !sameValues(prev, next) {
		s.log.Info("settings reloaded", slog.Any("changed", changedKeys(prev, next)))
	}
	s.cur.Store(next)
	return nil
}

func sameValues(a, b *snapshot) bool { return len(changedKeys(a, b)) == 0 }

func changedKeys(a, b *snapshot) []string {
	var out []string
	for _, d := range definitions {
		if a.values[d.key] != b.values[d.key] {
			out = append(out, d.key)
		}
	}
	return out
}

// Changed asks Run to reload soon: the bus handler of
// wire.SettingsSubject calls it. It never blocks.
func (s *Service) Changed() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run keeps the values in force current until ctx ends: it reloads every
// ReloadEvery and after each Changed. A failed reload keeps the values
// it had and is retried at the next tick.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.ReloadEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := s.Reload(rctx); err != nil && ctx.Err() == nil {
			s.log.Warn("settings: reload failed; keeping the values in force", slog.Any("err", err))
		}
		cancel()
	}
}

// The values in force, for the services that enforce them.

// Registration is who may register (unhidra.Registration*).
func (s *Service) Registration() string { return s.cur.Load().values[Registration].(string) }

// PasswordLogin is the password sign-in policy ("on" or "sso-only").
func (s *Service) PasswordLogin() string { return s.cur.Load().values[PasswordLogin].(string) }

// RetentionDays is the server's default retention (0: forever).
func (s *Service) RetentionDays() int { return s.cur.Load().values[RetentionDays].(int) }

// PasswordMinLength is the shortest password accepted.
func (s *Service) PasswordMinLength() int { return s.cur.Load().values[PasswordMinLength].(int) }
