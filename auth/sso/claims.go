package sso

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
)

// maxBase is the longest username base: room is left for a "-NN" suffix
// within the 32 characters a username may have.
const maxBase = 28

// UsernameFromClaims derives a new account's username from the ID token's
// claims (which the provider, not this server, controls): the claim named
// claim (DefaultUsernameClaim if empty), else the email claim's local
// part, reduced to the characters a username may hold. When nothing usable
// remains it falls back to "user-" and a hash of the subject. The result
// always passes auth.ValidateUsername.
func UsernameFromClaims(claims map[string]any, claim, subject string) string {
	if claim == "" {
		claim = DefaultUsernameClaim
	}
	candidates := []string{stringClaim(claims, claim)}
	if email := stringClaim(claims, "email"); email != "" {
		local, _, _ := strings.Cut(email, "@")
		candidates = append(candidates, local)
	}
	for _, c := range candidates {
		if name := sanitizeUsername(c); name != "" {
			return name
		}
	}
	h := sha256.Sum256([]byte(subject))
	return "user-" + hex.EncodeToString(h[:6])
}

// sanitizeUsername keeps the characters a username may hold, turns others
// into '-', trims what may not start or end one and cuts it to maxBase;
// "" if fewer than 3 characters remain.
func sanitizeUsername(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		case r == '@':
			// An email used as the username claim: keep the local part.
			return finishUsername(b.String())
		default:
			b.WriteByte('-')
		}
		if b.Len() > 4*maxBase {
			break
		}
	}
	return finishUsername(b.String())
}

func finishUsername(s string) string {
	alnum := func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') }
	s = strings.TrimFunc(s, alnum)
	if len(s) > maxBase {
		s = strings.TrimRightFunc(s[:maxBase], alnum)
	}
	if auth.ValidateUsername(s) != nil {
		return ""
	}
	return s
}

// stringClaim returns the claim if it is a string, else "".
func stringClaim(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	if !utf8.ValidString(s) {
		return ""
	}
	return s
}

// Groups returns the claim's groups: a list of strings (other elements
// ignored) or a single string.
func Groups(claims map[string]any, claim string) []string {
	switch v := claims[claim].(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// RoleFromGroups maps groups to a system role: admin if any group maps to
// admin, else member. ok is false when mapping is empty (no role mapping
// configured: the role is left as it is).
func RoleFromGroups(groups []string, mapping map[string]string) (role string, ok bool) {
	if len(mapping) == 0 {
		return "", false
	}
	role = unhidra.RoleMember
	for _, g := range groups {
		if mapping[g] == unhidra.RoleAdmin {
			role = unhidra.RoleAdmin
		}
	}
	return role, true
}

// displayName is the name claim when it is usable text, else the username.
func displayName(claims map[string]any, username string) string {
	name := strings.TrimSpace(stringClaim(claims, "name"))
	if name == "" || auth.CheckDisplayName(name) != nil {
		return username
	}
	return name
}
