package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ParseMentions finds the @mentions of a message body. It returns the
// mentioned usernames, lower-cased, deduplicated, in order of first
// appearance, and whether the body mentions the whole channel (@channel,
// @here or @everyone; this server has no presence-aware @here).
//
// An @ counts only at the start of the body or after a character that
// cannot be part of a username, so addresses like bob@example.com mention
// nobody. A username is 3 to 32 of letters, digits, '.', '_' and '-'
// (auth's rule); trailing '.', '_' and '-' are punctuation, not part of the
// name ("thanks @bob." mentions bob).
func ParseMentions(body string) (usernames []string, channel bool) {
	seen := map[string]bool{}
	prev := rune(-1)
	for i := 0; i < len(body); {
		r, size := utf8.DecodeRuneInString(body[i:])
		if r != '@' || isNameChar(prev) || unicode.IsLetter(prev) || unicode.IsDigit(prev) || prev == '@' {
			prev = r
			i += size
			continue
		}
		j := i + 1
		for j < len(body) && j-i-1 < 64 {
			c := body[j]
			if c >= 0x80 || !isNameChar(rune(c)) {
				break
			}
			j++
		}
		name := strings.TrimRight(body[i+1:j], "._-")
		end := i + 1 + len(name)
		// A name running on into more name characters (too long) is not a
		// mention; neither is one glued to a non-ASCII letter.
		if end == j && j < len(body) {
			next, _ := utf8.DecodeRuneInString(body[j:])
			if isNameChar(next) || unicode.IsLetter(next) || unicode.IsDigit(next) {
				name = ""
			}
		}
		lower := strings.ToLower(name)
		switch {
		case lower == "channel" || lower == "here" || lower == "everyone":
			channel = true
		case len(name) >= 3 && len(name) <= 32 && isASCIIAlnum(name[0]):
			if !seen[lower] {
				seen[lower] = true
				usernames = append(usernames, lower)
			}
		}
		prev = '@'
		i++
		if j > i {
			prev = rune(body[j-1])
			i = j
		}
	}
	return usernames, channel
}

func isNameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
