package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestLoadOrCreateWritesPrivateFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX permissions")
	}
	ks, dir := newKeySet(t, t0, KeyOptions{})
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("directory mode %04o, want 0700", perm)
	}
	files := keyFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("key files %v, want one", files)
	}
	fi, err = os.Stat(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %04o, want 0600", perm)
	}
	want := regexp.MustCompile(`^20260301T120000\.000000000Z_` + regexp.QuoteMeta(ks.ActiveKeyID()) + `\.pem$`)
	if name := filepath.Base(files[0]); !want.MatchString(name) {
		t.Errorf("key file name %q does not record creation time and kid", name)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("key file is not PKCS#8 PEM")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key (no temporary files)", len(entries))
	}

	// A restart finds the same key, so tokens survive it.
	again, err := LoadOrCreate(dir, t0.Add(time.Hour), KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.ActiveKeyID() != ks.ActiveKeyID() {
		t.Errorf("reload changed the active key")
	}
	info := again.Keys()
	if len(info) != 1 || !info[0].Active || !info[0].CreatedAt.Equal(t0) || !info[0].RetiredAt.IsZero() {
		t.Errorf("Keys() = %+v", info)
	}
}

func TestKeyOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts KeyOptions
	}{
		{"bits_1024", KeyOptions{Bits: 1024}},
		{"bits_odd", KeyOptions{Bits: 2500}},
		{"negative_retention", KeyOptions{RetainFor: -time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keys")
			if _, err := LoadOrCreate(dir, t0, tc.opts); err == nil {
				t.Error("LoadOrCreate accepted bad options")
			}
			if files := keyFiles(t, dir); len(files) != 0 {
				t.Errorf("bad options still wrote %v", files)
			}
		})
	}
}

func TestKeyPermissionsRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX permissions")
	}
	for _, tc := range []struct {
		name string
		perm os.FileMode
		ok   bool
	}{
		{"owner_rw", 0o600, true},
		{"owner_ro", 0o400, true},
		{"world_readable", 0o644, false},
		{"group_readable", 0o640, false},
		{"other_readable_only", 0o604, false},
		{"group_writable", 0o620, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, dir := newKeySet(t, t0, KeyOptions{})
			path := keyFiles(t, dir)[0]
			if err := os.Chmod(path, tc.perm); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreate(dir, t0, KeyOptions{})
			if tc.ok {
				if err != nil {
					t.Fatalf("LoadOrCreate refused mode %04o: %v", tc.perm, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "chmod 600") {
				t.Fatalf("LoadOrCreate with a %04o key file: err = %v, want a permission error", tc.perm, err)
			}
			if _, err := LoadFiles([]string{path}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("LoadFiles with a %04o key file: err = %v, want a permission error", tc.perm, err)
			}
		})
	}

	t.Run("group_writable_directory", func(t *testing.T) {
		_, dir := newKeySet(t, t0, KeyOptions{})
		if err := os.Chmod(dir, 0o770); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreate(dir, t0, KeyOptions{}); err == nil || !strings.Contains(err.Error(), "chmod 700") {
			t.Errorf("err = %v, want a directory permission error", err)
		}
	})
}

func TestLoadDirRefusesStrangeFiles(t *testing.T) {
	other := genKey(t, 2048)
	small := genKey(t, 1024)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		file    string
		typ     string
		der     []byte
		wantErr string
	}{
		{"bad_name", "mykey.pem", "PRIVATE KEY", pkcs8(t, other), "name"},
		{"kid_mismatch", "20260301T130000.000000000Z_" + strings.Repeat("A", 43) + ".pem", "PRIVATE KEY", pkcs8(t, other), "not the one its name says"},
		{"small_key", "20260301T130000.000000000Z_" + thumbprint(&small.PublicKey) + ".pem", "PRIVATE KEY", pkcs8(t, small), "too small"},
		{"ec_key", "20260301T130000.000000000Z_x.pem", "PRIVATE KEY", pkcs8(t, ec), "not an RSA key"},
		{"public_key_in_dir", "20260301T130000.000000000Z_" + thumbprint(&other.PublicKey) + ".pem", "PUBLIC KEY", pkix(t, &other.PublicKey), "private signing key is needed"},
		{"garbage", "20260301T130000.000000000Z_x.pem", "PRIVATE KEY", []byte("garbage"), "key file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, dir := newKeySet(t, t0, KeyOptions{})
			writePEM(t, filepath.Join(dir, tc.file), tc.typ, tc.der, 0o600)
			if _, err := LoadOrCreate(dir, t0, KeyOptions{}); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}

	t.Run("ignores_temporary_and_other_files", func(t *testing.T) {
		ks, dir := newKeySet(t, t0, KeyOptions{})
		writePEM(t, filepath.Join(dir, ".key-123.tmp"), "PRIVATE KEY", []byte("half a key"), 0o600)
		if err := os.WriteFile(filepath.Join(dir, "README"), []byte("keys"), 0o600); err != nil {
			t.Fatal(err)
		}
		again, err := LoadOrCreate(dir, t0, KeyOptions{})
		if err != nil || again.ActiveKeyID() != ks.ActiveKeyID() {
			t.Errorf("reload = %v, %v", again, err)
		}
	})
}

// TestRotation walks one key directory through its life with an injected
// clock: rotation, a retired key that still verifies, pruning.
func TestRotation(t *testing.T) {
	const retain = 2 * time.Hour
	ks, dir := newKeySet(t, t0, KeyOptions{RetainFor: retain})
	clk := newClock(t0)
	is := newIssuer(t, ks, clk)
	first := activeKey(ks)
	oldTok := issue(t, is, testClaims)

	rotatedAt := t0.Add(5 * time.Minute)
	clk.Set(rotatedAt)
	if err := ks.Rotate(t.Context(), rotatedAt); err != nil {
		t.Fatal(err)
	}
	if ks.ActiveKeyID() == first.id {
		t.Fatal("Rotate kept the active key")
	}
	if n := len(keyFiles(t, dir)); n != 2 {
		t.Fatalf("%d key files after rotation, want 2", n)
	}
	info := ks.Keys()
	if len(info) != 2 || info[1].ID != first.id || !info[1].RetiredAt.Equal(rotatedAt) || info[1].Active {
		t.Fatalf("Keys() = %+v, want the first key retired at %v", info, rotatedAt)
	}

	t.Run("new_tokens_use_new_key", func(t *testing.T) {
		tok := issue(t, is, testClaims)
		if _, err := is.Verify(tok); err != nil {
			t.Fatal(err)
		}
		if kidOf(t, tok) != ks.ActiveKeyID() {
			t.Error("token not signed by the new key")
		}
	})
	t.Run("retired_but_retained_key_accepted", func(t *testing.T) {
		clk.Set(rotatedAt.Add(time.Minute))
		if _, err := is.Verify(oldTok); err != nil {
			t.Fatalf("token of the retained key rejected: %v", err)
		}
	})
	t.Run("retired_key_signing_after_retirement_rejected", func(t *testing.T) {
		// Only someone holding the old private key can make this token.
		now := rotatedAt.Add(time.Minute)
		clk.Set(now)
		tok := forge(t, goodHeader(first.id), goodClaims(now), jwt.SigningMethodRS256, first.private)
		c, err := is.Verify(tok)
		wantRejected(t, c, err, "issued after key")
	})
	t.Run("past_retention_before_pruning_rejected", func(t *testing.T) {
		// A long-lived token forged with the old key, verified after the
		// retention window but before anything pruned the key.
		now := rotatedAt.Add(retain)
		clk.Set(now)
		tok := forge(t, goodHeader(first.id), with(goodClaims(t0), "exp", now.Add(time.Hour).Unix()), jwt.SigningMethodRS256, first.private)
		c, err := is.Verify(tok)
		wantRejected(t, c, err, "past its retention")
	})
	t.Run("pruned_key_rejected", func(t *testing.T) {
		now := rotatedAt.Add(retain)
		clk.Set(now)
		rotated, err := ks.RotateIfDue(t.Context(), now)
		if err != nil || rotated {
			t.Fatalf("RotateIfDue = %v, %v; want a prune without rotation", rotated, err)
		}
		if n := len(keyFiles(t, dir)); n != 1 {
			t.Errorf("%d key files after pruning, want 1", n)
		}
		if strings.Contains(string(ks.JWKS()), first.id) {
			t.Error("pruned key still published")
		}
		tok := forge(t, goodHeader(first.id), with(goodClaims(t0), "exp", now.Add(time.Hour).Unix()), jwt.SigningMethodRS256, first.private)
		c, err := is.Verify(tok)
		wantRejected(t, c, err, "unknown kid")
		// And it stays gone after a restart.
		again, err := LoadOrCreate(dir, now, KeyOptions{RetainFor: retain})
		if err != nil || len(again.Keys()) != 1 {
			t.Errorf("reload after prune: %v keys, %v", again.Keys(), err)
		}
	})
}

func TestAutomaticRotationAtLoad(t *testing.T) {
	opts := KeyOptions{RotateEvery: 30 * 24 * time.Hour, RetainFor: 24 * time.Hour}
	ks, dir := newKeySet(t, t0, opts)
	first := ks.ActiveKeyID()

	// Not yet due: nothing changes.
	ks, err := LoadOrCreate(dir, t0.Add(29*24*time.Hour), opts)
	if err != nil || ks.ActiveKeyID() != first {
		t.Fatalf("early reload rotated (%v)", err)
	}

	due := t0.Add(30 * 24 * time.Hour)
	ks, err = LoadOrCreate(dir, due, opts)
	if err != nil {
		t.Fatal(err)
	}
	if ks.ActiveKeyID() == first {
		t.Fatal("an active key older than RotateEvery was not rotated at load")
	}
	info := ks.Keys()
	if len(info) != 2 || info[1].ID != first || !info[1].RetiredAt.Equal(due) {
		t.Fatalf("Keys() = %+v", info)
	}

	// The retirement time survives a restart: it is the successor's creation.
	ks, err = LoadOrCreate(dir, due.Add(time.Hour), opts)
	if err != nil || len(ks.Keys()) != 2 || !ks.Keys()[1].RetiredAt.Equal(due) {
		t.Fatalf("reload: %+v, %v", ks.Keys(), err)
	}

	// Past retention the old key is pruned at load.
	ks, err = LoadOrCreate(dir, due.Add(opts.RetainFor), opts)
	if err != nil {
		t.Fatal(err)
	}
	if info := ks.Keys(); len(info) != 1 || info[0].ID == first {
		t.Errorf("Keys() after retention = %+v", info)
	}
	if n := len(keyFiles(t, dir)); n != 1 {
		t.Errorf("%d key files, want 1", n)
	}
}

func TestRotateIfDue(t *testing.T) {
	opts := KeyOptions{RotateEvery: time.Hour, RetainFor: 30 * time.Minute}
	ks, _ := newKeySet(t, t0, opts)
	first := ks.ActiveKeyID()
	if rotated, err := ks.RotateIfDue(t.Context(), t0.Add(59*time.Minute)); err != nil || rotated {
		t.Fatalf("RotateIfDue before due = %v, %v", rotated, err)
	}
	if rotated, err := ks.RotateIfDue(t.Context(), t0.Add(time.Hour)); err != nil || !rotated || ks.ActiveKeyID() == first {
		t.Fatalf("RotateIfDue when due = %v, %v", rotated, err)
	}

	t.Run("disabled", func(t *testing.T) {
		ks, _ := newKeySet(t, t0, KeyOptions{RotateEvery: -1})
		if rotated, err := ks.RotateIfDue(t.Context(), t0.Add(10*365*24*time.Hour)); err != nil || rotated {
			t.Errorf("RotateIfDue with rotation disabled = %v, %v", rotated, err)
		}
	})
}

func TestRotateWithClockGoingBack(t *testing.T) {
	ks, dir := newKeySet(t, t0, KeyOptions{})
	first := ks.ActiveKeyID()
	if err := ks.Rotate(t.Context(), t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	second := ks.ActiveKeyID()
	if second == first {
		t.Fatal("the new key is not active")
	}
	// The decision must survive a restart too.
	again, err := LoadOrCreate(dir, t0, KeyOptions{})
	if err != nil || again.ActiveKeyID() != second {
		t.Errorf("after reload the active key is %s, want %s (%v)", again.ActiveKeyID(), second, err)
	}
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	a, b, c := genKey(t, 2048), genKey(t, 2048), genKey(t, 3072)
	pa, pb, pc := filepath.Join(dir, "a.pem"), filepath.Join(dir, "b.pem"), filepath.Join(dir, "c.pub.pem")
	writePEM(t, pa, "PRIVATE KEY", pkcs8(t, a), 0o600)
	writePEM(t, pb, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(b), 0o400)
	writePEM(t, pc, "PUBLIC KEY", pkix(t, &c.PublicKey), 0o644) // public: may be readable

	nodeA, err := LoadFiles([]string{pa, pb, pc})
	if err != nil {
		t.Fatal(err)
	}
	if nodeA.ActiveKeyID() != thumbprint(&a.PublicKey) || len(nodeA.Keys()) != 3 {
		t.Fatalf("keys %+v", nodeA.Keys())
	}
	if err := nodeA.Rotate(t.Context(), t0); !errors.Is(err, ErrOperatorManaged) {
		t.Errorf("Rotate on operator keys = %v", err)
	}
	if rotated, err := nodeA.RotateIfDue(t.Context(), t0.Add(1000*time.Hour)); rotated || err != nil {
		t.Errorf("RotateIfDue on operator keys = %v, %v", rotated, err)
	}

	// Two nodes sharing the files accept each other's tokens, and the
	// operator's previous key (b) still verifies.
	nodeB, err := LoadFiles([]string{pa, pb})
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock(t0)
	if _, err := newIssuer(t, nodeA, clk).Verify(issue(t, newIssuer(t, nodeB, clk), testClaims)); err != nil {
		t.Errorf("node A rejected node B's token: %v", err)
	}
	oldKeys, err := LoadFiles([]string{pb})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newIssuer(t, nodeA, clk).Verify(issue(t, newIssuer(t, oldKeys, clk), testClaims)); err != nil {
		t.Errorf("token of the operator's previous key rejected: %v", err)
	}

	for _, tc := range []struct {
		name  string
		paths []string
		want  string
	}{
		{"none", nil, "no key files"},
		{"public_first", []string{pc, pa}, "private signing key is needed"},
		{"duplicate", []string{pa, pa}, "same key"},
		{"missing", []string{filepath.Join(dir, "nope.pem")}, "open key file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LoadFiles(tc.paths); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestConcurrentRotation runs Issue and Verify while keys rotate; with -race
// it proves readers never see a half-built key ring.
func TestConcurrentRotation(t *testing.T) {
	ks, _ := newKeySet(t, t0, KeyOptions{})
	clk := newClock(t0)
	is := newIssuer(t, ks, clk)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tok, _, err := is.Issue(testClaims)
				if err == nil {
					_, err = is.Verify(tok)
				}
				if err != nil {
					errs <- err
					return
				}
				_ = ks.JWKS()
			}
		}()
	}
	for i := range 3 {
		if err := ks.Rotate(t.Context(), t0.Add(time.Duration(i+1)*time.Second)); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("during rotation: %v", err)
	}
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := parsed.Header["kid"].(string)
	return kid
}
