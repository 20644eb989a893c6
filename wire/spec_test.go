package wire

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// constBlocks returns the string constants of protocol.go, by the first
// line of their block's comment.
func constBlocks(t *testing.T) map[string][]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "protocol.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST || g.Doc == nil {
			continue
		}
		title, _, _ := strings.Cut(g.Doc.Text(), "\n")
		for _, s := range g.Specs {
			for _, v := range s.(*ast.ValueSpec).Values {
				if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					u, _ := strconv.Unquote(lit.Value)
					out[title] = append(out[title], u)
				}
			}
		}
	}
	return out
}

func findBlock(t *testing.T, blocks map[string][]string, prefix string) []string {
	t.Helper()
	for title, vs := range blocks {
		if strings.HasPrefix(title, prefix) {
			return vs
		}
	}
	t.Fatalf("protocol.go has no constant block %q", prefix)
	return nil
}

func jsonNames(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}

// TestServerFramesListEveryType: every server frame type of protocol.go
// is in ServerFrames (device_status, without a payload yet, aside), once,
// with a payload whose "type" is a field, and a channel event's payload
// carries its channel and seq.
func TestServerFramesListEveryType(t *testing.T) {
	blocks := constBlocks(t)
	want := append(findBlock(t, blocks, "Channel event types"), findBlock(t, blocks, "Other server frame types")...)
	want = slices.DeleteFunc(append(want, TypeTyping, TypeRead, TypePresence), func(s string) bool { return s == TypeDeviceStatus })
	var got []string
	for _, sf := range ServerFrames() {
		got = append(got, sf.Type)
		if sf.Payload == nil {
			continue
		}
		names := jsonNames(reflect.TypeOf(sf.Payload))
		if !slices.Contains(names, "type") {
			t.Errorf("%s: payload %T has no type field", sf.Type, sf.Payload)
		}
		if IsChannelEvent(sf.Type) && (!slices.Contains(names, "channel_id") || !slices.Contains(names, "seq")) {
			t.Errorf("%s: a channel event's payload %T lacks channel_id or seq", sf.Type, sf.Payload)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("ServerFrames types %v\nprotocol.go has %v", got, want)
	}
	for _, typ := range findBlock(t, blocks, "Channel event types") {
		if !IsChannelEvent(typ) {
			t.Errorf("IsChannelEvent(%q) = false", typ)
		}
	}
}

// TestClientFramesMatchDecode: ClientFrames lists every client frame type,
// names only fields of ClientFrame, and says what Decode does: a frame
// with its required fields decodes, one without a field Decode requires
// does not, and no other field is accepted.
func TestClientFramesMatchDecode(t *testing.T) {
	sample := map[string]any{
		"client_msg_id": "c1", "channel_id": "ch", "body": "hi", "ciphertext": "AAAA", "thread_root_id": "m1",
		"attachments": []string{"f1"}, "seq": 1, "status": StatusAway, "positions": map[string]int{"a": 1},
		"access_token": "x.y.z", "ids": []string{"1"},
	}
	decodedHere := []string{"seq", "status", "positions", "access_token"} // the service judges the rest
	fields := jsonNames(reflect.TypeOf(ClientFrame{}))
	var got []string
	for _, spec := range ClientFrames() {
		got = append(got, spec.Type)
		frame := func(names []string) []byte {
			m := map[string]any{"type": spec.Type}
			for _, n := range names {
				m[n] = sample[n]
			}
			b, _ := json.Marshal(m)
			return b
		}
		for _, n := range spec.Fields {
			if !slices.Contains(fields, n) {
				t.Errorf("%s: field %s is not a ClientFrame field", spec.Type, n)
			}
		}
		for _, n := range spec.Required {
			if !slices.Contains(spec.Fields, n) {
				t.Errorf("%s: required %s is not among its fields", spec.Type, n)
			}
		}
		if _, err := Decode(frame(spec.Required)); err != nil {
			t.Errorf("%s with %v: %v", spec.Type, spec.Required, err)
		}
		if _, err := Decode(frame(spec.Fields)); err != nil {
			t.Errorf("%s with %v: %v", spec.Type, spec.Fields, err)
		}
		for _, n := range spec.Required {
			rest := slices.DeleteFunc(slices.Clone(spec.Required), func(s string) bool { return s == n })
			if _, err := Decode(frame(rest)); (err != nil) != slices.Contains(decodedHere, n) {
				t.Errorf("%s without %s: Decode error %v", spec.Type, n, err)
			}
		}
		for n := range sample {
			if !slices.Contains(spec.Fields, n) {
				if _, err := Decode(frame(append(slices.Clone(spec.Required), n))); err == nil {
					t.Errorf("%s accepts %s", spec.Type, n)
				}
			}
		}
	}
	if want := findBlock(t, constBlocks(t), "Client frame types"); !slices.Equal(got, want) {
		t.Fatalf("ClientFrames types %v\nprotocol.go has %v", got, want)
	}
	for _, st := range append(ClientPresenceStatuses(), StatusOffline) {
		_, err := Decode([]byte(`{"type":"presence","status":"` + st + `"}`))
		if (err == nil) != slices.Contains(ClientPresenceStatuses(), st) {
			t.Errorf("presence %s: %v", st, err)
		}
	}
}
