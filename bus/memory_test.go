package bus_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/bus"
	"github.com/unhidra/unhidra/bus/bustest"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, subject string
		want             bool
	}{
		{"chan.1", "chan.1", true},
		{"chan.1", "chan.2", false},
		{"chan.>", "chan.1", true},
		{"chan.>", "chan.1.x", true},
		{"chan.>", "chan", false},
		{"chan.*", "chan.1", true},
		{"chan.*", "chan.1.x", false},
		{"*.1", "user.1", true},
		{"chan.>", "user.1", false},
		{"chan", "chan.1", false},
		{"chan.1.x", "chan.1", false},
	} {
		if got := bus.Match(c.pattern, c.subject); got != c.want {
			t.Errorf("bus.Match(%q, %q) = %v, want %v", c.pattern, c.subject, got, c.want)
		}
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("chan.>", "chan.1")
	f.Add("*.x", "a.x")
	f.Fuzz(func(t *testing.T, pattern, subject string) {
		_ = bus.Match(pattern, subject) // never panics
		if subject != "" && !strings.ContainsAny(subject, "*>") && !strings.Contains(subject, "..") &&
			!strings.HasPrefix(subject, ".") && !strings.HasSuffix(subject, ".") && !bus.Match(subject, subject) {
			t.Fatalf("%q does not match itself", subject)
		}
	})
}

// TestMemoryConformance runs the bus contract's suite on the in-process bus.
func TestMemoryConformance(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bus.Bus { return bus.NewMemory(bus.MemoryOptions{}) })
}

// TestMemorySlowSubscriberDropsOnlyItsOwn: a subscriber that never returns
// fills its own queue and loses what follows; another subscriber to the
// same subject gets every message.
func TestMemorySlowSubscriberDropsOnlyItsOwn(t *testing.T) {
	const buffer, n = 4, 20
	b := bus.NewMemory(bus.MemoryOptions{Buffer: buffer})
	defer b.Close()
	block := make(chan struct{})
	slow, _ := b.Subscribe("x", func(string, []byte) { <-block })
	fast := make(chan string, n)
	b.Subscribe("x", func(_ string, data []byte) { fast <- string(data) })
	for i := range n {
		b.Publish(context.Background(), "x", []byte(fmt.Sprint(i)))
		// The fast subscriber takes each message before the next is
		// published, so its queue never fills however busy the machine.
		select {
		case got := <-fast:
			if got != fmt.Sprint(i) {
				t.Fatalf("fast subscriber got %q, want %d", got, i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("fast subscriber never got message %d", i)
		}
	}
	// The slow one holds one message in its handler (or none yet, if its
	// goroutine has not run) and buffer in its queue; the rest are its
	// drops, and only its.
	if d := b.Dropped(); d < n-buffer-1 || d > n-buffer {
		t.Fatalf("dropped %d, want %d or %d", d, n-buffer-1, n-buffer)
	}
	close(block)
	slow.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), "x", nil); err != bus.ErrClosed {
		t.Fatalf("publish after close: %v", err)
	}
}
