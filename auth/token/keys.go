package token

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied by LoadOrCreate to zero KeyOptions fields.
const (
	DefaultKeyBits     = 2048
	DefaultRotateEvery = 30 * 24 * time.Hour
	DefaultRetainFor   = 24 * time.Hour
)

// minKeyBits is the smallest RSA modulus accepted from any source: NIST and
// RFC 7518 both put the floor for RS256 at 2048 bits.
const minKeyBits = 2048

// maxKeyFileSize bounds what is read from a key file: a 4096-bit PKCS#8 PEM
// is about 3.3 KB, so anything near this size is not a key we wrote.
const maxKeyFileSize = 64 << 10

// fileTimeLayout is the creation time in key file names: fixed width and UTC,
// so names sort in creation order, with nanoseconds so that two rotations in
// the same second still get distinct, ordered names.
const fileTimeLayout = "20060102T150405.000000000Z"

// ErrOperatorManaged is returned by KeySet.Rotate for a key set loaded with
// LoadFiles: its keys belong to the operator, who rotates them by changing
// the files and restarting.
var ErrOperatorManaged = errors.New("token: key set is managed by the operator (loaded from files); rotate by replacing the files")

// KeyOptions configure a key directory. Zero fields get the defaults above.
type KeyOptions struct {
	// Bits is the RSA modulus size of newly generated keys: 2048 (default),
	// 3072 or 4096. Existing keys of at least 2048 bits load whatever this is.
	Bits int
	// RotateEvery is the age after which LoadOrCreate and RotateIfDue replace
	// the active key. Negative disables automatic rotation.
	RotateEvery time.Duration
	// RetainFor is how long a retired key keeps verifying tokens. It must
	// cover the access token TTL plus leeway, which NewIssuer checks.
	RetainFor time.Duration
}

func (o KeyOptions) withDefaults() (KeyOptions, error) {
	switch o.Bits {
	case 0:
		o.Bits = DefaultKeyBits
	case 2048, 3072, 4096:
	default:
		return o, fmt.Errorf("token: unsupported key size %d bits (use 2048, 3072 or 4096)", o.Bits)
	}
	if o.RotateEvery == 0 {
		o.RotateEvery = DefaultRotateEvery
	}
	switch {
	case o.RetainFor == 0:
		o.RetainFor = DefaultRetainFor
	case o.RetainFor < 0:
		return o, fmt.Errorf("token: negative RetainFor %v", o.RetainFor)
	}
	return o, nil
}

// KeyInfo describes one key of a KeySet, for operators and status pages.
type KeyInfo struct {
	ID string
	// Active is true for the one key that signs new tokens.
	Active bool
	// CreatedAt is zero for keys loaded with LoadFiles.
	CreatedAt time.Time
	// RetiredAt is when a successor took over; zero for the active key and
	// for keys loaded with LoadFiles.
	RetiredAt time.Time
}

// KeySet is the signing key and the verification keys of an Issuer. It is
// safe for concurrent use: readers see an immutable snapshot, so a rotation
// never blocks Issue or Verify. Create it with LoadOrCreate (a key
// directory), OpenDB (keys shared by every node through the database) or
// LoadFiles (operator-managed files).
type KeySet struct {
	// backend keeps the keys; nil for LoadFiles: nothing is ever written,
	// rotated or pruned then.
	backend backend
	opts    KeyOptions
	// staleness is how long this node may go on signing with a key that
	// another node has already retired: the refresh interval of a shared
	// key set, 0 otherwise. Verify and NewIssuer allow for it.
	staleness time.Duration

	mu   sync.Mutex // serialises rotations, reloads and their writes
	ring atomic.Pointer[keyring]

	// refreshMu and lastRefresh rate-limit the reloads that Verify starts
	// when it meets an unknown kid (see lookupFresh).
	refreshMu   sync.Mutex
	lastRefresh time.Time
}

// backend is where a KeySet keeps its keys: a key directory or the
// database. The ring logic (which key is active, when one retires, what is
// pruned) is the KeySet's, the same for both.
type backend interface {
	// load returns every stored key, in any order. known holds keys already
	// decoded, which it may reuse.
	load(ctx context.Context, known map[string]*key) ([]*key, error)
	// add stores k, generated as the successor of prev (nil for the first
	// key). It returns false, and no error, when another process stored a
	// successor of prev first: the caller reloads and uses that one.
	add(ctx context.Context, k, prev *key) (bool, error)
	// remove deletes keys past their retention.
	remove(ctx context.Context, keys []*key) error
	// shared reports whether other processes change the keys too, so that
	// a rotation must start from what is stored rather than from memory.
	shared() bool
}

// key is immutable once it is part of a keyring.
type key struct {
	id      string
	public  *rsa.PublicKey
	private *rsa.PrivateKey // nil for a verification-only public key file
	created time.Time       // zero when unknown (LoadFiles)
	retired time.Time       // zero for the active key or when unknown
	// gen orders the keys of a database-backed set (1, 2, …; unique among
	// the stored keys); 0 in a key directory, where created orders them.
	gen  int64
	path string // the file of a key directory key
}

// keyring is one immutable state of a KeySet.
type keyring struct {
	keys []*key // active first, then retired ones, newest first
	byID map[string]*key
	jwks []byte
}

func (r *keyring) active() *key { return r.keys[0] }

// LoadOrCreate opens the key directory dir, creating it (0700) and a first key
// if needed. If the active key is older than opts.RotateEvery at now, it is
// rotated; retired keys older than opts.RetainFor are deleted.
//
// It refuses private key files that group or others may read or write, and a
// directory that group or others may write (anyone who can write there could
// plant a signing key). Only one process should manage a directory; nodes that
// share keys use OpenDB or LoadFiles.
func LoadOrCreate(dir string, now time.Time, opts KeyOptions) (*KeySet, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, errors.New("token: empty key directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("token: create key directory: %w", err)
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	keys, err := loadDir(dir)
	if err != nil {
		return nil, err
	}
	ks := &KeySet{backend: dirBackend{dir: dir}, opts: opts}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ctx := context.Background() // a directory does no network I/O
	if len(keys) == 0 || ks.due(newest(keys), now) {
		if keys, _, err = ks.addNew(ctx, keys, now); err != nil {
			return nil, err
		}
	}
	return ks, ks.install(ctx, keys, now)
}

// LoadFiles builds an operator-managed key set from PEM files: paths[0] is
// the active signing key (a PKCS#8 or PKCS#1 RSA private key) and the others
// verify only (private keys or PKIX public keys). Nothing is generated,
// rotated, pruned or written; retired keys verify until they are removed
// from the list. Private key files must not be accessible to group or others.
func LoadFiles(paths []string) (*KeySet, error) {
	if len(paths) == 0 {
		return nil, errors.New("token: no key files given")
	}
	keys := make([]*key, 0, len(paths))
	seen := make(map[string]string, len(paths))
	for i, p := range paths {
		k, err := readKeyFile(p, i > 0)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[k.id]; dup {
			return nil, fmt.Errorf("token: %s and %s hold the same key (kid %s)", prev, p, k.id)
		}
		seen[k.id] = p
		keys = append(keys, k)
	}
	r, err := newKeyring(keys)
	if err != nil {
		return nil, err
	}
	ks := &KeySet{}
	ks.ring.Store(r)
	return ks, nil
}

// Rotate makes a freshly generated key the active one. The previous keys keep
// verifying until opts.RetainFor after their retirement; those past it are
// pruned. If err reports a failed removal of an old key, the rotation itself
// has still taken effect. In a shared set, if another node rotated at the
// same moment, its key is the new active one instead.
func (ks *KeySet) Rotate(ctx context.Context, now time.Time) error {
	if ks.backend == nil {
		return ErrOperatorManaged
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	keys, err := ks.current(ctx)
	if err != nil {
		return err
	}
	if keys, _, err = ks.addNew(ctx, keys, now); err != nil {
		return err
	}
	return ks.install(ctx, keys, now)
}

// RotateIfDue rotates when the active key is older than opts.RotateEvery and
// prunes keys past their retention either way. A long-running server calls it
// periodically (say hourly); it is cheap when there is nothing to do. For an
// operator-managed set it does nothing. Every node of a shared set may call
// it: when several find the key due at once, one new key wins and the
// others adopt it (rotated is true only on the winner).
func (ks *KeySet) RotateIfDue(ctx context.Context, now time.Time) (rotated bool, err error) {
	if ks.backend == nil {
		return false, nil
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	keys, err := ks.current(ctx)
	if err != nil {
		return false, err
	}
	if ks.due(newest(keys), now) {
		if keys, rotated, err = ks.addNew(ctx, keys, now); err != nil {
			return false, err
		}
	}
	return rotated, ks.install(ctx, keys, now)
}

// Refresh reloads a shared key set from the database, so that a rotation
// done by another node is seen here: its new key verifies, and this node
// signs with it. A node calls it periodically (DBOptions.RefreshEvery);
// Verify also calls it, rate-limited, when it meets an unknown kid. For
// other sets it does nothing. On error the keys in use stay as they were.
func (ks *KeySet) Refresh(ctx context.Context) error {
	if ks.backend == nil || !ks.backend.shared() {
		return nil
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	keys, err := ks.backend.load(ctx, ks.ring.Load().byID)
	if err != nil {
		return err
	}
	// Nothing is pruned here: that is RotateIfDue's, with its clock, and
	// Verify refuses a key past its retention anyway.
	kept, _ := ks.arrange(keys, time.Time{})
	r, err := newKeyring(kept)
	if err != nil {
		return err
	}
	ks.ring.Store(r)
	return nil
}

// RefreshInterval is how often a node should call Refresh: 0 for a set
// that is not shared.
func (ks *KeySet) RefreshInterval() time.Duration { return ks.staleness }

// minUnknownKidRefresh is the least time between two reloads started by
// unknown kids: a stream of tokens with made-up kids costs the database at
// most one small query a second.
const minUnknownKidRefresh = time.Second

// lookupFresh is Verify's second chance for a kid it does not know: in a
// shared set, another node may have rotated a moment ago. Concurrent
// callers share one reload. The rate limit uses the wall clock: it paces
// database load and decides nothing about a token.
func (ks *KeySet) lookupFresh(kid string) *key {
	if ks.backend == nil || !ks.backend.shared() {
		return nil
	}
	ks.refreshMu.Lock()
	defer ks.refreshMu.Unlock()
	if k := ks.ring.Load().byID[kid]; k != nil {
		return k // found by the reload of a caller before us
	}
	if time.Since(ks.lastRefresh) < minUnknownKidRefresh {
		return nil
	}
	ks.lastRefresh = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ks.Refresh(ctx); err != nil {
		return nil // the periodic refresh reports errors; here the token simply fails
	}
	return ks.ring.Load().byID[kid]
}

// current returns the keys a rotation starts from: what is stored, for a
// shared set (another node may have rotated), or else the ring in memory.
func (ks *KeySet) current(ctx context.Context) ([]*key, error) {
	r := ks.ring.Load()
	if !ks.backend.shared() {
		return slices.Clone(r.keys), nil
	}
	keys, err := ks.backend.load(ctx, r.byID)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("token: the database holds no signing keys any more")
	}
	return keys, nil
}

// JWKS returns the JSON Web Key Set of every verification key, active key
// first, as served at /.well-known/jwks.json. The slice is shared: do not
// modify it. A new key signs as soon as it is created, so outside verifiers
// must refetch on an unknown kid; serve it with a short max-age.
func (ks *KeySet) JWKS() []byte { return ks.ring.Load().jwks }

// ActiveKeyID returns the kid that new tokens carry.
func (ks *KeySet) ActiveKeyID() string { return ks.ring.Load().active().id }

// Keys describes the keys of the set, active first.
func (ks *KeySet) Keys() []KeyInfo {
	r := ks.ring.Load()
	out := make([]KeyInfo, len(r.keys))
	for i, k := range r.keys {
		out[i] = KeyInfo{ID: k.id, Active: i == 0, CreatedAt: k.created, RetiredAt: k.retired}
	}
	return out
}

func (ks *KeySet) due(active *key, now time.Time) bool {
	return ks.opts.RotateEvery > 0 && now.Sub(active.created) >= ks.opts.RotateEvery
}

// addNew generates a key, stores it as the successor of the newest of keys
// and returns keys with it. When another process stored a successor first
// (a shared set), it returns what is stored now instead, with added false.
func (ks *KeySet) addNew(ctx context.Context, keys []*key, now time.Time) (_ []*key, added bool, err error) {
	var prev *key
	if len(keys) > 0 {
		prev = newest(keys)
	}
	k, err := ks.generate(prev, now)
	if err != nil {
		return nil, false, err
	}
	if added, err = ks.backend.add(ctx, k, prev); err != nil {
		return nil, false, err
	}
	if added {
		return append(keys, k), true, nil
	}
	known := make(map[string]*key, len(keys))
	for _, k := range keys {
		known[k.id] = k
	}
	if keys, err = ks.backend.load(ctx, known); err != nil {
		return nil, false, err
	}
	if len(keys) == 0 {
		return nil, false, errors.New("token: another node stored a signing key, and it is gone again")
	}
	return keys, false, nil
}

// generate creates a key as the successor of prev (nil for the first). Its
// creation time is kept strictly after prev's, even if the clock went
// backwards (or another node's clock is ahead), because the newest key is
// by definition the active one.
func (ks *KeySet) generate(prev *key, now time.Time) (*key, error) {
	created := now.UTC().Round(0)
	if prev != nil && !created.After(prev.created) {
		created = prev.created.Add(time.Nanosecond)
	}
	priv, err := rsa.GenerateKey(rand.Reader, ks.opts.Bits)
	if err != nil {
		return nil, fmt.Errorf("token: generate key: %w", err)
	}
	return &key{id: thumbprint(&priv.PublicKey), public: &priv.PublicKey, private: priv, created: created}, nil
}

// arrange orders keys, derives retirement times from that order and,
// unless now is zero, splits off the keys past their retention at now.
func (ks *KeySet) arrange(keys []*key, now time.Time) (kept, pruned []*key) {
	sorted := slices.Clone(keys)
	slices.SortFunc(sorted, func(a, b *key) int {
		return cmp.Or(cmp.Compare(a.gen, b.gen), a.created.Compare(b.created), strings.Compare(a.id, b.id))
	})
	kept = make([]*key, 0, len(sorted))
	for i := len(sorted) - 1; i >= 0; i-- {
		k := *sorted[i] // copy: keys of the published ring must not change
		k.retired = time.Time{}
		if i < len(sorted)-1 {
			k.retired = sorted[i+1].created
			if !now.IsZero() && !now.Before(k.retired.Add(ks.opts.RetainFor)) {
				pruned = append(pruned, &k)
				continue
			}
		}
		kept = append(kept, &k)
	}
	return kept, pruned
}

// install arranges keys, drops those past their retention, publishes the
// result and then deletes the dropped ones from the backend. Deleting last
// means a failed removal never leaves the set without its new key; Verify
// refuses such a key anyway once its retention has run out.
func (ks *KeySet) install(ctx context.Context, keys []*key, now time.Time) error {
	kept, pruned := ks.arrange(keys, now)
	r, err := newKeyring(kept)
	if err != nil {
		return err
	}
	ks.ring.Store(r)
	if len(pruned) == 0 {
		return nil
	}
	return ks.backend.remove(ctx, pruned)
}

// dirBackend keeps keys as files in a directory (LoadOrCreate).
type dirBackend struct{ dir string }

func (b dirBackend) shared() bool { return false }

func (b dirBackend) load(context.Context, map[string]*key) ([]*key, error) { return loadDir(b.dir) }

func (b dirBackend) add(_ context.Context, k, _ *key) (bool, error) {
	k.path = filepath.Join(b.dir, k.created.Format(fileTimeLayout)+"_"+k.id+".pem")
	if err := writeKeyFile(k.path, k.private); err != nil {
		return false, err
	}
	return true, nil
}

func (b dirBackend) remove(_ context.Context, keys []*key) error {
	var errs []error
	for _, k := range keys {
		if err := os.Remove(k.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("token: prune retired key %s: %w", k.id, err))
		}
	}
	syncDir(b.dir)
	return errors.Join(errs...)
}

func newest(keys []*key) *key {
	return slices.MaxFunc(keys, func(a, b *key) int { return a.created.Compare(b.created) })
}

// newKeyring builds a snapshot; keys[0] becomes the active key.
func newKeyring(keys []*key) (*keyring, error) {
	if len(keys) == 0 || keys[0].private == nil {
		return nil, errors.New("token: the active key must be a private key")
	}
	r := &keyring{keys: keys, byID: make(map[string]*key, len(keys))}
	type jwk struct {
		Kty string `json:"kty"`
		Use string `json:"use"`
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		N   string `json:"n"`
		E   string `json:"e"`
	}
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(keys))}
	for _, k := range keys {
		r.byID[k.id] = k
		n, e := jwkModulusExponent(k.public)
		set.Keys = append(set.Keys, jwk{Kty: "RSA", Use: "sig", Alg: "RS256", Kid: k.id, N: n, E: e})
	}
	var err error
	if r.jwks, err = json.Marshal(set); err != nil {
		return nil, fmt.Errorf("token: encode JWKS: %w", err)
	}
	return r, nil
}

// jwkModulusExponent returns n and e as RFC 7518 §6.3.1 wants them: unpadded
// base64url of the minimal big-endian bytes.
func jwkModulusExponent(pub *rsa.PublicKey) (n, e string) {
	enc := base64.RawURLEncoding
	return enc.EncodeToString(pub.N.Bytes()), enc.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
}

// thumbprint is the RFC 7638 JWK thumbprint of pub: the SHA-256 of the
// required members in lexicographic order with no whitespace. base64url
// output needs no JSON escaping, so plain concatenation is the canonical form.
func thumbprint(pub *rsa.PublicKey) string {
	n, e := jwkModulusExponent(pub)
	sum := sha256.Sum256([]byte(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("token: key directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("token: key directory %s is not a directory", dir)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("token: key directory %s has mode %04o: group or others could plant a signing key there (chmod 700)",
			dir, fi.Mode().Perm())
	}
	return nil
}

// loadDir reads every <created>_<kid>.pem of dir. Names starting with a dot
// are temporary files of an interrupted write and are ignored, as are files
// that are not .pem; a .pem file that does not follow the naming scheme is an
// error rather than silently skipped, so a misplaced key is noticed.
func loadDir(dir string) ([]*key, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("token: read key directory: %w", err)
	}
	var keys []*key
	for _, ent := range entries {
		name := ent.Name()
		base, isPEM := strings.CutSuffix(name, ".pem")
		if !isPEM || strings.HasPrefix(name, ".") || ent.IsDir() {
			continue
		}
		stamp, kid, ok := strings.Cut(base, "_")
		created, terr := time.Parse(fileTimeLayout, stamp)
		if !ok || terr != nil {
			return nil, fmt.Errorf("token: key file %s: name is not <%s>_<kid>.pem", name, fileTimeLayout)
		}
		path := filepath.Join(dir, name)
		k, err := readKeyFile(path, false)
		if err != nil {
			return nil, err
		}
		if k.id != kid {
			return nil, fmt.Errorf("token: key file %s holds the key with kid %s, not the one its name says", name, k.id)
		}
		k.created = created
		keys = append(keys, k)
	}
	return keys, nil
}

// readKeyFile loads an RSA key from a PEM file. Permissions are read from the
// open file, so what is checked is what is read.
func readKeyFile(path string, publicAllowed bool) (*key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("token: open key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("token: key file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("token: key file %s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("token: read key file %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("token: key file %s is too large to be a key", path)
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("token: key file %s: no PEM block", path)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("token: key file %s: more than one PEM block", path)
	}

	k := &key{path: path}
	switch block.Type {
	case "PRIVATE KEY", "RSA PRIVATE KEY":
		// Checked before parsing: a readable private key is refused whatever
		// it contains, and the message says how to fix it.
		if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
			return nil, fmt.Errorf("token: private key file %s has mode %04o: it must not be readable or writable by group or others (chmod 600)",
				path, perm)
		}
		var parsed any
		if block.Type == "PRIVATE KEY" {
			parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		} else {
			parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		}
		if err != nil {
			return nil, fmt.Errorf("token: key file %s: %w", path, err)
		}
		priv, ok := parsed.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("token: key file %s: %T is not an RSA key", path, parsed)
		}
		k.private, k.public = priv, &priv.PublicKey
	case "PUBLIC KEY":
		if !publicAllowed {
			return nil, fmt.Errorf("token: key file %s holds a public key where a private signing key is needed", path)
		}
		parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("token: key file %s: %w", path, err)
		}
		pub, ok := parsed.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("token: key file %s: %T is not an RSA key", path, parsed)
		}
		k.public = pub
	default:
		return nil, fmt.Errorf("token: key file %s: unsupported PEM type %q (want PRIVATE KEY, RSA PRIVATE KEY or PUBLIC KEY)", path, block.Type)
	}
	if bits := k.public.N.BitLen(); bits < minKeyBits {
		return nil, fmt.Errorf("token: key file %s: %d-bit RSA key is too small (minimum %d)", path, bits, minKeyBits)
	}
	k.id = thumbprint(k.public)
	return k, nil
}

// writeKeyFile writes priv as PKCS#8 PEM with mode 0600. It goes through a
// temporary file and a rename so that a crash never leaves a truncated key
// under a name that loadDir would read.
func writeKeyFile(path string, priv *rsa.PrivateKey) (err error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("token: encode key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".key-*.tmp")
	if err != nil {
		return fmt.Errorf("token: write key: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// CreateTemp already uses 0600; saying so keeps it true if that changes.
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("token: write key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("token: write key: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("token: write key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("token: write key: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("token: write key: %w", err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename or removal durable. It is best effort: some
// platforms and file systems cannot sync a directory, and the key is already
// in place either way.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
