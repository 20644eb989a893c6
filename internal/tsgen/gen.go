//go:build ignore

// gen writes the TypeScript types of the web client: go generate runs it
// in this directory, two levels below the repository root.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/unhidra/unhidra/internal/tsgen"
)

func main() {
	const root = "../.."
	b, err := tsgen.Generate(root)
	if err == nil {
		err = os.WriteFile(filepath.Join(root, tsgen.Path), b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
