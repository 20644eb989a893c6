package web

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// A build as Vite lays it out: hashed files under assets/, the rest at the
// root.
var (
	appJS = "export function main(){" + strings.Repeat("console.log('unhidra');", 200) + "}\n"
	build = fstest.MapFS{
		"index.html":              {Data: []byte(`<!doctype html><html><head><script type="module" src="/assets/index-B1a2c3.js"></script></head><body><div id="app"></div></body></html>`)},
		"sw.js":                   {Data: []byte("self.addEventListener('fetch', () => {});\n")},
		"manifest.webmanifest":    {Data: []byte(`{"name":"Unhidra","start_url":"/","display":"standalone"}`)},
		"icon.svg":                {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" height="1"/></svg>`)},
		"icon-192.png":            {Data: []byte("\x89PNG\r\n\x1a\nnot really")},
		"assets/index-B1a2c3.js":  {Data: []byte(appJS)},
		"assets/index-D4e5f6.css": {Data: []byte("body{margin:0}")},
		"assets/big-X9.js":        {Data: []byte(strings.Repeat("original ", 50))},
		"assets/big-X9.js.gz":     {Data: gzipped("precompressed")},
		".vite/manifest.json":     {Data: []byte(`{"secret":"build internals"}`)},
	}
)

func gzipped(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

func newHandler(t *testing.T, opts Options) http.Handler {
	t.Helper()
	h, err := New(build, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return h
}

func get(t *testing.T, h http.Handler, method, target string, hdr ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServingRules(t *testing.T) {
	h := newHandler(t, Options{})
	index := string(build["index.html"].Data)
	for _, c := range []struct {
		name, path string
		status     int
		ctype      string
		cache      string
		body       string // "" to skip
	}{
		{"root", "/", 200, "text/html; charset=utf-8", "no-cache", index},
		{"index by name", "/index.html", 200, "text/html; charset=utf-8", "no-cache", index},
		{"channel route", "/c/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", 200, "text/html; charset=utf-8", "no-cache", index},
		{"message route", "/c/0190a1b2/m/0190a1b3", 200, "text/html; charset=utf-8", "no-cache", index},
		{"route with trailing slash", "/settings/", 200, "text/html; charset=utf-8", "no-cache", index},
		{"hashed script", "/assets/index-B1a2c3.js", 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", appJS},
		{"hashed style", "/assets/index-D4e5f6.css", 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable", "body{margin:0}"},
		{"service worker", "/sw.js", 200, "text/javascript; charset=utf-8", "no-cache", ""},
		{"manifest", "/manifest.webmanifest", 200, "application/manifest+json", "no-cache", ""},
		{"svg icon", "/icon.svg", 200, "image/svg+xml", "no-cache", ""},
		{"png icon", "/icon-192.png", 200, "image/png", "no-cache", ""},
		{"missing asset", "/assets/index-OLD.js", 404, "text/plain; charset=utf-8", "no-store", ""},
		{"assets directory", "/assets/", 404, "text/plain; charset=utf-8", "no-store", ""},
		{"api path", "/api/v1/nothing", 404, "text/plain; charset=utf-8", "no-store", ""},
		{"health path", "/healthz", 404, "text/plain; charset=utf-8", "no-store", ""},
		{"well-known path", "/.well-known/security.txt", 404, "text/plain; charset=utf-8", "no-store", ""},
		{"hidden build file", "/.vite/manifest.json", 200, "text/html; charset=utf-8", "no-cache", index},
		{"gz copy not served as itself", "/assets/big-X9.js.gz", 404, "text/plain; charset=utf-8", "no-store", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := get(t, h, "GET", c.path)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if got := resp.Header.Get("Content-Type"); got != c.ctype {
				t.Errorf("Content-Type %q, want %q", got, c.ctype)
			}
			if got := resp.Header.Get("Cache-Control"); got != c.cache {
				t.Errorf("Cache-Control %q, want %q", got, c.cache)
			}
			if got := body(t, resp); c.body != "" && got != c.body {
				t.Errorf("body %.80q, want %.80q", got, c.body)
			}
			if c.status == 200 && resp.Header.Get("ETag") == "" {
				t.Errorf("no ETag")
			}
			if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("security headers missing: %v", resp.Header)
			}
		})
	}
	if got := get(t, h, "GET", "/sw.js").Header.Get("Service-Worker-Allowed"); got != "/" {
		t.Errorf("sw.js Service-Worker-Allowed = %q", got)
	}
	if got := get(t, h, "GET", "/").Header.Get("Service-Worker-Allowed"); got != "" {
		t.Errorf("index.html Service-Worker-Allowed = %q", got)
	}
}

func TestMethods(t *testing.T) {
	h := newHandler(t, Options{})
	head := get(t, h, "HEAD", "/assets/index-B1a2c3.js")
	if head.StatusCode != 200 || body(t, head) != "" || head.Header.Get("Content-Length") != strconv.Itoa(len(appJS)) {
		t.Errorf("HEAD: %d %v", head.StatusCode, head.Header)
	}
	if head.Header.Get("Cache-Control") != cacheImmutable {
		t.Errorf("HEAD Cache-Control %q", head.Header.Get("Cache-Control"))
	}
	if got := get(t, h, "HEAD", "/c/x"); got.StatusCode != 200 || got.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("HEAD of a route: %d %v", got.StatusCode, got.Header)
	}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
		resp := get(t, h, m, "/")
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d Allow %q", m, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
}

func TestRevalidation(t *testing.T) {
	h := newHandler(t, Options{})
	for _, p := range []string{"/", "/c/abc", "/sw.js", "/manifest.webmanifest", "/assets/index-B1a2c3.js"} {
		for _, enc := range []string{"", "gzip"} {
			first := get(t, h, "GET", p, "Accept-Encoding", enc)
			etag := first.Header.Get("ETag")
			if !strings.HasPrefix(etag, `"`) {
				t.Fatalf("%s: ETag %q is not strong", p, etag)
			}
			again := get(t, h, "GET", p, "Accept-Encoding", enc, "If-None-Match", etag)
			if again.StatusCode != 304 || body(t, again) != "" {
				t.Errorf("%s (%q): revalidation answered %d", p, enc, again.StatusCode)
			}
			if again.Header.Get("Cache-Control") == "" || again.Header.Get("ETag") != etag {
				t.Errorf("%s: 304 lost its caching headers: %v", p, again.Header)
			}
			if stale := get(t, h, "GET", p, "Accept-Encoding", enc, "If-None-Match", `"other"`); stale.StatusCode != 200 {
				t.Errorf("%s: a stale ETag answered %d", p, stale.StatusCode)
			}
		}
	}
	// The two encodings are different representations: different ETags.
	plain := get(t, h, "GET", "/assets/index-B1a2c3.js").Header.Get("ETag")
	gz := get(t, h, "GET", "/assets/index-B1a2c3.js", "Accept-Encoding", "gzip").Header.Get("ETag")
	if plain == gz {
		t.Errorf("identity and gzip share the ETag %s", plain)
	}
}

func TestCompression(t *testing.T) {
	h := newHandler(t, Options{})
	resp := get(t, h, "GET", "/assets/index-B1a2c3.js", "Accept-Encoding", "br, gzip;q=0.8")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("headers %v", resp.Header)
	}
	gz := body(t, resp)
	if resp.Header.Get("Content-Length") != strconv.Itoa(len(gz)) {
		t.Errorf("Content-Length %q for %d gzip bytes", resp.Header.Get("Content-Length"), len(gz))
	}
	zr, err := gzip.NewReader(strings.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(zr); string(b) != appJS {
		t.Fatalf("decompressed body differs")
	}

	resp = get(t, h, "GET", "/assets/index-B1a2c3.js", "Accept-Encoding", "gzip;q=0, br")
	if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Vary") != "Accept-Encoding" || body(t, resp) != appJS {
		t.Errorf("gzip refused with q=0 but sent: %v", resp.Header)
	}

	// A precompressed copy in the build is sent as is.
	resp = get(t, h, "GET", "/assets/big-X9.js", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("precompressed: %v", resp.Header)
	}
	zr, _ = gzip.NewReader(resp.Body)
	if b, _ := io.ReadAll(zr); string(b) != "precompressed" {
		t.Errorf("precompressed copy not used: %q", b)
	}
	if b := body(t, get(t, h, "GET", "/assets/big-X9.js")); b != strings.Repeat("original ", 50) {
		t.Errorf("identity: %q", b)
	}

	// Images that are compressed already, and text too short to gain, are
	// sent as they are, with no Vary.
	for _, p := range []string{"/icon-192.png", "/assets/index-D4e5f6.css"} {
		resp := get(t, h, "GET", p, "Accept-Encoding", "gzip")
		if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Vary") != "" {
			t.Errorf("%s: %v", p, resp.Header)
		}
	}
}

// TestRanges: a range is of the representation sent (RFC 9110), with its
// own length.
func TestRanges(t *testing.T) {
	h := newHandler(t, Options{})
	for _, enc := range []string{"", "gzip"} {
		full := body(t, get(t, h, "GET", "/assets/index-B1a2c3.js", "Accept-Encoding", enc))
		resp := get(t, h, "GET", "/assets/index-B1a2c3.js", "Accept-Encoding", enc, "Range", "bytes=10-19")
		part := body(t, resp)
		if resp.StatusCode != 206 || part != full[10:20] || resp.Header.Get("Content-Length") != "10" {
			t.Errorf("%q: %d %q %v", enc, resp.StatusCode, part, resp.Header)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, c := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"x-gzip", true},
		{"gzip, deflate, br, zstd", true},
		{"br;q=1.0, gzip;q=0.5", true},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"*", true},
		{"*;q=0", false},
		{"*, gzip;q=0", false},
		{"gzip;q=0, *", false},
		{"identity", false},
		{"br", false},
		{"gzip;q=nonsense", false},
		{"gzip;q=NaN", false},
		{"gzipx", false},
	} {
		if got := acceptsGzip([]string{c.header}); got != c.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", c.header, got, c.want)
		}
	}
	if !acceptsGzip([]string{"br", "gzip"}) {
		t.Errorf("gzip in a second Accept-Encoding line ignored")
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	directives := func(t *testing.T, csp string) map[string]string {
		t.Helper()
		m := map[string]string{}
		for d := range strings.SplitSeq(csp, ";") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
			if _, dup := m[name]; dup {
				t.Errorf("directive %s twice in %q", name, csp)
			}
			m[name] = value
		}
		return m
	}
	want := map[string]string{
		"default-src":     "'self'",
		"script-src":      "'self'",
		"style-src":       "'self'",
		"img-src":         "'self' data: blob:",
		"font-src":        "'self'",
		"manifest-src":    "'self'",
		"worker-src":      "'self'",
		"object-src":      "'none'",
		"base-uri":        "'none'",
		"form-action":     "'self'",
		"frame-ancestors": "'none'",
	}
	for _, c := range []struct {
		name    string
		opts    Options
		host    string
		tls     bool
		connect string
	}{
		{"public https URL", Options{PublicURL: "https://Chat.Example.com"}, "ignored.example", false, "'self' wss://chat.example.com"},
		{"public http URL with port", Options{PublicURL: "http://10.0.0.5:8080/"}, "ignored.example", false, "'self' ws://10.0.0.5:8080"},
		{"request host over TLS", Options{}, "chat.example.com", true, "'self' wss://chat.example.com"},
		{"request host in plain HTTP", Options{}, "127.0.0.1:8080", false, "'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080"},
		{"host with a directive in it", Options{}, "evil.example;script-src", false, "'self'"},
		{"IPv6 host", Options{}, "[::1]:8080", false, "'self'"},
		{"host with a wildcard", Options{}, "*.example.com", false, "'self'"},
		{"public URL with an IPv6 host", Options{PublicURL: "https://[2001:db8::1]:8443"}, "chat.example.com", false, "'self'"},
		{"public URL not http", Options{PublicURL: "ftp://files.example"}, "chat.example.com", true, "'self' wss://chat.example.com"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHandler(t, c.opts)
			for _, p := range []string{"/", "/sw.js", "/assets/index-B1a2c3.js", "/assets/missing.js"} {
				r := httptest.NewRequest("GET", p, nil)
				r.Host = c.host
				if c.tls {
					r.TLS = &tls.ConnectionState{}
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				csp := w.Header().Get("Content-Security-Policy")
				got := directives(t, csp)
				for name, v := range want {
					if got[name] != v {
						t.Errorf("%s: %s = %q, want %q", p, name, got[name], v)
					}
				}
				if got["connect-src"] != c.connect {
					t.Errorf("%s: connect-src = %q, want %q", p, got["connect-src"], c.connect)
				}
				if len(got) != len(want)+1 {
					t.Errorf("%s: unexpected directives in %q", p, csp)
				}
				if strings.Contains(csp, "unsafe-") {
					t.Errorf("%s: unsafe source in %q", p, csp)
				}
				for hdr, v := range map[string]string{
					"X-Content-Type-Options": "nosniff",
					"X-Frame-Options":        "DENY",
					"Referrer-Policy":        "no-referrer",
					"Permissions-Policy":     "camera=(), microphone=(), geolocation=()",
				} {
					if w.Header().Get(hdr) != v {
						t.Errorf("%s: %s = %q, want %q", p, hdr, w.Header().Get(hdr), v)
					}
				}
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	if _, err := New(fstest.MapFS{"assets/a.js": {Data: []byte("x")}}, Options{}); err == nil {
		t.Errorf("a build without index.html was accepted")
	}
}

func TestReserved(t *testing.T) {
	for p, want := range map[string]bool{
		"/api": true, "/api/": true, "/api/v1/ws": true, "/healthz": true, "/readyz": true,
		"/metrics": true, "/.well-known/jwks.json": true,
		"/": false, "/apis": false, "/c/api": false, "/healthzz": false, "/metrics.html": false, "/assets/x.js": false,
	} {
		if got := Reserved(p); got != want {
			t.Errorf("Reserved(%q) = %v, want %v", p, got, want)
		}
	}
}

// FuzzRequestHeaders feeds arbitrary Host and Accept-Encoding values: the
// policy must keep exactly its directives (no client text can add one or
// open a source list), and nothing may panic.
func FuzzRequestHeaders(f *testing.F) {
	for _, s := range []string{"chat.example.com", "127.0.0.1:8080", "a;script-src *", "[::1]:80", "x y", "ÿ", "a:b:c", "host:"} {
		f.Add(s, "gzip, br;q=0.5")
	}
	f.Add("example.com", "gzip;q=0, *;q=1e400")
	h, err := New(build, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, host, acceptEncoding string) {
		acceptsGzip([]string{acceptEncoding})
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		csp := w.Header().Get("Content-Security-Policy")
		if !strings.HasPrefix(csp, cspFixed) {
			t.Fatalf("policy %q", csp)
		}
		extra := strings.TrimPrefix(csp, cspFixed)
		for src := range strings.FieldsSeq(extra) {
			scheme, rest, ok := strings.Cut(src, "://")
			if !ok || (scheme != "ws" && scheme != "wss") || !cspHost(rest) || strings.ContainsAny(rest, ";,*'") {
				t.Fatalf("source %q from Host %q", src, host)
			}
		}
	})
}

// TestEmbeddedClient serves what this binary embeds: the placeholder
// without the webui tag, the built client with it.
func TestEmbeddedClient(t *testing.T) {
	want, err := fs.ReadFile(FS(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	h := Handler()
	for _, p := range []string{"/", "/c/0190a1b2/m/0190a1b3"} {
		resp := get(t, h, "GET", p)
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" || body(t, resp) != string(want) {
			t.Fatalf("GET %s: %d %v", p, resp.StatusCode, resp.Header)
		}
	}
	if Built() {
		return
	}
	page := string(want)
	if !strings.Contains(page, "not built into this binary") || !strings.Contains(page, "-tags webui") {
		t.Errorf("the placeholder does not say how to build the client:\n%s", page)
	}
	// It must live under the policy it is served with.
	for _, inline := range []string{"<script", "<style", "style=", "onload=", "javascript:"} {
		if strings.Contains(page, inline) {
			t.Errorf("the placeholder has %s, which its own policy blocks", inline)
		}
	}
}
