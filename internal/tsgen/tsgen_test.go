package tsgen

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/jsonshape"
)

// root is the repository root, seen from this package's directory (where
// go test runs).
const root = "../.."

// TestGeneratedFileIsUpToDate fails when the committed TypeScript types
// are not what the Go types generate today.
func TestGeneratedFileIsUpToDate(t *testing.T) {
	want, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, Path)
	if os.Getenv("UNHIDRA_UPDATE_TS") == "1" {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v\nwrite it with: go generate ./internal/tsgen", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	line := 0
	for line < len(g) && line < len(w) && g[line] == w[line] {
		line++
	}
	at := func(l []string) string {
		if line < len(l) {
			return l[line]
		}
		return "(end of file)"
	}
	t.Fatalf("%s differs from the Go types at line %d:\n  file:      %s\n  generated: %s\n"+
		"regenerate it with: go generate ./internal/tsgen (or UNHIDRA_UPDATE_TS=1 go test ./internal/tsgen)",
		Path, line+1, at(g), at(w))
}

// TestGenerateIsStable: two runs write the same bytes.
func TestGenerateIsStable(t *testing.T) {
	a, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if b, _ := Generate(root); !bytes.Equal(a, b) {
			t.Fatal("Generate is not deterministic")
		}
	}
}

type leaf struct {
	N int `json:"n"`
}

type shapes struct {
	S      string                   `json:"s"`
	Opt    *string                  `json:"opt,omitempty"`
	When   time.Time                `json:"when"`
	Raw    json.RawMessage          `json:"raw"`
	Nested map[string][]*leaf       `json:"nested"`
	Inline struct{ A bool }         `json:"inline"`
	Quoted int64                    `json:"quoted,string"`
	Odd    float64                  `json:"odd-name"`
	Union  []map[string]interface{} `json:"union"`
}

func TestMembers(t *testing.T) {
	g := &gen{names: map[reflect.Type]string{reflect.TypeOf(leaf{}): "Leaf"}, used: map[string]bool{}}
	var got []string
	typ := reflect.TypeOf(shapes{})
	for _, f := range jsonshape.Fields(typ) {
		got = append(got, g.member(typ, f, ""))
	}
	want := []string{
		"s: string", "opt?: string", "when: string", "raw: unknown", "nested: Record<string, Leaf[]>",
		"inline: { A: boolean }", "quoted: string", "'odd-name': number", "union: Record<string, unknown>[]",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("members\n%q\nwant\n%q", got, want)
	}
	if len(g.errs) > 0 {
		t.Fatal(g.errs)
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"registerRequest": "RegisterRequest", "to_device_ack": "ToDeviceAck", "ping": "Ping", "Hello": "Hello",
	} {
		if got := pascal(in); got != want {
			t.Errorf("pascal(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"a_b": "a_b", "$x1": "$x1", "1a": "'1a'", "a-b": "'a-b'", "it's": `'it\'s'`} {
		if got := propName(in); got != want {
			t.Errorf("propName(%q) = %q, want %q", in, got, want)
		}
	}
}
