package e2eeclient

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// ErrRollback is returned when a state would be written over a newer one
// (a lower generation than the stored file's): the protocol's states are
// never rolled back.
var ErrRollback = errors.New("e2eeclient: refusing to write an older state over a newer one")

// store is the state directory: 0700, every file 0600, every write atomic
// (temporary file, fsync, rename, fsync of the directory). A flock on
// dir/lock serializes the processes sharing the directory (a `tail` and a
// `send` at once); mu serializes the goroutines of this one.
type store struct {
	dir  string
	mu   sync.Mutex
	lock *os.File
}

func openStore(dir string) (*store, error) {
	for _, sub := range []string{"", "sessions", "outbound", "inbound", "messages", "pending"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
		if err := os.Chmod(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return &store{dir: dir, lock: f}, nil
}

// acquire takes the process and directory locks; the returned function
// releases them.
func (s *store) acquire() func() {
	s.mu.Lock()
	for {
		err := syscall.Flock(int(s.lock.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	return func() {
		syscall.Flock(int(s.lock.Fd()), syscall.LOCK_UN)
		s.mu.Unlock()
	}
}

func (s *store) close() error { return s.lock.Close() }

// name turns ids into a file name that is safe whatever the ids hold.
func name(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:20])
}

func (s *store) path(rel string) string { return filepath.Join(s.dir, rel) }

// read returns a file's bytes, nil for a missing file.
func (s *store) read(rel string) ([]byte, error) {
	b, err := os.ReadFile(s.path(rel))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// write replaces a file atomically.
func (s *store) write(rel string, data []byte) error {
	p := s.path(rel)
	dir := filepath.Dir(p)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// stateGeneration reads the generation of an e2ee state encoding
// (u8 version, u8 kind, u64 generation, …).
func stateGeneration(b []byte) (uint64, bool) {
	if len(b) < 10 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b[2:10]), true
}

// writeState writes an e2ee state (Session, SenderKey, InboundSenderKey)
// unless the file holds a newer generation.
func (s *store) writeState(rel string, data []byte) error {
	gen, ok := stateGeneration(data)
	if !ok {
		return fmt.Errorf("e2eeclient: short state for %s", rel)
	}
	old, err := s.read(rel)
	if err != nil {
		return err
	}
	if og, ok := stateGeneration(old); ok && og > gen {
		return fmt.Errorf("%w (%s: generation %d over %d)", ErrRollback, rel, gen, og)
	}
	return s.write(rel, data)
}

func (s *store) readJSON(rel string, v any) (bool, error) {
	b, err := s.read(rel)
	if err != nil || b == nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("e2eeclient: %s: %w", rel, err)
	}
	return true, nil
}

func (s *store) writeJSON(rel string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.write(rel, b)
}

func (s *store) remove(rel string) error {
	err := os.Remove(s.path(rel))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func (s *store) list(sub, prefix string) ([]string, error) {
	ents, err := os.ReadDir(s.path(sub))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if len(e.Name()) >= len(prefix) && e.Name()[:len(prefix)] == prefix && e.Name()[0] != '.' {
			out = append(out, filepath.Join(sub, e.Name()))
		}
	}
	return out, nil
}
