package testserver

import (
	"fmt"
	"sync"
	"testing"
)

// recordingTB stands in for a test so the log check can be observed
// failing without failing this test.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Helper()             {}
func (r *recordingTB) Log(...any)          {}
func (r *recordingTB) Logf(string, ...any) {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestLogSinkFailsOnUnexpectedErrors(t *testing.T) {
	for _, c := range []struct {
		name     string
		line     string
		expected []string
		fails    bool
	}{
		{"warn", `time=2026-01-01T00:00:00Z level=WARN msg="refresh token reuse"`, nil, false},
		{"error", `time=2026-01-01T00:00:00Z level=ERROR msg="request failed" err="boom"`, nil, true},
		{"above error", `time=2026-01-01T00:00:00Z level=ERROR+4 msg=fatal`, nil, true},
		{"expected", `time=2026-01-01T00:00:00Z level=ERROR msg="request failed" err="SQLSTATE 22021"`, []string{"SQLSTATE 22021"}, false},
		{"other expectation", `time=2026-01-01T00:00:00Z level=ERROR msg="request failed" err="boom"`, []string{"SQLSTATE 22021"}, true},
		{"error in a value", `time=2026-01-01T00:00:00Z level=WARN msg=x note="level=ERROR"`, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tb := &recordingTB{TB: t}
			sink := &logSink{t: tb, expected: c.expected}
			sink.Write([]byte(c.line + "\n"))
			if got := len(tb.errors) > 0; got != c.fails {
				t.Fatalf("failed = %v, want %v (%v)", got, c.fails, tb.errors)
			}
		})
	}
}

func TestExpectErrorDeclares(t *testing.T) {
	tb := &recordingTB{TB: t}
	n := &Node{logs: &logSink{t: tb}}
	line := []byte(`time=2026-01-01T00:00:00Z level=ERROR msg="request failed" err="declared failure"` + "\n")
	n.logs.Write(line)
	n.ExpectError("declared failure")
	n.logs.Write(line)
	if len(tb.errors) != 1 {
		t.Fatalf("%d failures, want 1 (before the declaration only): %v", len(tb.errors), tb.errors)
	}
}
