package wire

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/unhidra/unhidra"
)

// FuzzDecode: no input panics, every refusal is an invalid_argument
// *unhidra.Error, and every accepted frame has a known type and re-encodes
// to a frame that decodes to the same thing.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"send","client_msg_id":"c1","channel_id":"ch","body":"hi"}`,
		`{"type":"send","client_msg_id":"c1","channel_id":"ch","ciphertext":"AAAA","thread_root_id":"m1","attachments":["f1"]}`,
		`{"type":"typing","channel_id":"ch"}`,
		`{"type":"read","channel_id":"ch","seq":4}`,
		`{"type":"presence","status":"dnd"}`,
		`{"type":"resume","positions":{"a":1,"b":0}}`,
		`{"type":"auth","access_token":"x.y.z"}`,
		`{"type":"to_device_ack","ids":["1","2"]}`,
		`{"type":"ping","ref":"r1"}`,
		`{"type":"nope"}`, `{`, `[]`, `null`, `{"type":"ping"} {}`, "\xff",
		`{"type":"read","channel_id":"ch","seq":-1}`, `{"type":"send","seq":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := Decode(data)
		if err != nil {
			e, ok := err.(*unhidra.Error)
			if !ok || e.Code != unhidra.EInvalid || e.Message == "" {
				t.Fatalf("error %#v", err)
			}
			return
		}
		switch fr.Type {
		case TypeSend, TypeTyping, TypeRead, TypePresence, TypeResume, TypeAuth, TypeToDeviceAck, TypePing:
		default:
			t.Fatalf("accepted type %q", fr.Type)
		}
		b, err := json.Marshal(fr)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Decode(b)
		if err != nil {
			t.Fatalf("re-encoded %s: %v", b, err)
		}
		b2, _ := json.Marshal(again)
		if string(b) != string(b2) {
			t.Fatalf("round trip: %s != %s", b, b2)
		}
	})
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
		ref      string
	}{
		{"send", `{"type":"send","client_msg_id":"c1","channel_id":"ch","body":"hi"}`, true, "c1"},
		{"send without body is the service's to judge", `{"type":"send","client_msg_id":"c1","channel_id":"ch"}`, true, "c1"},
		{"send with a field of read", `{"type":"send","client_msg_id":"c1","seq":1}`, false, "c1"},
		{"read without seq", `{"type":"read","channel_id":"ch"}`, false, ""},
		{"too many attachments", `{"type":"send","client_msg_id":"c1","attachments":[` + strings.Repeat(`"f",`, MaxAttachments) + `"f"]}`, false, "c1"},
		{"resume key not an id", `{"type":"resume","positions":{"a\u0000b":1}}`, false, ""},
		{"resume negative", `{"type":"resume","positions":{"a":-1}}`, false, ""},
		{"ref too long", `{"type":"ping","ref":"` + strings.Repeat("r", MaxRefLength+1) + `"}`, false, ""},
		{"ref with NUL", `{"type":"ping","ref":"a\u0000"}`, false, ""},
		{"invalid UTF-8", "{\"type\":\"ping\",\"ref\":\"\xff\"}", false, ""},
		{"unknown field", `{"type":"ping","x":1}`, false, ""},
		{"field of another type", `{"type":"ping","channel_id":"x"}`, false, ""},
		{"unknown type", `{"type":"hello"}`, false, ""},
		{"two objects", `{"type":"ping"}{"type":"ping"}`, false, ""},
		{"ref kept on error", `{"type":"typing","ref":"r9","seq":1}`, false, "r9"},
		{"presence", `{"type":"presence","status":"offline"}`, false, ""},
		{"resume", `{"type":"resume","positions":{}}`, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Decode([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if got := f.ErrorRef(); got != tc.ref {
				t.Fatalf("ref %q, want %q", got, tc.ref)
			}
		})
	}
}
