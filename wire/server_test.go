package wire

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestAppendPresenceMatchesEncode(t *testing.T) {
	for _, tc := range []struct {
		ids  []string
		want Presence
	}{
		{nil, Presence{}},
		{[]string{"u1"}, Presence{Online: []string{"u1"}}},
		{[]string{"0192f3a4-0000-7000-8000-000000000001", "u2", "u3", "u4"},
			Presence{Online: []string{"u4"}, Away: []string{"0192f3a4-0000-7000-8000-000000000001"}, DND: []string{"u3"}, Offline: []string{"u2"}}},
		{[]string{`we"ird\id<&>` + "\x01é"}, Presence{Online: []string{`we"ird\id<&>` + "\x01é"}}},
	} {
		statuses := map[string]string{}
		tc.want.Type = TypePresence
		for id, st := range tc.want.Statuses() {
			statuses[id] = st
		}
		got := AppendPresence(nil, tc.ids, statuses)
		if want := Encode(tc.want); string(got) != string(want) {
			t.Errorf("AppendPresence = %s, want %s", got, want)
		}
		var p Presence
		if err := json.Unmarshal(got, &p); err != nil || p.Type != TypePresence || len(p.Statuses()) != len(tc.ids) {
			t.Errorf("decode %s: %v %+v", got, err, p)
		}
	}
}

func TestParseHeader(t *testing.T) {
	h, err := ParseHeader([]byte(`{"type":"message","channel_id":"c","seq":4,"message":{"seq":4}}`))
	if err != nil || h.Type != TypeMessage || h.ChannelID != "c" || h.Seq != 4 {
		t.Fatalf("%+v %v", h, err)
	}
	for _, bad := range []string{`{}`, `[]`, `{"type":1}`, `x`} {
		if _, err := ParseHeader([]byte(bad)); err == nil {
			t.Errorf("ParseHeader(%s) accepted", bad)
		}
	}
}

func TestParsePresenceUpdate(t *testing.T) {
	p, err := ParsePresenceUpdate(PresenceUpdate{UserID: "u", Status: StatusAway}.Encode())
	if err != nil || p.UserID != "u" || p.Status != StatusAway {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := ParsePresenceUpdate([]byte(`{"user_id":"u","status":"` + strings.Repeat("x", 10) + `"}`)); err == nil {
		t.Fatal("unknown status accepted")
	}
}

func TestSubjectID(t *testing.T) {
	if id, ok := SubjectID(AllPresence, PresenceSubject("u1")); !ok || id != "u1" {
		t.Fatal(id, ok)
	}
	if _, ok := SubjectID(AllUsers, PresenceSubject("u1")); ok {
		t.Fatal("wrong kind accepted")
	}
	if _, ok := SubjectID(AllUsers, "user."); ok {
		t.Fatal("empty id accepted")
	}
}

// FuzzParseServer: the decoders of what arrives from the bus and from a
// server never panic, and what they accept re-encodes to an equal value.
func FuzzParseServer(f *testing.F) {
	for _, s := range []string{
		`{"type":"message","channel_id":"c","seq":4}`, `{"type":"presence","online":["u"],"offline":["v"]}`,
		`{"user_id":"u","status":"dnd"}`, `{"type":"subscribe","channel_id":"c","seq":3}`,
		`{"type":"to_device","client_id":"laptop-1","ids":["01a2318a-ea7d-7832-a5b1-62535e97c0a9"]}`, `{"type":"to_device","ids":[]}`,
		`{"type":"keys_changed","channel_id":"c","user_id":"u","client_id":"k"}`, `{"type":"to_device","id":"i","from_user":"u","from_client":"c","ciphertext":"AAAA"}`, `{}`, `[]`, `{"seq":"x"}`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := ParseHeader(b); err == nil && h.Type == "" {
			t.Fatal("header without type accepted")
		}
		if p, err := ParsePresenceUpdate(b); err == nil {
			again, err := ParsePresenceUpdate(p.Encode())
			if err != nil || again != p {
				t.Fatalf("presence round trip %+v → %+v %v", p, again, err)
			}
		}
		if m, err := ParseToDevice(b); err == nil {
			again, err := ParseToDevice(Encode(m))
			if err != nil || again != m {
				t.Fatalf("to_device round trip %+v → %+v %v", m, again, err)
			}
		}
		if c, err := ParseControl(b); err == nil {
			if c.Type == ControlToDevice && (c.ClientID == "" || len(c.IDs) == 0 || len(c.IDs) > MaxAckIDs) {
				t.Fatalf("to_device notice %+v accepted", c)
			}
			again, err := ParseControl(c.Encode())
			if err != nil || !reflect.DeepEqual(again, c) {
				t.Fatalf("control round trip %+v → %+v %v", c, again, err)
			}
		}
	})
}

func TestParseControlToDevice(t *testing.T) {
	ok := Control{Type: ControlToDevice, ClientID: "laptop", IDs: []string{"01a2318a-ea7d-7832-a5b1-62535e97c0a9"}}
	if got, err := ParseControl(ok.Encode()); err != nil || !reflect.DeepEqual(got, ok) {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	many := make([]string, MaxAckIDs+1)
	for i := range many {
		many[i] = "id"
	}
	for name, c := range map[string]Control{
		"no client":    {Type: ControlToDevice, IDs: []string{"a"}},
		"no ids":       {Type: ControlToDevice, ClientID: "c"},
		"too many ids": {Type: ControlToDevice, ClientID: "c", IDs: many},
		"bad id":       {Type: ControlToDevice, ClientID: "c", IDs: []string{"a\x00"}},
	} {
		if _, err := ParseControl(c.Encode()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ParseToDevice([]byte(`{"type":"to_device","id":"i","from_user":"u","from_client":"c","ciphertext":"AAAA"}`)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`{"type":"to_device","id":"i"}`, `{"type":"message","id":"i","ciphertext":"AAAA"}`, `[]`} {
		if _, err := ParseToDevice([]byte(bad)); err == nil {
			t.Errorf("ParseToDevice(%s) accepted", bad)
		}
	}
}
