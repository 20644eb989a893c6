package httpapi

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

func TestLogField(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 16, "plain"},
		{"a\x00b", 16, "a\uFFFDb"},
		{"a\xffb", 16, "a\uFFFDb"},
		{"line\nbreak\ttab", 32, "line\uFFFDbreak\uFFFDtab"},
		{strings.Repeat("x", 20), 16, "xxxxxxxxxxxxx…"},
		{strings.Repeat("x", 16), 16, strings.Repeat("x", 16)},
		{strings.Repeat("é", 10), 16, "éééééé…"},
	} {
		if got := logField(tc.in, tc.max); got != tc.want {
			t.Errorf("logField(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func FuzzLogField(f *testing.F) {
	for _, s := range []string{"", "GET", "a\x00b", "\xff\xfe", strings.Repeat("é", 100), "x\u202ey"} {
		f.Add(s, 16)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 4 || max > 1<<16 {
			return
		}
		out := logField(s, max)
		if len(out) > max || !utf8.ValidString(out) {
			t.Fatalf("logField(%q, %d) = %q", s, max, out)
		}
		for _, r := range out {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("logField(%q, %d) = %q holds a control character", s, max, out)
			}
		}
	})
}

// TestErrorLogIsBounded: a TLS client offering 64 KiB of made-up ALPN
// protocol names makes net/http log a handshake error that quotes them all;
// through ErrorLog the line stays short.
func TestErrorLogIsBounded(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = ErrorLog(logger)
	srv.StartTLS()
	defer srv.Close()
	var protos []string
	for i := 0; len(strings.Join(protos, "")) < 60<<10; i++ {
		protos = append(protos, fmt.Sprintf("made-up-%03d-%s", i, strings.Repeat("p", 200)))
	}
	conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: protos})
	if err == nil {
		conn.Close()
		t.Fatal("handshake with only unknown ALPN protocols succeeded")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		out := buf.String()
		mu.Unlock()
		if strings.Contains(out, "TLS handshake error") {
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if len(line) > maxLogError+256 {
					t.Fatalf("log line of %d bytes: %.200s…", len(line), line)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no handshake error logged: %q", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
