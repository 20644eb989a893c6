package password

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/unhidra/unhidra"
)

func TestPolicyCheck(t *testing.T) {
	const (
		tooShort    = "at least"
		tooLong     = "at most"
		repeated    = "one character repeated"
		isUser      = "must not be the username"
		hasUser     = "must not contain the username"
		common      = "most commonly used"
		invalidUTF8 = "valid UTF-8"
	)
	lax := Policy{MinLength: 8}
	tests := []struct {
		name     string
		policy   Policy
		username string
		password string
		want     string // substring of the message; "" means accepted
	}{
		{"passphrase", Policy{}, "alice", "correct horse battery staple", ""},
		{"exactly 15", Policy{}, "alice", "tr0ub4dor&3xyzq", ""},
		{"14 is too short", Policy{}, "alice", "tr0ub4dor&3xyz", "at least 15 characters"},
		{"empty", Policy{}, "alice", "", tooShort},
		{"15 runes in 45 bytes", Policy{}, "alice", "我的密码非常安全而且很难猜到啊", ""},
		{"14 runes in 42 bytes", Policy{}, "alice", "我的密码非常安全而且很难猜到", tooShort},
		{"emoji count one each", Policy{}, "alice", "🔑🐉🌊🔥🌙⭐🍀🎲🎯🚀🧭🪐🦉🐙🍄", ""},
		{"counted after NFKC composes é", Policy{}, "alice", strings.Repeat("cafe\u0301", 3) + "x", tooShort},
		{"256 is the default maximum", Policy{}, "alice", strings.Repeat("ab", 128), ""},
		{"257 is too long", Policy{}, "alice", strings.Repeat("ab", 128) + "c", "at most 256 characters"},
		{"maximum counts runes", Policy{}, "alice", strings.Repeat("éa", 128), ""},
		{"custom maximum", Policy{MaxLength: 16}, "alice", "correct horse bat", "at most 16"},
		{"minimum below floor raised to 8", Policy{MinLength: 4}, "alice", "abcdefg", "at least 8 characters"},
		{"negative minimum is default", Policy{MinLength: -1}, "alice", "tr0ub4dor&3xyz", "at least 15"},
		{"maximum below minimum raised", Policy{MinLength: 20, MaxLength: 10}, "alice", "correct horse batter", ""},
		{"maximum below minimum raised, still bounds", Policy{MinLength: 20, MaxLength: 10}, "alice", "correct horse battery", "at most 20"},
		{"one character repeated", Policy{}, "alice", strings.Repeat("a", 20), repeated},
		{"one emoji repeated", Policy{}, "alice", strings.Repeat("🔑", 16), repeated},
		{"two characters alternating", Policy{}, "alice", strings.Repeat("ab", 10), ""},
		{"equal to username", lax, "Bob12345", "bob12345", isUser},
		{"equal to username after NFKC", lax, "ｂｏｂ１２３４５", "BOB12345", isUser},
		{"contains username any case", Policy{}, "Alice", "my name is ALICE and more", hasUser},
		{"contains 4-rune username", Policy{}, "dave", "xx-dave-is-here-xx", hasUser},
		{"short username not searched", Policy{}, "bob", "bobsledding champion", ""},
		{"empty username", Policy{}, "", "correct horse battery staple", ""},
		{"common", lax, "alice", "password1", common},
		{"common any case", lax, "alice", "ILoveYou", common},
		{"common after NFKC", lax, "alice", "ｔｒｕｓｔｎｏ１", common},
		{"common at default length", Policy{}, "alice", "1234567890qwerty", common},
		{"common with suffix is fine", lax, "alice", "iloveyou!x", ""},
		{"invalid utf-8", Policy{}, "alice", "correct horse \xff battery", invalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.username, tt.password)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var e *unhidra.Error
			if !errors.As(err, &e) {
				t.Fatalf("Check = %v (%T), want *unhidra.Error", err, err)
			}
			if e.Code != unhidra.EInvalid {
				t.Errorf("code = %q, want %q", e.Code, unhidra.EInvalid)
			}
			if !strings.Contains(e.Message, tt.want) {
				t.Errorf("message = %q, want it to contain %q", e.Message, tt.want)
			}
			if strings.Contains(e.Message, tt.password) && tt.password != "" {
				t.Errorf("message %q repeats the password", e.Message)
			}
		})
	}
}

func TestCommonList(t *testing.T) {
	set := commonPasswords()
	if len(set) < 10000 {
		t.Fatalf("common list has %d entries, want at least 10000", len(set))
	}
	for _, w := range []string{"password", "12345678", "baseball", "trustno1", "qwertyuiop", "1qaz2wsx"} {
		if _, ok := set[w]; !ok {
			t.Errorf("%q missing from the common list", w)
		}
	}
	for w := range set {
		if w != strings.ToLower(w) || utf8.RuneCountInString(w) < MinLengthFloor || strings.HasPrefix(w, "#") {
			t.Errorf("entry %q: want lower case, at least %d characters, no header text", w, MinLengthFloor)
		}
	}
}
