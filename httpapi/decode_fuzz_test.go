package httpapi

import (
	"testing"

	"github.com/unhidra/unhidra"
)

// FuzzDecodeRequest feeds arbitrary bodies to the strict decoder for every
// request type: it never panics, and every refusal is invalid_argument with a
// message.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"username":"bob","password":"correct horse battery"}`,
		`{"username":"bob","password":"x","cookie":true}`,
		`{"refresh_token":"uhr_abc"}`,
		`{"display_name":"Bob","status_text":"hi"}`,
		`{"max_uses":3,"expires_in_s":3600}`,
		`{"role":"admin","disabled":false}`,
		`{"old_password":"a","new_password":"b"}`,
		`{"username":`, `[]`, `null`, `{} {}`, `{"surprise":1}`, "\x00", `{"username":"\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		targets := []any{
			&registerRequest{}, &loginRequest{}, &refreshRequest{}, &logoutRequest{},
			&updateMeRequest{}, &changePasswordRequest{}, &createInviteRequest{}, &adminUpdateUserRequest{},
		}
		for _, v := range targets {
			err := decodeBytes(body, v)
			if err == nil {
				continue
			}
			if unhidra.ErrorCode(err) != unhidra.EInvalid || unhidra.ErrorMessage(err) == "" {
				t.Fatalf("decode %q into %T: %v", body, v, err)
			}
		}
	})
}
