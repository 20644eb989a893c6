package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// examplePath is the example configuration shipped at the repository root.
const examplePath = "../unhidra.example.toml"

// exampleSetting matches a commented-out setting of the example file:
// "# key = value".
var exampleSetting = regexp.MustCompile(`^# ([a-z][a-z0-9-]*) = (.+)$`)

// TestExampleConfig: the shipped example parses and validates as it is
// (everything commented out: the defaults), and again with every setting
// uncommented; and it lists every setting of `unhidra serve` exactly once,
// so a new flag cannot be left out of it.
func TestExampleConfig(t *testing.T) {
	raw, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("as shipped", func(t *testing.T) {
		c, err := load(t, []string{"--config", examplePath}, nil)
		if err != nil {
			t.Fatalf("the example does not load: %v", err)
		}
		c.ConfigFile = ""
		if d := Default(); !reflect.DeepEqual(c, d) {
			t.Fatalf("the example as shipped changes the defaults:\n got %+v\nwant %+v", c, d)
		}
	})

	// The files the example names (TLS, signing keys) are checked for
	// existence: point those settings at files that exist here.
	dir := t.TempDir()
	files := map[string]bool{"tls-cert": true, "tls-key": true, "jwt-key-files": true, "key-encryption-key-file": true, "audit-signing-key-file": true}
	var uncommented []string
	listed := map[string]int{}
	for _, line := range strings.Split(string(raw), "\n") {
		m := exampleSetting.FindStringSubmatch(line)
		if m == nil {
			if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
				continue
			}
			t.Fatalf("the example has an active setting %q: ship every setting commented out", line)
		}
		key, value := m[1], m[2]
		listed[key]++
		if files[key] {
			p := filepath.Join(dir, key+".pem")
			if err := os.WriteFile(p, []byte("placeholder"), 0o600); err != nil {
				t.Fatal(err)
			}
			value = `"` + filepath.ToSlash(p) + `"`
			if key == "jwt-key-files" {
				value = "[" + value + "]"
			}
		}
		uncommented = append(uncommented, key+" = "+value)
	}

	t.Run("every setting listed once", func(t *testing.T) {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		var c Config
		c.Flags(fs)
		var missing, unknown, twice []string
		fs.VisitAll(func(f *flag.Flag) {
			if listed[f.Name] == 0 {
				missing = append(missing, f.Name)
			}
		})
		for k, n := range listed {
			if fs.Lookup(k) == nil {
				unknown = append(unknown, k)
			}
			if n > 1 {
				twice = append(twice, k)
			}
		}
		sort.Strings(missing)
		sort.Strings(unknown)
		sort.Strings(twice)
		if len(missing)+len(unknown)+len(twice) > 0 {
			t.Fatalf("unhidra.example.toml: missing %v; not settings %v; listed more than once %v", missing, unknown, twice)
		}
	})

	t.Run("every setting uncommented", func(t *testing.T) {
		p := filepath.Join(dir, "unhidra.toml")
		if err := os.WriteFile(p, []byte(strings.Join(uncommented, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c, err := Load(fs, []string{"--config", p}, func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatalf("the example's values do not load:\n%v", err)
		}
		if c.PublicURL == "" || c.DB == "" || len(c.TrustedProxies) != 2 || len(c.AllowedOrigins) != 1 {
			t.Fatalf("the uncommented example was not applied: %+v", c)
		}
	})
}
