package jsonshape_test

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/jsonshape"
)

type inner struct {
	A     string `json:"a"`
	Outer string // loses to the shallower Outer
	Tie   string // ties with other.Tie: dropped
	Win   string `json:"win"`
}

type other struct {
	Tie string
	Win string // loses to the tagged win at the same depth
}

type Named struct {
	N int `json:"n"`
}

type sample struct {
	inner
	*other
	Named  `json:"named"` // an embedded struct with a name is a member
	Outer  string         `json:"outer,omitempty" doc:"the outer one"`
	hidden string
	Skip   string `json:"-"`
	//lint:ignore SA5008 a member named "-" is one of the cases under test
	Dash   string            `json:"-,"`
	Plain  int64             // no tag: the Go name
	Quoted int               `json:"quoted,string"`
	Zero   time.Time         `json:"zero,omitzero"`
	When   *time.Time        `json:"when"`
	Raw    json.RawMessage   `json:"raw"`
	Bytes  []byte            `json:"bytes"`
	IP     netip.Addr        `json:"ip"`
	List   []*Named          `json:"list"`
	Map    map[string][]bool `json:"map"`
	Any    any               `json:"any"`
	F      float32           `json:"f"`
}

// TestFieldsMatchEncodingJSON: the members Fields reports are the ones
// encoding/json writes, in its order.
func TestFieldsMatchEncodingJSON(t *testing.T) {
	now := time.Now()
	v := sample{
		inner: inner{A: "a", Outer: "x", Tie: "t", Win: "w"}, other: &other{Tie: "t", Win: "w"}, Named: Named{1},
		Outer: "o", hidden: "h", Skip: "s", Dash: "d", Plain: 1, Quoted: 2, Zero: now, When: &now,
		Raw: json.RawMessage(`{}`), Bytes: []byte{1}, IP: netip.MustParseAddr("127.0.0.1"),
		List: []*Named{{1}}, Map: map[string][]bool{"k": {true}}, Any: 1, F: 1,
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.Token()
	var want []string
	for dec.More() {
		k, _ := dec.Token()
		want = append(want, k.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	var got []string
	for _, f := range jsonshape.Fields(reflect.TypeOf(v)) {
		got = append(got, f.Name)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Fields = %v\nencoding/json writes %v", got, want)
	}
}

func TestFieldDetails(t *testing.T) {
	fields := map[string]jsonshape.Field{}
	for _, f := range jsonshape.Fields(reflect.TypeOf(&sample{})) {
		fields[f.Name] = f
	}
	for _, tc := range []struct {
		name     string
		kind     jsonshape.Kind
		required bool
	}{
		{"a", jsonshape.String, true},
		{"outer", jsonshape.String, false},
		{"named", jsonshape.Object, true},
		{"Plain", jsonshape.Integer, true},
		{"quoted", jsonshape.String, true},
		{"zero", jsonshape.Time, false},
		{"when", jsonshape.Time, true},
		{"raw", jsonshape.Raw, true},
		{"bytes", jsonshape.String, true},
		{"ip", jsonshape.String, true},
		{"list", jsonshape.Array, true},
		{"map", jsonshape.Map, true},
		{"any", jsonshape.Any, true},
		{"f", jsonshape.Number, true},
		{"-", jsonshape.String, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, ok := fields[tc.name]
			if !ok {
				t.Fatalf("no field %s", tc.name)
			}
			if f.Kind != tc.kind || f.Required != tc.required {
				t.Fatalf("kind %v required %v, want %v %v", f.Kind, f.Required, tc.kind, tc.required)
			}
		})
	}
	if d := fields["outer"].Doc; d != "the outer one" {
		t.Fatalf("doc %q", d)
	}
}

func TestOfInvalid(t *testing.T) {
	for _, v := range []any{make(chan int), func() {}, complex(1, 2), jsonMarshaler{}} {
		if k := jsonshape.Of(reflect.TypeOf(v)); k != jsonshape.Invalid {
			t.Errorf("Of(%T) = %v, want Invalid", v, k)
		}
	}
}

type jsonMarshaler struct{}

func (jsonMarshaler) MarshalJSON() ([]byte, error) { return []byte(`1`), nil }
