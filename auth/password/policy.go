package password

import (
	_ "embed"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/unhidra/unhidra"
)

// Length bounds, counted in Unicode code points after NFKC normalisation, as
// NIST SP 800-63B counts them.
const (
	// DefaultMinLength follows NIST SP 800-63B-4 section 3.1.1.2: a password
	// that is the only factor SHALL have at least 15 characters, and in
	// Unhidra it is the only factor. A deployment that puts a second factor
	// in front of it may lower the minimum to MinLengthFloor.
	DefaultMinLength = 15
	// MinLengthFloor is NIST's minimum for a password used with another
	// factor. Policy raises anything lower to it, which also lets the common
	// list skip shorter entries.
	MinLengthFloor = 8
	// DefaultMaxLength is well past NIST's "at least 64" so passphrases fit,
	// yet bounds the normalisation and hashing work of one request.
	DefaultMaxLength = 256
)

// Policy decides whether a new password is acceptable. The zero Policy uses
// the defaults above; a MinLength below MinLengthFloor is raised to it, and a
// MaxLength below the minimum is raised to the minimum.
type Policy struct {
	MinLength int
	MaxLength int
}

// Check returns nil if password is acceptable for username, and otherwise a
// *unhidra.Error with code unhidra.EInvalid whose message tells the user what
// to change (NIST asks that the reason be shown). It rejects passwords that
// are not valid UTF-8, too short or too long, one character repeated, equal
// to the username or containing it (for usernames of 4 or more characters),
// or among the most common passwords. Comparisons ignore case.
func (p Policy) Check(username, password string) error {
	minLen, maxLen := p.bounds()
	if !utf8.ValidString(password) {
		return unhidra.Errorf(unhidra.EInvalid, "password must be valid UTF-8 text")
	}
	pw := norm.NFKC.String(password)
	n := utf8.RuneCountInString(pw)
	if n < minLen {
		return unhidra.Errorf(unhidra.EInvalid, "password must be at least %d characters long", minLen)
	}
	if n > maxLen {
		return unhidra.Errorf(unhidra.EInvalid, "password must be at most %d characters long", maxLen)
	}
	if singleRune(pw) {
		return unhidra.Errorf(unhidra.EInvalid, "password must not be one character repeated")
	}
	lower := strings.ToLower(pw)
	user := strings.ToLower(norm.NFKC.String(username))
	if user != "" && lower == user {
		return unhidra.Errorf(unhidra.EInvalid, "password must not be the username")
	}
	// Shorter usernames ("al", "bob") occur inside ordinary words too often
	// for containment to mean anything.
	if utf8.RuneCountInString(user) >= 4 && strings.Contains(lower, user) {
		return unhidra.Errorf(unhidra.EInvalid, "password must not contain the username")
	}
	if _, ok := commonPasswords()[lower]; ok {
		return unhidra.Errorf(unhidra.EInvalid, "password is one of the most commonly used passwords; choose another")
	}
	return nil
}

func (p Policy) bounds() (minLen, maxLen int) {
	minLen, maxLen = p.MinLength, p.MaxLength
	if minLen <= 0 {
		minLen = DefaultMinLength
	}
	minLen = max(minLen, MinLengthFloor)
	if maxLen <= 0 {
		maxLen = DefaultMaxLength
	}
	return minLen, max(maxLen, minLen)
}

// singleRune reports whether s is one rune repeated ("aaaaaaaa").
func singleRune(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	for _, r := range s {
		if r != first {
			return false
		}
	}
	return true
}

// commonTxt lists the common passwords: the entries of 8 or more characters
// from github.com/trustelem/zxcvbn's data/passwords.txt (MIT, from Dropbox's
// zxcvbn, MIT), itself the top of Mark Burnett's public-domain ten-million
// password set. Its header carries the attribution and license notice.
//
//go:embed common.txt
var commonTxt string

// commonPasswords parses commonTxt on first use: the map costs about a
// megabyte, which a process that never checks a password need not pay.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	// Everything up to the first blank line is the header. (Entries may start
	// with '#', so a comment marker would not do.)
	_, list, _ := strings.Cut(commonTxt, "\n\n")
	words := strings.Fields(list)
	set := make(map[string]struct{}, len(words))
	for _, w := range words {
		set[strings.ToLower(w)] = struct{}{}
	}
	return set
})
