package token

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// publishedKeys parses a JWKS the way an outside verifier would, with no help
// from this package.
func publishedKeys(t *testing.T, data []byte) map[string]*rsa.PublicKey {
	t.Helper()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&set); err != nil {
		t.Fatalf("JWKS %s: %v", data, err)
	}
	out := make(map[string]*rsa.PublicKey)
	for _, k := range set.Keys {
		members := make([]string, 0, len(k))
		for m := range k {
			members = append(members, m)
		}
		slices.Sort(members)
		// Exactly the public members: no d, p, q or other private material.
		if want := []string{"alg", "e", "kid", "kty", "n", "use"}; !slices.Equal(members, want) {
			t.Errorf("JWK members %v, want %v", members, want)
		}
		if k["kty"] != "RSA" || k["use"] != "sig" || k["alg"] != "RS256" {
			t.Errorf("JWK %v", k)
		}
		n, err := base64.RawURLEncoding.Strict().DecodeString(k["n"])
		if err != nil || len(n) == 0 || n[0] == 0 {
			t.Fatalf("n is not unpadded minimal base64url: %v", err)
		}
		e, err := base64.RawURLEncoding.Strict().DecodeString(k["e"])
		if err != nil || len(e) == 0 || e[0] == 0 {
			t.Fatalf("e is not unpadded minimal base64url: %v", err)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if got := thumbprint(pub); got != k["kid"] {
			t.Errorf("kid %s is not the RFC 7638 thumbprint %s", k["kid"], got)
		}
		out[k["kid"]] = pub
	}
	return out
}

func TestJWKSVerifiesTokens(t *testing.T) {
	ks, _ := newKeySet(t, t0, KeyOptions{})
	clk := newClock(t0)
	is := newIssuer(t, ks, clk)
	oldTok := issue(t, is, testClaims)
	if err := ks.Rotate(t.Context(), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	newTok := issue(t, is, testClaims)

	keys := publishedKeys(t, ks.JWKS())
	if len(keys) != 2 {
		t.Fatalf("JWKS has %d keys, want active and retired", len(keys))
	}
	var first struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(ks.JWKS(), &first); err != nil || first.Keys[0].Kid != ks.ActiveKeyID() {
		t.Errorf("the active key is not listed first")
	}

	for name, tok := range map[string]string{"retired_key": oldTok, "active_key": newTok} {
		t.Run(name, func(t *testing.T) {
			parsed, err := jwt.Parse(tok, func(tk *jwt.Token) (any, error) {
				kid, _ := tk.Header["kid"].(string)
				if k, ok := keys[kid]; ok {
					return k, nil
				}
				return nil, jwt.ErrTokenUnverifiable
			}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(clk.Now),
				jwt.WithIssuer(testIssuer), jwt.WithAudience(testAudience))
			if err != nil || !parsed.Valid {
				t.Fatalf("a JWKS-only verifier rejected the token: %v", err)
			}
		})
	}
}

// TestThumbprintRFC7638 checks the kid derivation against the worked example
// of RFC 7638 §3.1.
func TestThumbprintRFC7638(t *testing.T) {
	n, err := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	if got, want := thumbprint(pub), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("thumbprint = %s, want %s", got, want)
	}
}
