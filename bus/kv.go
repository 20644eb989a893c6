package bus

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// KV is a key-value store shared by every node of an install, whose
// entries live for the store's TTL after their last Put: state that a node
// must keep alive by writing it again (a heartbeat), so that what a killed
// node wrote disappears by itself. The gateway keeps presence in one.
//
// Keys have two parts, a group and a name (Key): List reads whole groups,
// so the entries that belong together (one user's, one per node) are read
// at once without listing anything else. Both parts are arbitrary bytes up
// to MaxKeyPart long; implementations escape them, so no key can act as a
// wildcard or a separator of another backend's syntax. Values are opaque
// bytes up to MaxValue long.
//
// Contract (every implementation):
//   - After Put returns, List on the same KV shows the entry; other nodes'
//     KVs show it within the backend's delivery latency (milliseconds).
//   - An entry not Put again within TTL is gone from List, and Expired
//     reports it: at least once across the nodes that call Expired, within
//     TTL plus the caller's period of calling it. A deleted entry is never
//     reported.
//   - The TTL is the bucket's: every node of an install must use the same.
type KV interface {
	// Put stores value under key; the entry lives for TTL from now.
	Put(ctx context.Context, key Key, value []byte) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key Key) error
	// List returns the live entries of each group, by group and then name.
	// A group without live entries is absent from the result.
	List(ctx context.Context, groups ...string) (map[string]map[string][]byte, error)
	// Expired returns entries whose TTL ran out without a Put or a Delete,
	// each once per KV (see the type's contract for which nodes hear it).
	Expired(ctx context.Context) ([]Key, error)
	// TTL is how long an entry lives after its last Put.
	TTL() time.Duration
	// Close releases the KV (not the entries: they expire).
	Close() error
}

// Key names an entry: a group that List reads as a whole, and a name
// within it.
type Key struct {
	Group, Name string
}

func (k Key) String() string { return fmt.Sprintf("%q/%q", k.Group, k.Name) }

// Limits of keys and values, the same on every backend.
const (
	MaxKeyPart = 256      // bytes of a Key's Group or Name
	MaxValue   = 16 << 10 // bytes of a value
)

// ErrBadKey is returned for an empty or oversized key part.
var ErrBadKey = errors.New("bus: bad key")

// ErrBadValue is returned for an oversized value.
var ErrBadValue = errors.New("bus: value too large")

// CheckKey reports whether k can be stored (ErrBadKey, wrapped, if not).
func CheckKey(k Key) error {
	if err := CheckGroup(k.Group); err != nil {
		return err
	}
	if k.Name == "" {
		return fmt.Errorf("%w: empty name", ErrBadKey)
	}
	if len(k.Name) > MaxKeyPart {
		return fmt.Errorf("%w: name of %d bytes, at most %d allowed", ErrBadKey, len(k.Name), MaxKeyPart)
	}
	return nil
}

// CheckGroup reports whether group can be stored or listed.
func CheckGroup(group string) error {
	if group == "" {
		return fmt.Errorf("%w: empty group", ErrBadKey)
	}
	if len(group) > MaxKeyPart {
		return fmt.Errorf("%w: group of %d bytes, at most %d allowed", ErrBadKey, len(group), MaxKeyPart)
	}
	return nil
}

// CheckValue reports whether value can be stored.
func CheckValue(value []byte) error {
	if len(value) > MaxValue {
		return fmt.Errorf("%w: %d bytes, at most %d allowed", ErrBadValue, len(value), MaxValue)
	}
	return nil
}

// KVOptions configures a KV.
type KVOptions struct {
	// Name is the bucket: KVs of one name share their entries, so every
	// node of an install uses the same and tests use names of their own.
	// Backends restrict it to letters, digits, '-' and '_'.
	Name string
	// TTL is how long an entry lives after its last Put (required).
	TTL time.Duration
}

// CheckKVOptions validates o for every backend.
func CheckKVOptions(o KVOptions) error {
	if o.Name == "" || len(o.Name) > 64 {
		return fmt.Errorf("bus: KV name %q: want 1 to 64 characters", o.Name)
	}
	for _, c := range []byte(o.Name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("bus: KV name %q: only letters, digits, '-' and '_' are allowed", o.Name)
		}
	}
	if o.TTL < 100*time.Millisecond {
		return fmt.Errorf("bus: KV TTL %s: want at least 100ms", o.TTL)
	}
	return nil
}

// KVOpener is a Bus that also offers a shared KV (the networked buses).
type KVOpener interface {
	OpenKV(ctx context.Context, opts KVOptions) (KV, error)
}

// MemoryKV is the KV of a single node: a map with deadlines. Now, if set,
// replaces the clock (tests).
type MemoryKV struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	groups  map[string]map[string]memEntry
	expired []Key // found by List before Expired was asked
	closed  bool
}

type memEntry struct {
	value    []byte
	deadline time.Time
}

var _ KV = (*MemoryKV)(nil)

// NewMemoryKV returns an empty in-process KV whose entries live for ttl;
// now is the clock (nil: time.Now).
func NewMemoryKV(ttl time.Duration, now func() time.Time) *MemoryKV {
	if now == nil {
		now = time.Now
	}
	return &MemoryKV{ttl: ttl, now: now, groups: map[string]map[string]memEntry{}}
}

// Put stores a copy of value.
func (m *MemoryKV) Put(ctx context.Context, key Key, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := CheckValue(value); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	g := m.groups[key.Group]
	if g == nil {
		g = map[string]memEntry{}
		m.groups[key.Group] = g
	}
	g[key.Name] = memEntry{value: append([]byte{}, value...), deadline: m.now().Add(m.ttl)}
	return nil
}

// Delete removes key.
func (m *MemoryKV) Delete(ctx context.Context, key Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckKey(key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if g := m.groups[key.Group]; g != nil {
		delete(g, key.Name)
		if len(g) == 0 {
			delete(m.groups, key.Group)
		}
	}
	return nil
}

// List returns copies of the live entries of groups.
func (m *MemoryKV) List(ctx context.Context, groups ...string) (map[string]map[string][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, g := range groups {
		if err := CheckGroup(g); err != nil {
			return nil, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	now := m.now()
	out := map[string]map[string][]byte{}
	for _, group := range groups {
		for name, e := range m.groups[group] {
			if !now.Before(e.deadline) {
				m.expireLocked(group, name)
				continue
			}
			if out[group] == nil {
				out[group] = map[string][]byte{}
			}
			out[group][name] = append([]byte{}, e.value...)
		}
	}
	return out, nil
}

func (m *MemoryKV) expireLocked(group, name string) {
	g := m.groups[group]
	delete(g, name)
	if len(g) == 0 {
		delete(m.groups, group)
	}
	m.expired = append(m.expired, Key{group, name})
}

// Expired removes and returns the entries past their deadline, each once.
func (m *MemoryKV) Expired(ctx context.Context) ([]Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	now := m.now()
	for group, g := range m.groups {
		for name, e := range g {
			if !now.Before(e.deadline) {
				m.expireLocked(group, name)
			}
		}
	}
	out := m.expired
	m.expired = nil
	sort.Slice(out, func(i, j int) bool {
		return out[i].Group < out[j].Group || out[i].Group == out[j].Group && out[i].Name < out[j].Name
	})
	return out, nil
}

// TTL is the entries' lifetime.
func (m *MemoryKV) TTL() time.Duration { return m.ttl }

// Close makes every further call fail with ErrClosed.
func (m *MemoryKV) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}
