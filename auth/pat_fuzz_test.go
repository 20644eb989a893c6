package auth_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/unhidra/unhidra/auth"
)

// FuzzParseAccessToken: the parser never panics, and what it accepts is
// exactly a token of the issued shape: prefix, 32 lower-case hex digits,
// an underscore and the canonical base64url of 32 bytes, which it
// reassembles to the input.
func FuzzParseAccessToken(f *testing.F) {
	good := "uhp_" + strings.Repeat("0a", 16) + "_" + base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	for _, seed := range []string{good, "", "uhp_", "uhr_x", good[:len(good)-1], good + "A", strings.ToUpper(good),
		"uhp_" + strings.Repeat("g", 32) + good[36:], strings.Replace(good, "_", "-", 2), good[:len(good)-1] + "B"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		id, secret, ok := auth.ParseAccessToken(tok)
		if !ok {
			if id != "" || secret != nil {
				t.Fatalf("refused %q but returned %q %x", tok, id, secret)
			}
			return
		}
		if len(id) != 32 || len(secret) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("accepted %q as %q %x", tok, id, secret)
		}
		if again := auth.AccessTokenPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(secret); again != tok {
			t.Fatalf("accepted %q, which reassembles as %q", tok, again)
		}
	})
}
