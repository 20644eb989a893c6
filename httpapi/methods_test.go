package httpapi_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/unhidra/unhidra/internal/testserver"
)

// TestInventedMethodsAreBounded sends 1,000 requests with distinct invented
// HTTP methods (some close to the 64 KiB header limit, some with NUL or
// invalid UTF-8 in the path, an oversized user agent and junk in
// X-Forwarded-For) and checks that they neither add a single series to
// /metrics nor put an unbounded or unclean field in the log.
func TestInventedMethodsAreBounded(t *testing.T) {
	cfg := testserver.Config(t, "sqlite")
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	rec := &logRecorder{}
	n := testserver.StartWithLog(t, cfg, rec)
	addr := strings.TrimPrefix(n.URL, "http://")

	paths := []string{"/api/v1/users/%00x", "/api/v1/channels/\xff\xfe/messages", "/nowhere/%ff%00", "/metrics", "/" + strings.Repeat("p", 8000)}
	raw := &rawClient{t: t, addr: addr}
	defer raw.close()
	wrongStatus := 0
	send := func(i int) {
		method := fmt.Sprintf("INVENTED%04d", i)
		if i%25 == 0 {
			// The request line and headers must stay under the server's
			// 64 KiB MaxHeaderBytes (plus net/http's 4 KiB of slack).
			method += strings.Repeat("M", 64<<10-len(method)-512)
		}
		status := raw.do(method, paths[i%len(paths)], http.Header{
			"User-Agent":      {"agent\xff\xfe" + strings.Repeat("u", 200)},
			"X-Request-Id":    {"evil\xffid"},
			"X-Forwarded-For": {"not-an-ip\xff, 2001:db8::1"},
		})
		if status != http.StatusNotImplemented && status != http.StatusMethodNotAllowed {
			if wrongStatus == 0 {
				t.Errorf("request %d (%.20s… %.40q): status %d, want 501 or 405", i, method, paths[i%len(paths)], status)
			}
			wrongStatus++
		}
	}

	// Warm up: the first scrape and the first refused method each create
	// their own (fixed) series.
	metricsText(t, n)
	send(0)
	before := seriesOf(metricsText(t, n))
	for i := 1; i <= 1000; i++ {
		send(i)
	}
	after := seriesOf(metricsText(t, n))
	if added := difference(after, before); len(added) > 0 {
		t.Errorf("%d new series after 1,000 invented methods, e.g. %.300s", len(added), added[0])
	}
	checkBoundedLog(t, rec, 512, 2048)
	if wrongStatus > 0 {
		t.Errorf("%d of 1,001 invented methods were not answered 501 or 405", wrongStatus)
	}
}

type rawClient struct {
	t    testing.TB
	addr string
	conn net.Conn
	br   *bufio.Reader
}

// do writes one request exactly as given (no validation of the method or
// path) and returns the response status, reconnecting when the server closed
// the connection.
func (c *rawClient) do(method, path string, h http.Header) int {
	c.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: test\r\n", method, path)
	for k, vs := range h {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	for attempt := 0; ; attempt++ {
		if c.conn == nil {
			conn, err := net.Dial("tcp", c.addr)
			if err != nil {
				c.t.Fatalf("dial: %v", err)
			}
			c.conn, c.br = conn, bufio.NewReader(conn)
		}
		_, err := io.WriteString(c.conn, b.String())
		var resp *http.Response
		if err == nil {
			resp, err = http.ReadResponse(c.br, nil)
		}
		if err != nil {
			c.close()
			if attempt < 2 {
				continue
			}
			c.t.Fatalf("%.20s… %.40q: %v", method, path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Close {
			c.close()
		}
		return resp.StatusCode
	}
}

func (c *rawClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// seriesOf returns the series (name and labels) of a Prometheus text scrape.
func seriesOf(scrape string) []string {
	var out []string
	for _, l := range strings.Split(scrape, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if i := strings.LastIndexByte(l, ' '); i > 0 {
			out = append(out, l[:i])
		}
	}
	slices.Sort(out)
	return out
}

func difference(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			out = append(out, x)
		}
	}
	return out
}
