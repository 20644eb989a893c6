// Package web serves Unhidra's browser client: the files `npm run build`
// writes to web/dist/, embedded in the binary when it is built with the tag
// webui, or a one-page placeholder that says how to build them otherwise (so
// that go build and go test work on a fresh clone before npm has run).
//
// What the handler guarantees:
//   - It answers GET and HEAD only (405 with Allow otherwise).
//   - Files under /assets/ carry a content hash in their names and are
//     served as immutable for a year. Everything else (index.html, sw.js,
//     the manifest, icons) is served with no-cache and a strong ETag, so a
//     new deploy is seen at the next load and a revalidation costs a 304.
//   - A path that names no file (a client-side route such as
//     /c/{channel_id}/m/{message_id}) gets index.html. A missing file under
//     /assets/ is a 404, never HTML in place of a script, and the paths of
//     the API and of operations (Reserved) are never answered with the
//     client.
//   - Text is sent gzip-compressed to clients that accept it (a .gz file
//     beside it in the build if there is one, else compressed once, on first
//     use), with Vary: Accept-Encoding.
//   - Every response carries a Content-Security-Policy that lets the page
//     load scripts, styles, fonts, workers and its manifest from its own
//     origin only (no inline script, no eval), connect only to its own
//     origin and its WebSocket origin, and be framed by nobody; and
//     nosniff, no-referrer, X-Frame-Options DENY and a Permissions-Policy
//     that turns off camera, microphone and geolocation.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Built reports whether this binary carries the real client (built with
// the webui tag) rather than the placeholder page.
func Built() bool { return built }

// FS is the embedded client: web/dist with the webui tag, the placeholder
// without it. index.html is at its root.
func FS() fs.FS { return embedded() }

// Handler serves the embedded client with default Options. It panics if
// the embedded build has no index.html, which only a broken build can do;
// New reports that as an error instead.
func Handler() http.Handler {
	h, err := New(FS(), Options{})
	if err != nil {
		panic(err)
	}
	return h
}

// Options adjust a handler.
type Options struct {
	// PublicURL is the URL browsers use (--public-url). When it is set, the
	// policy's connect-src names its WebSocket origin exactly; otherwise
	// the WebSocket origin is derived from each request's Host.
	PublicURL string
}

// Reserved reports whether p belongs to the API or to operations (/api/,
// /healthz, /readyz, /metrics, /.well-known/): such a path never gets the
// client, whether or not anything serves it.
func Reserved(p string) bool {
	for _, prefix := range []string{"/api", "/healthz", "/readyz", "/metrics", "/.well-known"} {
		if rest, ok := strings.CutPrefix(p, prefix); ok && (rest == "" || rest[0] == '/') {
			return true
		}
	}
	return false
}

// The cache policies: hashed names never change content; any other file
// may change with a deploy and is revalidated on every use.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

// cspFixed is the policy but for the WebSocket sources of connect-src,
// which end it. 'self' covers same-origin fetches; WebSocket URLs are
// listed explicitly because not every browser counts ws(s): as 'self'.
const cspFixed = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"font-src 'self'; manifest-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'; connect-src 'self'"

type handler struct {
	fsys  fs.FS
	files map[string]*file // by slash-separated name, no leading slash
	index *file
	csp   string // the whole policy when the public URL fixes it; "" to derive per request
}

// file is one servable file. Its content, ETag and compressed form are
// loaded on first use, so that starting a server (and every test that does)
// does not read and compress the whole client.
type file struct {
	name      string
	ctype     string
	immutable bool
	gzName    string // a precompressed copy in the build, if any

	once         sync.Once
	err          error
	data, gz     []byte // gz nil: sent as is
	etag, gzETag string
}

// New returns a handler serving fsys, which must hold index.html at its
// root. Names starting with a dot are not served, nor are .gz copies of
// other files (they are sent as those files' compressed form).
func New(fsys fs.FS, opts Options) (http.Handler, error) {
	h := &handler{fsys: fsys, files: map[string]*file{}}
	if src, ok := publicWSSource(opts.PublicURL); ok {
		h.csp = strings.TrimSpace(cspFixed + " " + src)
	}
	var gzips []string
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if strings.HasSuffix(name, ".gz") {
			gzips = append(gzips, name)
			return nil
		}
		h.files[name] = &file{
			name:      name,
			ctype:     contentType(name),
			immutable: strings.HasPrefix(name, "assets/"),
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web client: %w", err)
	}
	for _, gz := range gzips {
		if f := h.files[strings.TrimSuffix(gz, ".gz")]; f != nil && compressible(f.ctype) {
			f.gzName = gz
		}
	}
	if h.index = h.files["index.html"]; h.index == nil {
		return nil, errors.New("web client: the build has no index.html (run npm run build in web/)")
	}
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	h.securityHeaders(hdr, r)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		plainError(w, http.StatusMethodNotAllowed, "405 method not allowed: the web client answers GET and HEAD")
		return
	}
	p := r.URL.Path
	if Reserved(p) {
		plainError(w, http.StatusNotFound, "404 not found")
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+p), "/")
	if name == "" {
		name = "index.html"
	}
	f := h.files[name]
	if f == nil {
		if name == "assets" || strings.HasPrefix(name, "assets/") {
			// An old page asking for an asset of another build: HTML here
			// would only be refused as a script.
			plainError(w, http.StatusNotFound, "404 not found")
			return
		}
		f = h.index // a client-side route
	}
	h.serve(w, r, f)
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, f *file) {
	hdr := w.Header()
	if err := f.load(h.fsys); err != nil {
		plainError(w, http.StatusInternalServerError, "500 internal error")
		return
	}
	hdr.Set("Content-Type", f.ctype)
	if f.immutable {
		hdr.Set("Cache-Control", cacheImmutable)
	} else {
		hdr.Set("Cache-Control", cacheRevalidate)
	}
	if f.name == "sw.js" {
		hdr.Set("Service-Worker-Allowed", "/")
	}
	body, etag := f.data, f.etag
	if f.gz != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			body, etag = f.gz, f.gzETag
			hdr.Set("Content-Encoding", "gzip")
		}
	}
	hdr.Set("ETag", etag)
	// ServeContent leaves Content-Length out when Content-Encoding is set
	// (it cannot know the caller did not wrap the writer); this body is
	// exact. It replaces the length for a range and drops it for a 304.
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	// ServeContent answers If-None-Match (304), HEAD and Range requests;
	// the zero time sends no Last-Modified (the ETag is exact).
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// securityHeaders replaces what the API's middleware sets for its JSON
// answers (a policy of default-src 'none', no-store) with the client's.
func (h *handler) securityHeaders(hdr http.Header, r *http.Request) {
	csp := h.csp
	if csp == "" {
		csp = cspFixed
		if src := requestWSSources(r); src != "" {
			csp += " " + src
		}
	}
	hdr.Set("Content-Security-Policy", csp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
}

func plainError(w http.ResponseWriter, status int, msg string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Del("ETag")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// load reads the file, hashes it and prepares its compressed form.
func (f *file) load(fsys fs.FS) error {
	f.once.Do(func() {
		f.data, f.err = fs.ReadFile(fsys, f.name)
		if f.err != nil {
			return
		}
		f.etag = etagOf(f.data, "")
		if !compressible(f.ctype) || len(f.data) == 0 {
			return
		}
		var gz []byte
		if f.gzName != "" {
			if gz, f.err = fs.ReadFile(fsys, f.gzName); f.err != nil {
				return
			}
		} else {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // a valid level: no error
			zw.Write(f.data)
			zw.Close()
			gz = buf.Bytes()
		}
		if len(gz) < len(f.data) {
			f.gz, f.gzETag = gz, etagOf(f.data, "-gz")
		}
	})
	return f.err
}

// etagOf is a strong ETag of content; suffix tells its encodings apart.
func etagOf(content []byte, suffix string) string {
	sum := sha256.Sum256(content)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + suffix + `"`
}

// contentType is fixed by extension here rather than by the system's MIME
// tables, so the answer does not depend on the machine the server runs on.
func contentType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".json", ".map":
		return "application/json"
	case ".webmanifest":
		return "application/manifest+json"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".gif":
		return "image/gif"
	case ".webp":
		return "image/webp"
	case ".avif":
		return "image/avif"
	case ".ico":
		return "image/x-icon"
	case ".woff2":
		return "font/woff2"
	case ".woff":
		return "font/woff"
	case ".ttf":
		return "font/ttf"
	case ".wasm":
		return "application/wasm"
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".xml":
		return "application/xml"
	}
	return "application/octet-stream"
}

// compressible says whether gzip is worth trying on a content type; images
// and fonts other than SVG are compressed already.
func compressible(ctype string) bool {
	mt, _, _ := strings.Cut(ctype, ";")
	switch {
	case strings.HasPrefix(mt, "text/"), strings.HasSuffix(mt, "json"), strings.HasSuffix(mt, "xml"):
		return true
	}
	switch mt {
	case "image/svg+xml", "image/x-icon", "application/wasm":
		return true
	}
	return false
}

// acceptsGzip reads Accept-Encoding: gzip (or x-gzip) with a non-zero
// quality, or * with one when gzip is not named.
func acceptsGzip(values []string) bool {
	gz, star := -1.0, -1.0
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			q := 1.0
			for param := range strings.SplitSeq(params, ";") {
				k, val, _ := strings.Cut(param, "=")
				if strings.EqualFold(strings.TrimSpace(k), "q") {
					var err error
					if q, err = strconv.ParseFloat(strings.TrimSpace(val), 64); err != nil || q != q {
						q = 0
					}
				}
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gz = max(gz, q)
			case "*":
				star = max(star, q)
			}
		}
	}
	if gz >= 0 {
		return gz > 0
	}
	return star > 0
}

// publicWSSource is the WebSocket origin of the public URL as a CSP
// source, and whether the public URL decides it. A host no policy can name
// (an IPv6 literal) leaves connect-src at 'self'; no usable public URL
// leaves the choice to each request.
func publicWSSource(publicURL string) (string, bool) {
	u, err := url.Parse(publicURL)
	if publicURL == "" || err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false
	}
	host := strings.ToLower(u.Host)
	switch {
	case !cspHost(host):
		return "", true
	case u.Scheme == "https":
		return "wss://" + host, true
	}
	return "ws://" + host, true
}

// requestWSSources names the WebSocket origin of the request's Host: wss
// when the request came over TLS, else both ws and wss (a proxy in front may
// terminate TLS). A Host that a policy cannot carry safely gives "" and
// connect-src stays 'self'.
func requestWSSources(r *http.Request) string {
	host := strings.ToLower(r.Host)
	if !cspHost(host) {
		return ""
	}
	if r.TLS != nil {
		return "wss://" + host
	}
	return "ws://" + host + " wss://" + host
}

// cspHost reports whether hostport is a DNS name or IPv4 address with an
// optional port, made only of characters a CSP host-source allows. The
// Host header is the client's text: nothing else may reach the policy
// (a ';' there would start a directive of the client's choosing).
func cspHost(hostport string) bool {
	host, port, hasPort := strings.Cut(hostport, ":")
	if host == "" || len(host) > 253 || host[0] == '.' || host[0] == '-' || strings.Contains(host, "..") {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	if hasPort {
		if port == "" || len(port) > 5 {
			return false
		}
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return false
			}
		}
	}
	return true
}
