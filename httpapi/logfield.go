package httpapi

import (
	"context"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// methodOther is the metric and log label of every method outside
// knownMethods.
const methodOther = "other"

// methodLabel maps a request method to one of a fixed set of labels, so
// that no client can mint a new metric series or a long log field by
// inventing methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return methodOther
}

// Bounds of request-derived log fields, in bytes.
const (
	maxLogPath      = 256
	maxLogUserAgent = 256
	maxLogField     = 128
	// An internal error's text may quote what a request sent.
	maxLogError = 2048
)

// logField makes a request-derived string safe for a log line: invalid
// UTF-8 and control characters become U+FFFD, and it is cut to at most max
// bytes (on a rune boundary, marked with "…"). Request IDs, paths, user
// agents and addresses all pass through it before they are logged.
func logField(s string, max int) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			clean = false
			break
		}
	}
	if clean && len(s) <= max {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r) // an invalid byte arrives here as RuneError already
		if b.Len() > max {
			break
		}
	}
	out := b.String()
	if len(out) <= max {
		return out
	}
	const ellipsis = "…"
	cut := max - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	return out[:cut] + ellipsis
}

// ErrorLog returns the logger for http.Server.ErrorLog. net/http's own
// lines can quote what a client sent (a failed TLS handshake quotes every
// ALPN protocol name the client offered, up to 64 KiB of them), so each line
// is bounded and cleaned like a request-derived field and logged at WARN.
func ErrorLog(l *slog.Logger) *log.Logger {
	return log.New(errorLogWriter{l}, "", 0)
}

type errorLogWriter struct{ l *slog.Logger }

func (w errorLogWriter) Write(p []byte) (int, error) {
	w.l.LogAttrs(context.Background(), slog.LevelWarn, "http server",
		slog.String("err", logField(strings.TrimRight(string(p), "\n"), maxLogError)))
	return len(p), nil
}
