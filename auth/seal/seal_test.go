package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func newKey(t testing.TB) *Key {
	t.Helper()
	k, _ := Generate()
	return k
}

func TestSealOpen(t *testing.T) {
	k := newKey(t)
	secret := []byte("a private key, say")
	blob := k.Seal("token-signing-key", "kid-1", secret)
	if bytes.Contains(blob, secret) {
		t.Fatal("the sealed blob contains the plaintext")
	}
	if len(blob) != len(secret)+Overhead {
		t.Errorf("blob is %d bytes, want %d", len(blob), len(secret)+Overhead)
	}
	got, err := k.Open("token-signing-key", "kid-1", blob)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if again := k.Seal("token-signing-key", "kid-1", secret); bytes.Equal(again, blob) {
		t.Error("two seals of one plaintext are equal: the nonce is not fresh")
	}
}

// TestOpenRefuses: every way a blob can be wrong gives ErrOpen.
func TestOpenRefuses(t *testing.T) {
	k := newKey(t)
	blob := k.Seal("token-signing-key", "kid-1", []byte("secret bytes"))
	flip := func(i int) []byte {
		b := bytes.Clone(blob)
		b[i] ^= 0x01
		return b
	}
	for _, tc := range []struct {
		name        string
		key         *Key
		purpose, id string
		blob        []byte
	}{
		{"wrong_kek", newKey(t), "token-signing-key", "kid-1", blob},
		{"other_id", k, "token-signing-key", "kid-2", blob},
		{"other_purpose", k, "device-token-key", "kid-1", blob},
		{"purpose_id_boundary", k, "token-signing-keyk", "id-1", blob},
		{"tampered_version", k, "token-signing-key", "kid-1", flip(0)},
		{"tampered_nonce", k, "token-signing-key", "kid-1", flip(3)},
		{"tampered_ciphertext", k, "token-signing-key", "kid-1", flip(len(blob) - 20)},
		{"tampered_tag", k, "token-signing-key", "kid-1", flip(len(blob) - 1)},
		{"truncated", k, "token-signing-key", "kid-1", blob[:len(blob)-1]},
		{"too_short", k, "token-signing-key", "kid-1", blob[:Overhead-1]},
		{"empty", k, "token-signing-key", "kid-1", nil},
		{"appended", k, "token-signing-key", "kid-1", append(bytes.Clone(blob), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := tc.key.Open(tc.purpose, tc.id, tc.blob)
			if !errors.Is(err, ErrOpen) || pt != nil {
				t.Fatalf("Open = %q, %v; want ErrOpen", pt, err)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	raw := bytes.Repeat([]byte{7}, KeySize)
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(raw),
		"  " + base64.StdEncoding.EncodeToString(raw) + "\n",
	} {
		if _, err := ParseKey(s); err != nil {
			t.Errorf("ParseKey(%q): %v", s, err)
		}
	}
	secretish := "not*base64*but*secret"
	for _, s := range []string{"", secretish, base64.StdEncoding.EncodeToString(raw[:16])} {
		_, err := ParseKey(s)
		if err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		} else if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q echoes the key", err)
		}
	}
}

func TestKeyFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	path := filepath.Join(dir, "kek")
	k1, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created {
		t.Fatalf("LoadOrCreateKeyFile = %v, %v", created, err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("key file mode %04o, want 0600", perm)
		}
	}
	k2, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created {
		t.Fatalf("second LoadOrCreateKeyFile = %v, %v", created, err)
	}
	blob := k1.Seal("p", "i", []byte("x"))
	if _, err := k2.Open("p", "i", blob); err != nil {
		t.Fatal("a reload reads another key")
	}
	// The file is what an operator copies into UNHIDRA_KEY_ENCRYPTION_KEY.
	text, _ := os.ReadFile(path)
	k3, err := ParseKey(string(text))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k3.Open("p", "i", blob); err != nil {
		t.Fatal("the file's text is not the key")
	}

	raw := filepath.Join(dir, "raw")
	if err := os.WriteFile(raw, bytes.Repeat([]byte{1}, KeySize), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadKeyFile(raw); err != nil {
		t.Errorf("raw 32-byte file: %v", err)
	}

	if runtime.GOOS != "windows" {
		if err := os.Chmod(path, 0o640); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadKeyFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("group-readable key file: err = %v", err)
		}
	}
	if _, err := ReadKeyFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file was read")
	}
}

// TestLoadOrCreateRace: processes (here goroutines) starting at once end
// with one key.
func TestLoadOrCreateRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek")
	keys := make([]*Key, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _, err := LoadOrCreateKeyFile(path)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	blob := keys[0].Seal("p", "i", []byte("x"))
	for i, k := range keys {
		if _, err := k.Open("p", "i", blob); err != nil {
			t.Errorf("goroutine %d has another key", i)
		}
	}
}
