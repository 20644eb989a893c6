package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/unhidra/unhidra/client"
)

// credentials is the CLI's credentials file: one signed-in session per
// server, and the server used when none is named. It holds refresh tokens,
// so it lives in a 0700 directory with mode 0600 and is replaced
// atomically (a crash never leaves half a file, nor a window where it is
// readable by others).
type credentials struct {
	Default string             `json:"default,omitempty"`
	Servers map[string]*signin `json:"servers"`
}

// signin is one server's session.
type signin struct {
	Username string        `json:"username"`
	UserID   string        `json:"user_id"`
	Tokens   client.Tokens `json:"tokens"`
}

// credentialsPath is os.UserConfigDir()/unhidra/credentials.json, reading
// XDG_CONFIG_HOME through lookupEnv so tests can point it elsewhere.
func credentialsPath(lookupEnv env) (string, error) {
	dir, _ := lookupEnv("XDG_CONFIG_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		var err error
		if dir, err = os.UserConfigDir(); err != nil {
			return "", fmt.Errorf("find the config directory: %w", err)
		}
	}
	return filepath.Join(dir, "unhidra", "credentials.json"), nil
}

// credFile reads and writes the credentials file. Its lock serializes the
// writes of one process (a tail rotating tokens while it prints); another
// process's writes are caught by reloading before each refresh.
type credFile struct {
	path string
	mu   sync.Mutex
}

func (f *credFile) load() (*credentials, error) {
	c := &credentials{Servers: map[string]*signin{}}
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	// A file someone made readable to others (a copy, a restore from
	// backup) is tightened rather than trusted as is.
	if st, err := os.Stat(f.path); err == nil && st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(f.path, 0o600); err != nil {
			return nil, fmt.Errorf("secure credentials file: %w", err)
		}
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("credentials file %s is damaged (log in again after removing it): %w", f.path, err)
	}
	if c.Servers == nil {
		c.Servers = map[string]*signin{}
	}
	return c, nil
}

// save writes c atomically with owner-only permissions.
func (f *credFile) save(c *credentials) error {
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	// MkdirAll leaves an existing directory as it was; ours must not be
	// listable by others either.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("secure %s: %w", dir, err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".credentials-*") // created 0600
	if err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write credentials: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	return nil
}

// update applies fn to the file's contents and saves them.
func (f *credFile) update(fn func(*credentials)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.load()
	if err != nil {
		return err
	}
	fn(c)
	return f.save(c)
}

// tokenStore persists one server's rotated tokens in the file; it also lets
// the client pick up tokens another process rotated meanwhile.
type tokenStore struct {
	file   *credFile
	server string
}

var (
	_ client.TokenStore  = tokenStore{}
	_ client.TokenLoader = tokenStore{}
)

func (s tokenStore) SaveTokens(_ context.Context, t client.Tokens) error {
	return s.file.update(func(c *credentials) {
		if t == (client.Tokens{}) {
			delete(c.Servers, s.server)
			if c.Default == s.server {
				c.Default = ""
			}
			return
		}
		si := c.Servers[s.server]
		if si == nil {
			si = &signin{}
			c.Servers[s.server] = si
		}
		si.Tokens = t
	})
}

func (s tokenStore) LoadTokens(context.Context) (client.Tokens, error) {
	s.file.mu.Lock()
	defer s.file.mu.Unlock()
	c, err := s.file.load()
	if err != nil {
		return client.Tokens{}, err
	}
	if si := c.Servers[s.server]; si != nil {
		return si.Tokens, nil
	}
	return client.Tokens{}, nil
}
