package bus

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
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
		if got := Match(c.pattern, c.subject); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pattern, c.subject, got, c.want)
		}
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("chan.>", "chan.1")
	f.Add("*.x", "a.x")
	f.Fuzz(func(t *testing.T, pattern, subject string) {
		Match(pattern, subject) // never panics
		if subject != "" && !strings.ContainsAny(subject, "*>") && !strings.Contains(subject, "..") &&
			!strings.HasPrefix(subject, ".") && !strings.HasSuffix(subject, ".") && !Match(subject, subject) {
			t.Fatalf("%q does not match itself", subject)
		}
	})
}

func TestMemoryOrderAndFanOut(t *testing.T) {
	b := NewMemory(MemoryOptions{})
	defer b.Close()
	var mu sync.Mutex
	got := map[string][]string{}
	var wg sync.WaitGroup
	wg.Add(2 * 100)
	for _, p := range []string{"chan.>", "chan.7"} {
		p := p
		if _, err := b.Subscribe(p, func(subject string, data []byte) {
			mu.Lock()
			got[p] = append(got[p], string(data))
			mu.Unlock()
			wg.Done()
		}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ {
		b.Publish(context.Background(), "chan.7", []byte(fmt.Sprint(i)))
		b.Publish(context.Background(), "user.7", []byte("x"))
	}
	wg.Wait()
	for p, msgs := range got {
		for i, m := range msgs {
			if m != fmt.Sprint(i) {
				t.Fatalf("%s: message %d is %q: out of order", p, i, m)
			}
		}
	}
}

func TestMemorySlowSubscriberDropsOnlyItsOwn(t *testing.T) {
	b := NewMemory(MemoryOptions{Buffer: 4})
	defer b.Close()
	block := make(chan struct{})
	slow, _ := b.Subscribe("x", func(string, []byte) { <-block })
	var fast sync.WaitGroup
	fast.Add(20)
	b.Subscribe("x", func(string, []byte) { fast.Done() })
	for i := 0; i < 20; i++ {
		b.Publish(context.Background(), "x", nil)
		time.Sleep(time.Millisecond) // let the fast subscriber keep up
	}
	fast.Wait()
	if b.Dropped() == 0 {
		t.Fatal("a full queue dropped nothing")
	}
	close(block)
	slow.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), "x", nil); err != ErrClosed {
		t.Fatalf("publish after close: %v", err)
	}
}
