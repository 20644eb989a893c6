package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/unhidra/unhidra"
)

// decodeTargets returns a fresh value of every request type a handler
// decodes. TestDecodeTargetsComplete keeps the list in step with the
// handlers.
func decodeTargets() []any {
	return []any{
		// accounts
		&registerRequest{}, &loginRequest{}, &refreshRequest{}, &logoutRequest{},
		&updateMeRequest{}, &changePasswordRequest{}, &createInviteRequest{}, &adminUpdateUserRequest{},
		&adminDeleteUserRequest{},
		// chat
		&createChannelRequest{}, &updateChannelRequest{}, &setMemberRequest{}, &prefsRequest{},
		&disappearRequest{}, &encryptedReactionRequest{},
		&sendRequest{}, &readRequest{}, &editRequest{},
		// second factor, tokens, policy
		&loginMFARequest{}, &codeRequest{}, &disableTOTPRequest{}, &createTokenRequest{}, &breakGlassRequest{},
		// retention
		&setRetentionRequest{}, &placeHoldRequest{},
		// passkeys
		&passkeyRegisterRequest{}, &passkeyLoginRequest{}, &renamePasskeyRequest{},
		// runtime settings
		&settingsPatch{},

		// end-to-end keys, to-device
		&putClientRequest{}, &preKeysRequest{}, &masterKeyRequest{}, &clientListRequest{}, &backupRequest{},
		&toDeviceRequest{}, &toDeviceAckRequest{},
	}
}

// b64 is the standard base64 of n zero bytes, a key of that size.
func b64(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }

// FuzzDecodeRequest feeds arbitrary bodies to the strict decoder for every
// request type: it never panics, every refusal is invalid_argument with a
// message, and whatever it accepts re-encodes into a body it accepts again
// and decodes to the same value.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		// Real bodies, as the README, the CLI and the tests send them.
		`{"username":"alice","password":"correct horse battery","setup_token":"uhs_abc"}`,
		`{"username":"bob","password":"purple monkey dishwasher","display_name":"Bob","invite":"uhi_x"}`,
		`{"username":"bob","password":"purple monkey dishwasher","cookie":true}`,
		`{"refresh_token":"uhr_abc"}`,
		`{"cookie":true}`,
		`{"display_name":"Bob","status_text":"on call"}`,
		`{"old_password":"purple monkey dishwasher","new_password":"a new long passphrase"}`,
		`{"max_uses":3,"expires_in_s":3600}`,
		`{"expires_in_s":18446744074}`,
		`{"role":"admin","disabled":false}`,
		`{"name":"general","kind":"public","topic":"all things","purpose":"chat"}`,
		`{"name":"ops","kind":"private","encrypted":false}`,
		`{"kind":"direct","members":["01a2318a-ea7d-7832-a5b1-62535e97c0a9"]}`,
		`{"name":"renamed","topic":"","purpose":null}`,
		`{"role":"moderator"}`,
		`{"muted":true,"notify":"mentions","hidden":false}`,
		`{"client_msg_id":"c-1","body":"the deploy is green"}`,
		`{"client_msg_id":"c-2","body":"a reply","thread_root_id":"01a2318a-eb32-7434-8a68-2220182105ef","attachments":[]}`,
		`{"client_msg_id":"c-3","ciphertext":"AAEC"}`,
		`{"seq":42}`,
		`{"seq":null}`,
		`{"body":"edited text"}`,
		`{"days":30}`,
		`{"reason":"case 7"}`,
		`{"mode":"anonymise"}`,
		`{"mode":"erase"}`,
		`{"registration":"closed","retention_days":30,"password_login":null}`,
		`{"retention_days": 3 }`,

		`{"identity_key":"` + b64(32) + `","signing_key":"` + b64(32) + `","identity_sig":"` + b64(64) + `","signed_prekey":{"id":1,"key":"` + b64(32) + `","sig":"` + b64(64) + `"},"last_resort_prekey":{"id":2,"key":"` + b64(32) + `","sig":"` + b64(64) + `"}}`,
		`{"one_time_prekeys":[{"id":7,"key":"` + b64(32) + `"}],"pq_one_time_prekeys":[{"id":4294967295,"key":"AAAA","sig":"BBBB"}]}`,
		`{"master_key":"` + b64(32) + `","replace":true}`,
		`{"user_id":"01a2318a-ea7d-7832-a5b1-62535e97c0a9","version":2,"master_key":"` + b64(32) + `","clients":[{"client_id":"laptop-1","signing_key":"` + b64(32) + `"}],"sig":"` + b64(64) + `"}`,
		`{"version":18446744073709551615,"clients":[]}`,
		`{"version":3,"auth_data":"YXV0aA==","data":"ZGF0YQ=="}`,
		`{"from_client":"laptop-1","messages":[{"user_id":"01a2318a-ea7d-7832-a5b1-62535e97c0a9","client_id":"phone","ciphertext":"AAEC"}]}`,
		`{"client_id":"phone","ids":["01a2318a-ea7d-7832-a5b1-62535e97c0a9"]}`,
		`{"one_time_prekeys":[{"id":-1,"key":"x"}]}`, `{"signed_prekey":{"id":4294967296}}`,
		// Hostile shapes.
		`{"username":`, `[]`, `null`, `{} {}`, `{"surprise":1}`, "\x00", `{"username":"\ud800"}`,
		"{\"body\":\"a\x00b\"}", "{\"body\":\"\xff\"}", `{"seq":99999999999999999999}`, `{"seq":-1}`,
		`{"members":"x"}`, `{"encrypted":"yes"}`, `{"name":"a","name":"b"}`, ` {"seq":1} `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range decodeTargets() {
			err := decodeBytes(body, v)
			if err != nil {
				if unhidra.ErrorCode(err) != unhidra.EInvalid || unhidra.ErrorMessage(err) == "" {
					t.Fatalf("decode %q into %T: %v", body, v, err)
				}
				continue
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("re-encode %T from %q: %v", v, body, err)
			}
			v2 := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			if err := decodeBytes(again, v2); err != nil {
				t.Fatalf("%T: %q was accepted, its re-encoding %q is not: %v", v, body, again, err)
			}
			if third, _ := json.Marshal(v2); !bytes.Equal(third, again) {
				t.Fatalf("%T: %q re-encodes as %q, then as %q", v, body, again, third)
			}
		}
	})
}

// TestDecodeTargetsComplete: every type the package's handlers pass to
// decodeJSON is a fuzz target, so a new endpoint cannot skip the fuzzer.
func TestDecodeTargetsComplete(t *testing.T) {
	decoded := decodedTypes(t)
	if len(decoded) == 0 {
		t.Fatal("found no decodeJSON calls")
	}
	fuzzed := map[string]bool{}
	for _, v := range decodeTargets() {
		fuzzed[reflect.TypeOf(v).Elem().Name()] = true
	}
	var missing, extra []string
	for name := range decoded {
		if !fuzzed[name] {
			missing = append(missing, name)
		}
	}
	for name := range fuzzed {
		if !decoded[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("decodeTargets lacks %v and lists %v, which no handler decodes", missing, extra)
	}
}

// decodedTypes parses the package's source and returns the type of every
// variable whose address is passed to decodeJSON.
func decodedTypes(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	out := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			fn, ok := n.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				return true
			}
			// Local variables declared as `var x T` in this function.
			vars := map[string]string{}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if vs, ok := n.(*ast.ValueSpec); ok {
					if id, ok := vs.Type.(*ast.Ident); ok {
						for _, name := range vs.Names {
							vars[name.Name] = id.Name
						}
					}
				}
				return true
			})
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "decodeJSON" || len(call.Args) == 0 {
					return true
				}
				pos := fset.Position(call.Pos())
				u, ok := call.Args[len(call.Args)-1].(*ast.UnaryExpr)
				if !ok || u.Op != token.AND {
					t.Errorf("%s: decodeJSON's target is not &variable: the completeness check cannot follow it", pos)
					return true
				}
				id, ok := u.X.(*ast.Ident)
				if !ok || vars[id.Name] == "" {
					t.Errorf("%s: decodeJSON's target is not a `var x T` of a named type", pos)
					return true
				}
				out[vars[id.Name]] = true
				return true
			})
			return false
		})
	}
	t.Logf("%d request types decoded", len(out))
	return out
}
