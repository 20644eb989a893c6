package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"
)

// logRecorder is a slog.Handler that keeps every record a node logs, so a
// test can look at what reached the log.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r.Clone())
	l.mu.Unlock()
	return nil
}

// The node logs through plain loggers; attributes and groups bound with
// With are not used and need not be kept.
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) snapshot() []slog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]slog.Record(nil), l.records...)
}

// atLeast returns the records at level or above, one line of text each.
func (l *logRecorder) atLeast(level slog.Level) []string {
	var out []string
	for _, r := range l.snapshot() {
		if r.Level >= level {
			out = append(out, textLine(r))
		}
	}
	return out
}

func textLine(r slog.Record) string {
	var b bytes.Buffer
	slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug}).Handle(context.Background(), r)
	return b.String()
}

// checkBoundedLog fails t if any record holds a string value longer than
// maxValue bytes, invalid UTF-8 or a control character, or encodes to a line
// longer than maxLine bytes.
func checkBoundedLog(t testing.TB, l *logRecorder, maxValue, maxLine int) {
	t.Helper()
	bad := 0
	for _, r := range l.snapshot() {
		var problem string
		r.Attrs(func(a slog.Attr) bool {
			v := a.Value.Resolve()
			if v.Kind() != slog.KindString {
				v = slog.StringValue(fmt.Sprint(v.Any()))
			}
			s := v.String()
			switch {
			case len(s) > maxValue:
				problem = fmt.Sprintf("attribute %s is %d bytes long", a.Key, len(s))
			case !utf8.ValidString(s):
				problem = fmt.Sprintf("attribute %s is not valid UTF-8", a.Key)
			case hasControl(s):
				problem = fmt.Sprintf("attribute %s holds a control character: %q", a.Key, s)
			}
			return problem == ""
		})
		if line := textLine(r); problem == "" && len(line) > maxLine {
			problem = fmt.Sprintf("line is %d bytes long", len(line))
		}
		if problem != "" {
			if bad < 5 {
				line := textLine(r)
				t.Errorf("log record %q: %s (%.200s…)", r.Message, problem, line)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d unbounded log records", bad)
	}
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}
