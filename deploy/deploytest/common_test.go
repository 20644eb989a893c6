package deploytest

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/unhidra/unhidra/config"
)

// repoRoot is the repository's root directory (two levels above this
// package).
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test's source file")
	}
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	return root
}

func readFile(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// serveFlags is the flag set of `unhidra serve`.
func serveFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := config.Default()
	c.Flags(fs)
	return fs
}

// checkServerEnv fails for every UNHIDRA_* variable in env that names no flag
// of `unhidra serve` or whose value the flag does not accept. Values that
// are references resolved at run time (Kubernetes $(VAR), a Secret) are
// passed in already resolved.
func checkServerEnv(t *testing.T, where string, env map[string]string) {
	t.Helper()
	fs := serveFlags()
	byEnv := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { byEnv[config.EnvName(f.Name)] = f.Name })
	for name, value := range env {
		if !strings.HasPrefix(name, "UNHIDRA_") {
			continue
		}
		flagName, ok := byEnv[name]
		if !ok {
			t.Errorf("%s: %s is no flag of unhidra serve", where, name)
			continue
		}
		if err := fs.Set(flagName, value); err != nil {
			t.Errorf("%s: %s=%q: %v", where, name, value, err)
		}
	}
}
