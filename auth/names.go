package auth

import (
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/unhidra/unhidra"
)

// usernameRE is the username rule: 3 to 32 of letters, digits, '.', '_' and
// '-', starting and ending with a letter or digit. chat/mention.go relies on
// it: its parser drops trailing '.', '_' and '-' as punctuation ("thanks
// @bob."), so a name ending in one could never be mentioned.
var usernameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{1,30}[A-Za-z0-9]$`)

// ValidateUsername checks the username rules for a new account. Existing
// accounts are never re-checked: a name that an older rule allowed keeps
// working for login.
func ValidateUsername(name string) error {
	if !usernameRE.MatchString(name) {
		return unhidra.Errorf(unhidra.EInvalid, "username must be 3 to 32 characters of letters, digits, '.', '_' or '-', starting and ending with a letter or digit")
	}
	return nil
}

// MaxDisplayName is the longest display name, in characters.
const MaxDisplayName = 64

// checkDisplayName checks a display name for a new account or a profile
// change. Beyond CheckText it refuses what makes one name pass for another:
// invisible formatting characters (bidi overrides, zero-width characters,
// every other default-ignorable code point), names with nothing visible,
// and, unless the account is an admin, names of the system itself.
func checkDisplayName(name string, admin bool) error {
	if err := unhidra.CheckText("display_name", name, MaxDisplayName); err != nil {
		return err
	}
	visible := false
	for _, r := range name {
		if invisible(r) {
			return unhidra.Errorf(unhidra.EInvalid, "display_name must not contain invisible formatting characters (U+%04X)", r)
		}
		if unicode.In(r, unicode.L, unicode.N, unicode.S, unicode.P) {
			visible = true
		}
	}
	if !visible {
		return unhidra.Errorf(unhidra.EInvalid, "display_name needs at least one visible letter, digit, symbol or punctuation mark")
	}
	if !admin && impersonatesSystem(name) {
		return unhidra.Errorf(unhidra.EInvalid, "display_name %q reads as a name of the server itself; choose another", name)
	}
	return nil
}

// invisible reports whether r is a format character (Cf: bidi controls,
// zero-width space and joiners, the BOM, tag characters) or another
// default-ignorable code point (variation selectors, Hangul fillers,
// combining grapheme joiner): characters that render as nothing.
func invisible(r rune) bool {
	return unicode.Is(unicode.Cf, r) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
		unicode.Is(unicode.Variation_Selector, r)
}

// impersonatesSystem reports whether name, compatibility-normalised (NFKC:
// full-width and circled letters become plain ones), lower-cased and
// stripped of everything but letters and digits, is a name people would
// take for the server or its staff. This is the one list of such names.
func impersonatesSystem(name string) bool {
	var b strings.Builder
	for _, r := range strings.ToLower(norm.NFKC.String(name)) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	switch b.String() {
	case "admin", "administrator", "system", "moderator", "root", "unhidra", "support", "security",
		"deleteduser": // what every deleted account is called

		return true
	}
	return false
}
