package token

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/unhidra/unhidra"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	ks, _ := newKeySet(t, t0, KeyOptions{})
	clk := newClock(t0.Add(1500 * time.Millisecond))
	is := newIssuer(t, ks, clk)

	tok, exp, err := is.Issue(testClaims)
	if err != nil {
		t.Fatal(err)
	}
	// NumericDate has whole seconds: the returned expiry must be the one in
	// the token, not a more precise one the client would disagree with.
	if want := t0.Add(time.Second + DefaultTTL); !exp.Equal(want) {
		t.Errorf("expiresAt = %v, want %v", exp, want)
	}
	got, err := is.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.UserID != testClaims.UserID || got.SessionID != testClaims.SessionID ||
		got.Role != testClaims.Role || got.ClientID != testClaims.ClientID {
		t.Errorf("claims = %+v, want %+v", got, testClaims)
	}
	if !got.ExpiresAt.Equal(exp) || !got.IssuedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("times: iat %v exp %v", got.IssuedAt, got.ExpiresAt)
	}
	if id, err := uuid.Parse(got.TokenID); err != nil || id.Version() != 7 {
		t.Errorf("jti %q is not a UUIDv7 (%v)", got.TokenID, err)
	}

	// The header says what a verifier elsewhere needs to pick the key.
	var hdr map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err := json.Unmarshal(raw, &hdr); err != nil {
		t.Fatal(err)
	}
	if hdr["alg"] != "RS256" || hdr["typ"] != "at+jwt" || hdr["kid"] != ks.ActiveKeyID() {
		t.Errorf("header = %v", hdr)
	}

	// A token without a client binding omits the claim instead of sending "".
	noClient := testClaims
	noClient.ClientID = ""
	got, err = is.Verify(issue(t, is, noClient))
	if err != nil || got.ClientID != "" {
		t.Errorf("without client: %+v, %v", got, err)
	}
}

func TestIssueRequiresIdentity(t *testing.T) {
	ks, _ := newKeySet(t, t0, KeyOptions{})
	is := newIssuer(t, ks, newClock(t0))
	for name, c := range map[string]Claims{
		"no_user":    {SessionID: "s", Role: "member"},
		"no_session": {UserID: "u", Role: "member"},
		"no_role":    {UserID: "u", SessionID: "s"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := is.Issue(c); err == nil {
				t.Error("Issue accepted incomplete claims")
			}
		})
	}
}

func TestNewIssuerConfig(t *testing.T) {
	ks, _ := newKeySet(t, t0, KeyOptions{RetainFor: time.Hour})
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Keys: ks, Issuer: testIssuer, Audience: testAudience}, true},
		{"no_keys", Config{Issuer: testIssuer, Audience: testAudience}, false},
		{"no_issuer", Config{Keys: ks, Audience: testAudience}, false},
		{"no_audience", Config{Keys: ks, Issuer: testIssuer}, false},
		{"negative_ttl", Config{Keys: ks, Issuer: testIssuer, Audience: testAudience, TTL: -time.Minute}, false},
		// Retired keys must outlive the tokens they signed.
		{"ttl_beyond_retention", Config{Keys: ks, Issuer: testIssuer, Audience: testAudience, TTL: time.Hour}, false},
		{"ttl_fits_retention", Config{Keys: ks, Issuer: testIssuer, Audience: testAudience, TTL: 59 * time.Minute, Leeway: -1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is, err := NewIssuer(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("NewIssuer error = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && tc.cfg.TTL == 0 && is.TTL() != DefaultTTL {
				t.Errorf("TTL = %v, want default %v", is.TTL(), DefaultTTL)
			}
		})
	}
}

// TestVerifyRejectsHostileTokens builds each attack by hand. Every hostile
// token differs from an accepted one in exactly the property under test, and
// the "control" cases prove the hand-built tokens are otherwise acceptable.
func TestVerifyRejectsHostileTokens(t *testing.T) {
	ks, _ := newKeySet(t, t0, KeyOptions{})
	clk := newClock(t0)
	is := newIssuer(t, ks, clk)
	k := activeKey(ks)
	kid := k.id
	rs256 := jwt.SigningMethodRS256
	hdr := goodHeader(kid)
	cl := goodClaims(t0)
	real := issue(t, is, testClaims)

	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix(t, k.public)})
	pubPKCS1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(k.public)})
	foreign := genKey(t, 2048)
	foreignKid := thumbprint(&foreign.PublicKey)

	parts := strings.Split(real, ".")
	tamperedPayload := func() string {
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		raw = []byte(strings.Replace(string(raw), `"role":"member"`, `"role":"admin"`, 1))
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
	}
	flipLastSigChar := func(bit byte) string {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		sig := []byte(parts[2])
		i := strings.IndexByte(alphabet, sig[len(sig)-1])
		sig[len(sig)-1] = alphabet[i^int(bit)]
		return parts[0] + "." + parts[1] + "." + string(sig)
	}

	for _, tc := range []struct {
		name   string
		token  string
		ok     bool
		detail string // a word of the log detail, to pin the reason
	}{
		{name: "control_issued", token: real, ok: true},
		{name: "control_forged_valid", token: forge(t, hdr, cl, rs256, k.private), ok: true},
		{name: "control_expired_within_leeway", token: forge(t, hdr, with(cl, "iat", t0.Add(-16*time.Minute).Unix(), "nbf", t0.Add(-16*time.Minute).Unix(), "exp", t0.Add(-10*time.Second).Unix()), rs256, k.private), ok: true},

		{name: "alg_none", token: forge(t, with(hdr, "alg", "none"), cl, nil, nil)},
		{name: "alg_none_with_signature", token: forge(t, with(hdr, "alg", "none"), cl, nil, nil) + "AAAA", detail: "signing method"},
		{name: "alg_None_mixed_case", token: forge(t, with(hdr, "alg", "None"), cl, nil, nil) + "AAAA", detail: "alg"},
		{name: "alg_missing", token: forge(t, with(hdr, "alg", nil), cl, rs256, k.private), detail: "alg"},
		{name: "hs256_with_public_key", token: forge(t, with(hdr, "alg", "HS256"), cl, jwt.SigningMethodHS256, pubPEM), detail: "signing method HS256 is invalid"},
		{name: "hs256_with_public_key_pkcs1", token: forge(t, with(hdr, "alg", "HS256"), cl, jwt.SigningMethodHS256, pubPKCS1PEM), detail: "signing method HS256 is invalid"},
		{name: "hs256_with_public_key_der", token: forge(t, with(hdr, "alg", "HS256"), cl, jwt.SigningMethodHS256, pkix(t, k.public)), detail: "signing method HS256 is invalid"},
		{name: "rs384_same_key", token: forge(t, with(hdr, "alg", "RS384"), cl, jwt.SigningMethodRS384, k.private), detail: "signing method RS384 is invalid"},
		{name: "ps256_same_key", token: forge(t, with(hdr, "alg", "PS256"), cl, jwt.SigningMethodPS256, k.private), detail: "signing method PS256 is invalid"},
		{name: "alg_header_says_rs256_signed_hs256", token: forge(t, hdr, cl, jwt.SigningMethodHS256, pubPEM), detail: "verification error"},

		{name: "expired", token: forge(t, hdr, with(cl, "iat", t0.Add(-20*time.Minute).Unix(), "nbf", t0.Add(-20*time.Minute).Unix(), "exp", t0.Add(-5*time.Minute).Unix()), rs256, k.private), detail: "expired"},
		{name: "expired_just_past_leeway", token: forge(t, hdr, with(cl, "exp", t0.Add(-DefaultLeeway).Unix()), rs256, k.private), detail: "expired"},
		{name: "not_yet_valid", token: forge(t, hdr, with(cl, "nbf", t0.Add(2*time.Minute).Unix()), rs256, k.private), detail: "not valid yet"},
		{name: "issued_in_future", token: forge(t, hdr, with(cl, "iat", t0.Add(2*time.Minute).Unix()), rs256, k.private), detail: "used before issued"},
		{name: "wrong_issuer", token: forge(t, hdr, with(cl, "iss", "https://evil.example"), rs256, k.private), detail: "issuer"},
		{name: "wrong_audience", token: forge(t, hdr, with(cl, "aud", []string{"other-service"}), rs256, k.private), detail: "audience"},
		{name: "audience_string_wrong", token: forge(t, hdr, with(cl, "aud", "other-service"), rs256, k.private), detail: "audience"},

		{name: "unknown_kid", token: forge(t, with(hdr, "kid", "not-a-key"), cl, rs256, k.private), detail: "unknown kid"},
		{name: "missing_kid", token: forge(t, with(hdr, "kid", nil), cl, rs256, k.private), detail: "no kid"},
		{name: "empty_kid", token: forge(t, with(hdr, "kid", ""), cl, rs256, k.private), detail: "no kid"},
		{name: "kid_not_string", token: forge(t, with(hdr, "kid", 1), cl, rs256, k.private), detail: "no kid"},
		{name: "foreign_key_own_kid", token: forge(t, goodHeader(foreignKid), cl, rs256, foreign), detail: "unknown kid"},
		{name: "foreign_key_our_kid", token: forge(t, hdr, cl, rs256, foreign), detail: "verification error"},
		{name: "embedded_jwk_header", token: forge(t, with(goodHeader(foreignKid), "jwk", map[string]any{"kty": "RSA", "n": base64.RawURLEncoding.EncodeToString(foreign.N.Bytes()), "e": "AQAB"}), cl, rs256, foreign), detail: "unknown kid"},
		{name: "wrong_typ", token: forge(t, with(hdr, "typ", "JWT"), cl, rs256, k.private), detail: "typ"},
		{name: "missing_typ", token: forge(t, with(hdr, "typ", nil), cl, rs256, k.private), detail: "typ"},
		{name: "crit_header", token: forge(t, with(hdr, "crit", []string{"exp"}), cl, rs256, k.private), detail: "crit"},

		{name: "tampered", token: tamperedPayload(), detail: "verification error"},
		{name: "tampered_signature", token: flipLastSigChar(0x10), detail: "verification error"},
		{name: "non_canonical_signature", token: flipLastSigChar(0x01), detail: "base64"},
		{name: "newline_in_signature", token: real[:len(real)-10] + "\n" + real[len(real)-10:], detail: "compact"},
		{name: "padding", token: real + "==", detail: "compact"},
		{name: "signature_stripped", token: parts[0] + "." + parts[1] + ".", detail: "compact"},
		{name: "extra_segment", token: real + ".AAAA", detail: "compact"},
		{name: "two_segments", token: parts[0] + "." + parts[1], detail: "compact"},
		{name: "empty", token: "", detail: "compact"},
		{name: "too_long", token: parts[0] + "." + strings.Repeat("A", maxTokenLen) + "." + parts[2], detail: "bytes"},
		{name: "header_not_json", token: base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + parts[1] + "." + parts[2], detail: "header"},

		{name: "missing_exp", token: forge(t, hdr, with(cl, "exp", nil), rs256, k.private), detail: "exp"},
		{name: "exp_not_a_number", token: forge(t, hdr, with(cl, "exp", "tomorrow"), rs256, k.private), detail: "NumericDat"},
		{name: "missing_nbf", token: forge(t, hdr, with(cl, "nbf", nil), rs256, k.private), detail: "nbf"},
		{name: "missing_iat", token: forge(t, hdr, with(cl, "iat", nil), rs256, k.private), detail: "iat"},
		{name: "missing_iss", token: forge(t, hdr, with(cl, "iss", nil), rs256, k.private), detail: "iss"},
		{name: "missing_aud", token: forge(t, hdr, with(cl, "aud", nil), rs256, k.private), detail: "aud"},
		{name: "missing_sub", token: forge(t, hdr, with(cl, "sub", nil), rs256, k.private), detail: "no sub"},
		{name: "missing_sid", token: forge(t, hdr, with(cl, "sid", nil), rs256, k.private), detail: "no sid"},
		{name: "missing_role", token: forge(t, hdr, with(cl, "role", nil), rs256, k.private), detail: "no role"},
		{name: "missing_jti", token: forge(t, hdr, with(cl, "jti", nil), rs256, k.private), detail: "no jti"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := is.Verify(tc.token)
			if tc.ok {
				if err != nil {
					t.Fatalf("Verify rejected a valid token: %v", err)
				}
				return
			}
			wantRejected(t, c, err, tc.detail)
		})
	}
}

// TestVerifyErrorIsSafe checks that what a caller may show says nothing
// specific, and what is logged never contains the token.
func TestVerifyErrorIsSafe(t *testing.T) {
	ks, _ := newKeySet(t, t0, KeyOptions{})
	is := newIssuer(t, ks, newClock(t0))
	tok := issue(t, is, testClaims)
	other, err := NewIssuer(Config{Keys: ks, Issuer: "https://elsewhere.test", Audience: testAudience, Now: newClock(t0).Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Verify(tok)
	if err == nil {
		t.Fatal("accepted a token of another issuer")
	}
	if msg := unhidra.ErrorMessage(err); msg != "invalid or expired access token" {
		t.Errorf("caller-visible message %q", msg)
	}
	parts := strings.Split(tok, ".")
	for _, p := range parts {
		if strings.Contains(err.Error(), p) {
			t.Errorf("error text contains a token segment")
		}
	}
}

func TestIssuerUsesInjectedClock(t *testing.T) {
	ks, _ := newKeySet(t, t0, KeyOptions{})
	clk := newClock(t0)
	is := newIssuer(t, ks, clk)
	tok := issue(t, is, testClaims)

	clk.Set(t0.Add(DefaultTTL + DefaultLeeway - time.Second))
	if _, err := is.Verify(tok); err != nil {
		t.Fatalf("token rejected inside TTL+leeway: %v", err)
	}
	clk.Set(t0.Add(DefaultTTL + DefaultLeeway))
	c, err := is.Verify(tok)
	wantRejected(t, c, err, "expired")
}
