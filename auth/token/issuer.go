package token

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/unhidra/unhidra"
)

// Defaults applied by NewIssuer to zero Config fields.
const (
	DefaultTTL = 15 * time.Minute
	// DefaultLeeway absorbs clock skew between the nodes of a cluster. It is
	// small next to the TTL, so it barely extends a token's life.
	DefaultLeeway = 30 * time.Second
)

// maxTokenLen bounds the work an unauthenticated caller can cause: a token
// from a 4096-bit key is under 1.2 KB, so 8 KiB leaves room for long IDs
// while keeping JSON decoding of hostile input cheap.
const maxTokenLen = 8 << 10

// headerType is the JWT typ of access tokens (RFC 9068). Requiring it stops a
// JWT of another kind signed with the same keys from passing as an access token.
const headerType = "at+jwt"

// ErrInvalid is wrapped by every error Verify returns.
var ErrInvalid = errors.New("token: invalid access token")

// Claims are what an access token says about its bearer.
type Claims struct {
	UserID    string // sub
	SessionID string // sid
	Role      string // role: the system role at issue time
	ClientID  string // client_id: the E2EE client install, if bound; optional

	// Set by Verify, ignored by Issue.
	TokenID   string    // jti
	IssuedAt  time.Time // iat
	ExpiresAt time.Time // exp
}

// Config configures an Issuer.
type Config struct {
	Keys *KeySet
	// Issuer is the iss claim, normally the server's public URL.
	Issuer string
	// Audience is the aud claim the server issues and demands.
	Audience string
	// TTL is the lifetime of access tokens (default 15 minutes).
	TTL time.Duration
	// Leeway is the clock skew tolerated on exp, nbf and iat (default 30
	// seconds; negative means none).
	Leeway time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Issuer issues and verifies access tokens. It is safe for concurrent use.
type Issuer struct {
	keys     *KeySet
	issuer   string
	audience string
	ttl      time.Duration
	leeway   time.Duration
	now      func() time.Time
	parser   *jwt.Parser
}

// NewIssuer checks cfg, fills in defaults and returns an Issuer. For a key
// directory it refuses a retention shorter than TTL plus leeway, which would
// make valid tokens fail right after a rotation.
func NewIssuer(cfg Config) (*Issuer, error) {
	if cfg.Keys == nil {
		return nil, errors.New("token: no key set")
	}
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("token: issuer and audience are required")
	}
	switch {
	case cfg.TTL == 0:
		cfg.TTL = DefaultTTL
	case cfg.TTL < 0:
		return nil, fmt.Errorf("token: negative TTL %v", cfg.TTL)
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if ks := cfg.Keys; ks.backend != nil && ks.opts.RetainFor < cfg.TTL+cfg.Leeway+ks.staleness {
		return nil, fmt.Errorf("token: keys are retained for %v after rotation, less than the token TTL plus leeway (%v)",
			ks.opts.RetainFor, cfg.TTL+cfg.Leeway+ks.staleness)
	}
	return &Issuer{
		keys:     cfg.Keys,
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		ttl:      cfg.TTL,
		leeway:   cfg.Leeway,
		now:      cfg.Now,
		// A Parser holds only its options after construction, so one is
		// shared by all Verify calls.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithNotBeforeRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithTimeFunc(cfg.Now),
			jwt.WithStrictDecoding(),
		),
	}, nil
}

// TTL returns the lifetime of the tokens this Issuer issues.
func (is *Issuer) TTL() time.Duration { return is.ttl }

// Issue signs an access token for c with the active key and returns it with
// its expiry (whole seconds, as in the token). UserID, SessionID and Role are
// required.
func (is *Issuer) Issue(c Claims) (token string, expiresAt time.Time, err error) {
	if c.UserID == "" || c.SessionID == "" || c.Role == "" {
		return "", time.Time{}, errors.New("token: issue: user id, session id and role are required")
	}
	k := is.keys.ring.Load().active()
	jti, err := uuid.NewV7()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token: issue: %w", err)
	}
	now := is.now()
	iat := jwt.NewNumericDate(now)
	exp := jwt.NewNumericDate(now.Add(is.ttl))
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, &jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    is.issuer,
			Subject:   c.UserID,
			Audience:  jwt.ClaimStrings{is.audience},
			ExpiresAt: exp,
			NotBefore: iat,
			IssuedAt:  iat,
			ID:        jti.String(),
		},
		SessionID: c.SessionID,
		Role:      c.Role,
		ClientID:  c.ClientID,
	})
	t.Header["typ"] = headerType
	t.Header["kid"] = k.id
	s, err := t.SignedString(k.private)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token: issue: %w", err)
	}
	return s, exp.Time, nil
}

// Verify checks token as the package documentation describes and returns its
// claims. Every error wraps ErrInvalid and carries the unhidra code
// "unauthenticated".
func (is *Issuer) Verify(token string) (*Claims, error) {
	if len(token) > maxTokenLen {
		return nil, invalid(fmt.Errorf("token is %d bytes, more than %d", len(token), maxTokenLen))
	}
	if !compactJWS(token) {
		// base64 decoding skips CR and LF; refusing anything outside the
		// alphabet up front keeps one token from having several spellings.
		return nil, invalid(errors.New("not a compact JWS"))
	}
	var (
		c    jwtClaims
		used *key
	)
	_, err := is.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		// The parser has already refused every alg but RS256.
		if typ, _ := t.Header["typ"].(string); typ != headerType {
			return nil, fmt.Errorf("typ %q is not %s", logSafe(typ), headerType)
		}
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("crit header present")
		}
		kid, ok := t.Header["kid"].(string)
		if !ok || kid == "" {
			return nil, errors.New("no kid")
		}
		k := is.keys.ring.Load().byID[kid]
		if k == nil {
			// Another node may have rotated a moment ago.
			k = is.keys.lookupFresh(kid)
		}
		if k == nil {
			return nil, fmt.Errorf("unknown kid %q", logSafe(kid))
		}
		// Pruning runs only now and then; this makes a retired key stop
		// working on time regardless.
		if !k.retired.IsZero() && !is.now().Before(k.retired.Add(is.keys.opts.RetainFor)) {
			return nil, fmt.Errorf("key %s is past its retention", kid)
		}
		used = k
		return k.public, nil
	})
	if err != nil {
		return nil, invalid(err)
	}
	// Our issuer never signs with a retired key, so a newer token under one
	// can only come from a leaked old key. In a shared set a node may sign
	// with its predecessor until its next refresh: that is allowed for.
	if !used.retired.IsZero() && c.IssuedAt.After(used.retired.Add(is.leeway+is.keys.staleness)) {
		return nil, invalid(fmt.Errorf("issued after key %s was retired", used.id))
	}
	return &Claims{
		UserID:    c.Subject,
		SessionID: c.SessionID,
		Role:      c.Role,
		ClientID:  c.ClientID,
		TokenID:   c.ID,
		IssuedAt:  c.IssuedAt.Time,
		ExpiresAt: c.ExpiresAt.Time,
	}, nil
}

// jwtClaims is the wire form of Claims.
type jwtClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
	Role      string `json:"role"`
	ClientID  string `json:"client_id,omitempty"`
}

// Validate is called by the jwt parser after the standard checks; it demands
// the claims Issue always sets and the library treats as optional.
func (c *jwtClaims) Validate() error {
	switch {
	case c.Subject == "":
		return errors.New("no sub")
	case c.SessionID == "":
		return errors.New("no sid")
	case c.Role == "":
		return errors.New("no role")
	case c.ID == "":
		return errors.New("no jti")
	case c.IssuedAt == nil:
		return errors.New("no iat")
	}
	return nil
}

// compactJWS reports whether s is three non-empty base64url segments.
func compactJWS(s string) bool {
	dots, segLen := 0, 0
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b == '.':
			if segLen == 0 {
				return false
			}
			dots, segLen = dots+1, 0
		case 'A' <= b && b <= 'Z', 'a' <= b && b <= 'z', '0' <= b && b <= '9', b == '-', b == '_':
			segLen++
		default:
			return false
		}
	}
	return dots == 2 && segLen > 0
}

// logSafe shortens a header value chosen by whoever sent the token before it
// goes into an error that will be logged (%q then escapes it).
func logSafe(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

func invalid(detail error) error {
	return &unhidra.Error{
		Code:    unhidra.EUnauthenticated,
		Message: "invalid or expired access token",
		Err:     fmt.Errorf("%w: %w", ErrInvalid, detail),
	}
}
