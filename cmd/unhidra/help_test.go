package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestServeHelpMarksInactiveFlags: `serve -h` says of every flag whose
// feature does not exist yet that it is not active yet, and the flags still
// parse, so existing config files stay valid.
func TestServeHelpMarksInactiveFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"serve", "-h"}, nil, &out, &errb, envOf(nil)); code != 0 && code != 2 {
		t.Fatalf("serve -h: exit %d: %s", code, errb.String())
	}
	help := errb.String() + out.String()
	blocks := map[string]string{}
	for _, b := range regexp.MustCompile(`(?m)^  -`).Split(help, -1)[1:] {
		name, _, _ := strings.Cut(b, " ")
		name, _, _ = strings.Cut(name, "\n")
		blocks[name] = b
	}
	inactive := []string{"mqtt-addr", "files", "max-file-size", "rate-device-register"}
	for _, f := range inactive {
		b, ok := blocks[f]
		if !ok {
			t.Errorf("serve -h does not list --%s", f)
			continue
		}
		if !regexp.MustCompile(`not active yet \(arrives with [^)]+\)`).MatchString(strings.Join(strings.Fields(b), " ")) {
			t.Errorf("--%s is not marked as not active yet:\n  -%s", f, b)
		}
	}
	for name, b := range blocks {
		if strings.Contains(b, "not active yet") && !strings.Contains(strings.Join(inactive, " "), name) {
			t.Errorf("--%s is marked inactive but works", name)
		}
	}

	file := filepath.Join(t.TempDir(), "unhidra.toml")
	os.WriteFile(file, []byte("mqtt-addr = \":1883\"\nmax-file-size = 1000\nrate-device-register = \"5/h\"\nbus = \"\"\nfiles = \"\"\n"), 0o600)
	if _, err := loadConfig("serve", []string{"--config", file}, &bytes.Buffer{}, envOf(nil), nil); err != nil {
		t.Fatalf("a config file setting the inactive flags: %v", err)
	}
}
