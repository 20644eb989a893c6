package audit

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestDocsTableMatchesCode: every action the code records (an
// audit.ActionX used outside this package) has a row in the table of
// docs/audit.md "What is recorded", and every action the table names is
// one of this package's constants, so the table neither misses nor
// invents one.
func TestDocsTableMatchesCode(t *testing.T) {
	// The constants and their values.
	f, err := parser.ParseFile(token.NewFileSet(), "audit.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{} // ActionX -> value
	values := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if !strings.HasPrefix(name.Name, "Action") || i >= len(vs.Values) {
				continue
			}
			if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
				v, _ := strconv.Unquote(lit.Value)
				consts[name.Name], values[v] = v, true
			}
		}
		return true
	})
	if len(consts) < 30 {
		t.Fatalf("found only %d action constants in audit.go", len(consts))
	}

	// The actions the rest of the code records.
	used := map[string]string{} // value -> a file that uses it
	use := regexp.MustCompile(`\baudit\.(Action\w+)`)
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "web" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || filepath.Dir(path) == "." {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range use.FindAllStringSubmatch(string(b), -1) {
			v, ok := consts[m[1]]
			if !ok {
				t.Errorf("%s uses audit.%s, which audit.go does not declare", path, m[1])
				continue
			}
			used[v] = path
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The table's first column.
	doc, err := os.ReadFile("../docs/audit.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(doc), "## What is recorded")
	section, _, _ = strings.Cut(section, "\n## ")
	documented := map[string]bool{}
	cell := regexp.MustCompile("`([a-z0-9_]+\\.[a-z0-9_]+)`")
	for line := range strings.Lines(section) {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(line, "|"), "|")
		for _, m := range cell.FindAllStringSubmatch(first, -1) {
			documented[m[1]] = true
			if !values[m[1]] {
				t.Errorf("docs/audit.md lists %s, which is no action of audit.go", m[1])
			}
		}
	}
	var missing []string
	for v, path := range used {
		if !documented[v] {
			missing = append(missing, v+" (recorded in "+path+")")
		}
	}
	slices.Sort(missing)
	for _, m := range missing {
		t.Errorf("docs/audit.md \"What is recorded\" has no row for %s", m)
	}
}
