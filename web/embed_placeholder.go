//go:build !webui

package web

import (
	"embed"
	"io/fs"
)

// placeholder stands in for the client in binaries built without the
// webui tag (plain go build and go test on a fresh clone, before npm has
// run): one page that says how to build the real one.
//
//go:embed placeholder
var placeholder embed.FS

const built = false

func embedded() fs.FS {
	sub, err := fs.Sub(placeholder, "placeholder")
	if err != nil {
		panic(err) // "placeholder" is a valid path: cannot happen
	}
	return sub
}
