package httpapi

import (
	"net/http"
	"strings"

	"github.com/unhidra/unhidra"
)

// maxQueryBytes bounds every query parameter value. The longest legitimate
// one is a search query (chat.MaxQueryLen, 512 bytes).
const maxQueryBytes = 1024

// pathParam is one wildcard of a route pattern and the field name errors
// use for it.
type pathParam struct {
	name, field string
	text        bool // free text (an emoji), not an opaque id
}

// pathParams lists the wildcards of pattern. A bare {id} is named after the
// collection before it: /channels/{id} is channel_id.
func pathParams(pattern string) []pathParam {
	var out []pathParam
	segs := strings.Split(pattern, "/")
	for i, seg := range segs {
		if !strings.HasPrefix(seg, "{") || !strings.HasSuffix(seg, "}") {
			continue
		}
		name := strings.Trim(seg, "{}")
		p := pathParam{name: name, field: name, text: name == "emoji"}
		if name == "id" && i > 0 {
			p.field = strings.TrimSuffix(segs[i-1], "s") + "_id"
		}
		out = append(out, p)
	}
	return out
}

// checkRequest refuses, before any handler runs, path values and query
// parameters that must never reach the store: NUL bytes, invalid UTF-8,
// control characters in ids, and oversized values (PostgreSQL answers NUL
// and invalid UTF-8 with an error, SQLite's full-text engine chokes on NUL).
func checkRequest(params []pathParam, r *http.Request) error {
	for _, p := range params {
		v := r.PathValue(p.name)
		var err error
		if p.text {
			err = unhidra.CheckParam(p.field, v, 256)
		} else {
			err = unhidra.CheckID(p.field, v)
		}
		if err != nil {
			return err
		}
	}
	if r.URL.RawQuery == "" {
		return nil
	}
	for k, vs := range r.URL.Query() {
		if unhidra.CheckID("name", k) != nil {
			return unhidra.Errorf(unhidra.EInvalid, "query parameter names must be short, plain UTF-8 without control characters")
		}
		for _, v := range vs {
			if err := unhidra.CheckParam(k, v, maxQueryBytes); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkIDs checks every id of a list taken from a request body.
func checkIDs(field string, ids []string) error {
	for _, id := range ids {
		if err := unhidra.CheckID(field, id); err != nil {
			return err
		}
	}
	return nil
}
