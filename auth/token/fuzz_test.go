package token

import (
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds Verify arbitrary strings. It must never panic, every
// error must be an ErrInvalid, and the only strings it may accept are the
// exact tokens Issue produced for this key set, with the claims they carry.
func FuzzVerify(f *testing.F) {
	ks, _ := newKeySet(f, t0, KeyOptions{})
	clk := newClock(t0)
	is := newIssuer(f, ks, clk)
	k := activeKey(ks)

	issued := make(map[string]Claims)
	for _, c := range []Claims{
		testClaims,
		{UserID: "u2", SessionID: "s2", Role: "admin"},
		{UserID: strings.Repeat("x", 200), SessionID: "s\"3\\", Role: "member", ClientID: "ü"},
	} {
		tok := issue(f, is, c)
		issued[tok] = c
	}

	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix(f, k.public)})
	hdr, cl := goodHeader(k.id), goodClaims(t0)
	for tok := range issued {
		parts := strings.Split(tok, ".")
		f.Add(tok)
		f.Add(tok[:len(tok)-1])
		f.Add(tok + "A")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[1] + "." + parts[0] + "." + parts[2])
		f.Add(strings.ToUpper(tok))
		f.Add(strings.Replace(tok, ".", "..", 1))
	}
	// The hostile shapes of the table test, as starting points.
	f.Add(forge(f, with(hdr, "alg", "none"), cl, nil, nil))
	f.Add(forge(f, with(hdr, "alg", "HS256"), cl, jwt.SigningMethodHS256, pubPEM))
	f.Add(forge(f, with(hdr, "kid", nil), cl, jwt.SigningMethodRS256, k.private))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"`+k.id+`","typ":"at+jwt"}`)) + ".e30.AAAA")
	f.Add("")
	f.Add("..")
	f.Add("a.b.c")

	f.Fuzz(func(t *testing.T, tok string) {
		c, err := is.Verify(tok)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || c != nil {
				t.Fatalf("Verify(%q) = %+v, %v; want nil and ErrInvalid", tok, c, err)
			}
			return
		}
		want, ok := issued[tok]
		if !ok {
			t.Fatalf("Verify accepted a token Issue never produced: %q", tok)
		}
		if c.UserID != want.UserID || c.SessionID != want.SessionID || c.Role != want.Role || c.ClientID != want.ClientID {
			t.Fatalf("claims %+v, issued %+v", c, want)
		}
	})
}
