package auth

import (
	"strings"
	"testing"

	"github.com/unhidra/unhidra"
)

func TestValidateUsername(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"bob", true},
		{"b.o_b-9", true},
		{"a1b", true},
		{strings.Repeat("a", 32), true},
		{"ab", false},
		{strings.Repeat("a", 33), false},
		{"bob.", false},
		{"bob_", false},
		{"bob-", false},
		{".bob", false},
		{"_bob", false},
		{"bo b", false},
		{"böb", false},
		{"bob\x00", false},
	} {
		if err := ValidateUsername(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidateUsername(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestCheckDisplayName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		admin bool
		ok    bool
	}{
		{"Bob Smith", false, true},
		{"Zoë 👋", false, true},
		{"李小龙", false, true},
		{"...", false, true},
		{"bob\u202Eevil", false, false},   // right-to-left override
		{"\u2066bob\u2069", false, false}, // isolates
		{"bob\u202Aa", false, false},
		{"\u200B", false, false},       // zero-width space only
		{"a\u200Cb", false, false},     // zero-width non-joiner
		{"a\u200Db", false, false},     // zero-width joiner
		{"\u2060\uFEFF", false, false}, // word joiner, BOM
		{"bob\u00AD", false, false},    // soft hyphen
		{"a\uFE0F", false, false},      // variation selector
		{"\u3164", false, false},       // Hangul filler
		{"\U000E0041", false, false},   // tag character
		{"\u0301", false, false},       // a lone combining mark: nothing visible
		{"   ", false, false},
		{"", false, false},
		{"admin", false, false},
		{"Admin", false, false},
		{"ADMIN!", false, false},
		{"a.d.m.i.n", false, false},
		{"Ａｄｍｉｎ", false, false}, // full-width
		{"ⓐⓓⓜⓘⓝ", false, false}, // circled
		{"Administrator", false, false},
		{"System", false, false},
		{"moderator", false, false},
		{"root", false, false},
		{"Unhidra", false, false},
		{"Support ★", false, false},
		{"security", false, false},
		{"Deleted user", false, false}, // every deleted account's name
		{"deleted_user", false, false},
		{"Deleted", false, true},
		{"Admin Bob", false, true},
		{"rooted", false, true},
		{"admin", true, true}, // admins may
		{"bob\u202Eevil", true, false},
		{strings.Repeat("é", MaxDisplayName), false, true},
		{strings.Repeat("é", MaxDisplayName+1), false, false},
		{"a\x00b", false, false},
	} {
		err := checkDisplayName(tc.name, tc.admin)
		if (err == nil) != tc.ok {
			t.Errorf("checkDisplayName(%q, admin=%v) = %v, want ok=%v", tc.name, tc.admin, err, tc.ok)
		}
		if err != nil && unhidra.ErrorCode(err) != unhidra.EInvalid {
			t.Errorf("checkDisplayName(%q): code %s", tc.name, unhidra.ErrorCode(err))
		}
	}
}
