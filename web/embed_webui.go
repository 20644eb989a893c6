//go:build webui

package web

import (
	"embed"
	"io/fs"
)

// dist is the built client (npm run build writes web/dist/).
//
//go:embed all:dist
var dist embed.FS

const built = true

func embedded() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path: cannot happen
	}
	return sub
}
