package token

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/unhidra/unhidra"
)

const (
	testIssuer   = "https://chat.example.test"
	testAudience = "unhidra"
)

// t0 is the start of every injected clock: tests never depend on wall time.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is an injectable clock that tests move by hand; it is safe for the
// concurrent readers of the race test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func newKeySet(t testing.TB, now time.Time, opts KeyOptions) (*KeySet, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	ks, err := LoadOrCreate(dir, now, opts)
	if err != nil {
		t.Fatalf("LoadOrCreate: %v", err)
	}
	return ks, dir
}

func newIssuer(t testing.TB, ks *KeySet, clk *clock) *Issuer {
	t.Helper()
	is, err := NewIssuer(Config{Keys: ks, Issuer: testIssuer, Audience: testAudience, Now: clk.Now})
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	return is
}

var testClaims = Claims{UserID: "0195f0c2-user", SessionID: "0195f0c2-sess", Role: unhidra.RoleMember, ClientID: "laptop"}

func issue(t testing.TB, is *Issuer, c Claims) string {
	t.Helper()
	tok, _, err := is.Issue(c)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return tok
}

// wantRejected fails unless err is a Verify rejection of the documented kind.
// detail, when not empty, must appear in the log text, proving the token was
// refused for the reason the test is about and not by accident.
func wantRejected(t *testing.T, c *Claims, err error, detail string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Verify accepted the token: %+v", c)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error %v does not wrap ErrInvalid", err)
	}
	if code := unhidra.ErrorCode(err); code != unhidra.EUnauthenticated {
		t.Errorf("error code %q, want %q", code, unhidra.EUnauthenticated)
	}
	if c != nil {
		t.Errorf("claims %+v returned with an error", c)
	}
	if detail != "" && !strings.Contains(err.Error(), detail) {
		t.Errorf("error %q does not mention %q", err, detail)
	}
}

func seg(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// forge builds a token by hand: header and claims as given, signed with
// method and key (no signature for a nil method).
func forge(t testing.TB, header, claims map[string]any, method jwt.SigningMethod, key any) string {
	t.Helper()
	input := seg(t, header) + "." + seg(t, claims)
	if method == nil {
		return input + "."
	}
	sig, err := method.Sign(input, key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func goodHeader(kid string) map[string]any {
	return map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": kid}
}

// goodClaims are the claims Issue would write at now.
func goodClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss":  testIssuer,
		"aud":  []string{testAudience},
		"sub":  "0195f0c2-user",
		"sid":  "0195f0c2-sess",
		"role": "member",
		"jti":  "0195f0c2-7d3e-7a00-8000-000000000001",
		"iat":  now.Unix(),
		"nbf":  now.Unix(),
		"exp":  now.Add(15 * time.Minute).Unix(),
	}
}

// with returns a copy of m with the given changes; a nil value deletes.
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// activeKey gives tests the private key that signs, to forge tokens that are
// valid in every respect but the one under test.
func activeKey(ks *KeySet) *key { return ks.ring.Load().active() }

func genKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writePEM writes one PEM block with mode perm (exactly, whatever the umask).
func writePEM(t testing.TB, path, typ string, der []byte, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
}

func pkcs8(t testing.TB, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pkix(t testing.TB, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func keyFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
