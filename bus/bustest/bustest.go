// Package bustest is the conformance suite of the bus contract (package
// bus). Every implementation runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		bustest.Run(t, func(t *testing.T) bus.Bus { return open(t) })
//	}
//
// Each test opens its own bus and uses subjects under a prefix of its own,
// so runs against one shared server never hear each other. The suite
// expects complete delivery for modest volumes to handlers that keep up:
// at most once allows drops, but a bus that drops when nothing is slow is
// useless to the gateway.
package bustest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unhidra/unhidra/bus"
)

// wait bounds every wait for a delivery, so a broken bus fails the test
// instead of hanging until the package timeout. It is not a performance
// limit: a correct bus delivers in far less.
const wait = 30 * time.Second

// Run runs every conformance test against buses made by open. open is
// called once per test; the bus it returns is closed by the test (closing
// it again, for example from t.Cleanup, must be harmless).
func Run(t *testing.T, open func(t *testing.T) bus.Bus) {
	RunPrefixed(t, func(t *testing.T, _ string) bus.Bus { return open(t) })
}

// RunPrefixed is Run for buses that must know the test's subject prefix
// when they open (for example to set up server-side state for exactly the
// subjects the test uses).
func RunPrefixed(t *testing.T, open func(t *testing.T, prefix string) bus.Bus) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b bus.Bus, prefix string)
	}{
		{"FanOutAndOrder", testFanOutAndOrder},
		{"OrderPerPublisher", testOrderPerPublisher},
		{"Wildcards", testWildcards},
		{"NoDeliveryAfterSubscriptionClose", testNoDeliveryAfterSubscriptionClose},
		{"SubscriptionCloseWaitsForHandler", testSubscriptionCloseWaitsForHandler},
		{"BusClose", testBusClose},
		{"DataNotReused", testDataNotReused},
		{"SlowHandler", testSlowHandler},
		{"Ping", testPing},
		{"BadSubscribe", testBadSubscribe},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prefix := Prefix(t)
			b := open(t, prefix)
			t.Cleanup(func() { b.Close() })
			tc.fn(t, b, prefix)
		})
	}
}

// Prefix returns a subject prefix of two tokens unique to this test run:
// "bt." and the test's name with a random suffix.
func Prefix(t testing.TB) string {
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	name := strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			return c
		}
		return '_'
	}, t.Name())
	return "bt." + name + "_" + hex.EncodeToString(r[:])
}

// recorder collects what one subscription hears.
type recorder struct {
	mu   sync.Mutex
	msgs []msg
	cond chan struct{} // signalled (non-blocking) on every message
}

type msg struct {
	subject string
	data    []byte
}

func newRecorder() *recorder { return &recorder{cond: make(chan struct{}, 1)} }

func (r *recorder) handle(subject string, data []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, msg{subject, data})
	r.mu.Unlock()
	select {
	case r.cond <- struct{}{}:
	default:
	}
}

func (r *recorder) snapshot() []msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]msg(nil), r.msgs...)
}

// waitFor waits until done reports true of what r has heard.
func (r *recorder) waitFor(t *testing.T, what string, done func([]msg) bool) []msg {
	t.Helper()
	deadline := time.After(wait)
	for {
		if m := r.snapshot(); done(m) {
			return m
		}
		select {
		case <-r.cond:
		case <-deadline:
			m := r.snapshot()
			t.Fatalf("timed out waiting for %s (heard %d messages)", what, len(m))
			return nil
		}
	}
}

func (r *recorder) waitCount(t *testing.T, what string, n int) []msg {
	t.Helper()
	return r.waitFor(t, what, func(m []msg) bool { return len(m) >= n })
}

// waitData waits until r has heard a message with this data.
func (r *recorder) waitData(t *testing.T, what, data string) []msg {
	t.Helper()
	return r.waitFor(t, what, func(ms []msg) bool {
		for _, m := range ms {
			if string(m.data) == data {
				return true
			}
		}
		return false
	})
}

func subscribe(t *testing.T, b bus.Bus, pattern string, h bus.Handler) bus.Subscription {
	t.Helper()
	s, err := b.Subscribe(pattern, h)
	if err != nil {
		t.Fatalf("subscribe %q: %v", pattern, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func publish(t *testing.T, b bus.Bus, subject string, data []byte) {
	t.Helper()
	if err := b.Publish(context.Background(), subject, data); err != nil {
		t.Fatalf("publish %q: %v", subject, err)
	}
}

// testFanOutAndOrder: two subscriptions matching one subject both hear
// every message on it, in publishing order, and nothing on other subjects.
func testFanOutAndOrder(t *testing.T, b bus.Bus, p string) {
	const n = 200
	all, one := newRecorder(), newRecorder()
	subscribe(t, b, p+".>", all.handle)
	subscribe(t, b, p+".7", one.handle)
	for i := range n {
		publish(t, b, p+".7", []byte(fmt.Sprint(i)))
		publish(t, b, p+".8", []byte("other"))
	}
	for name, r := range map[string]*recorder{"wildcard": all, "exact": one} {
		want := n
		if r == all {
			want = 2 * n
		}
		got := r.waitCount(t, name+" subscription's messages", want)
		i := 0
		for _, m := range got {
			if m.subject != p+".7" {
				if r == one {
					t.Fatalf("%s: heard %q", name, m.subject)
				}
				continue
			}
			if string(m.data) != fmt.Sprint(i) {
				t.Fatalf("%s: message %d is %q: out of order", name, i, m.data)
			}
			i++
		}
		if i != n {
			t.Fatalf("%s: heard %d messages on %s.7, want %d", name, i, p, n)
		}
	}
}

// testOrderPerPublisher: several goroutines publish at once; each
// subscription hears each publisher's messages in that publisher's order.
func testOrderPerPublisher(t *testing.T, b bus.Bus, p string) {
	const publishers, n = 4, 250
	recs := []*recorder{newRecorder(), newRecorder()}
	subscribe(t, b, p+".x", recs[0].handle)
	subscribe(t, b, p+".*", recs[1].handle)
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for w := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := b.Publish(context.Background(), p+".x", []byte(fmt.Sprintf("%d:%d", w, i))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for k, r := range recs {
		got := r.waitCount(t, "every publisher's messages", publishers*n)
		next := make([]int, publishers)
		for _, m := range got {
			var w, i int
			if _, err := fmt.Sscanf(string(m.data), "%d:%d", &w, &i); err != nil || w < 0 || w >= publishers {
				t.Fatalf("subscription %d: unexpected message %q", k, m.data)
			}
			if i != next[w] {
				t.Fatalf("subscription %d: publisher %d's message %d arrived when %d was due", k, w, i, next[w])
			}
			next[w]++
		}
	}
}

// testWildcards: each pattern hears exactly the subjects bus.Match says it
// matches.
func testWildcards(t *testing.T, b bus.Bus, p string) {
	// p is "bt.<unique>"; u is the unique token, so patterns that start
	// with "*" stay private to this test.
	u := strings.TrimPrefix(p, "bt.")
	subjects := []string{
		p, p + ".a", p + ".b", p + ".ab", p + ".a.b", p + ".a.c", p + ".x.b",
		p + ".a.b.c", p + ".a.bb", "zz." + u + ".a", "zz." + u + ".a.b", "zz." + u,
	}
	patterns := []string{
		p + ".>", p + ".*", p + ".a", p + ".a.*", p + ".a.>", p + ".*.b",
		p + ".*.*", p + ".*.>", "*." + u + ".a", "*." + u + ".>", "*." + u, "*." + u + ".*.b",
		p + ".a.b.c", p + ".nothing.>",
	}
	recs := make([]*recorder, len(patterns))
	for i, pat := range patterns {
		recs[i] = newRecorder()
		subscribe(t, b, pat, recs[i].handle)
	}
	for i, s := range subjects {
		publish(t, b, s, []byte(fmt.Sprint(i)))
	}
	// Fence: for every pattern, one more message on a subject it matches.
	// Delivery keeps one publisher's order, so when a subscription hears its
	// fence it has heard everything before it.
	fences := map[int]bool{}
	for k, pat := range patterns {
		fence := ""
		for _, s := range subjects {
			if bus.Match(pat, s) {
				fence = s
				break
			}
		}
		if fence == "" {
			fence = strings.TrimSuffix(pat, ">") + "fence"
			if !bus.Match(pat, fence) {
				t.Fatalf("no fence subject for %q", pat)
			}
		}
		fences[k] = true
		publish(t, b, fence, []byte(fmt.Sprintf("fence:%d", k)))
	}
	for k, pat := range patterns {
		got := recs[k].waitData(t, "the fence of "+pat, fmt.Sprintf("fence:%d", k))
		heard := map[string]int{}
		for _, m := range got {
			if strings.HasPrefix(string(m.data), "fence:") {
				if !bus.Match(pat, m.subject) {
					t.Errorf("%q heard fence on %q", pat, m.subject)
				}
				continue
			}
			var i int
			if _, err := fmt.Sscan(string(m.data), &i); err != nil || i < 0 || i >= len(subjects) || subjects[i] != m.subject {
				t.Fatalf("%q heard %q on %q", pat, m.data, m.subject)
			}
			heard[m.subject]++
		}
		for _, s := range subjects {
			want := 0
			if bus.Match(pat, s) {
				want = 1
			}
			if heard[s] != want {
				t.Errorf("%q heard %q %d times, want %d", pat, s, heard[s], want)
			}
		}
	}
}

// testNoDeliveryAfterSubscriptionClose: once Close has returned the
// handler is not called again, even while messages keep coming.
func testNoDeliveryAfterSubscriptionClose(t *testing.T, b bus.Bus, p string) {
	var closed, late atomic.Bool
	heard := make(chan struct{}, 1)
	s := subscribe(t, b, p+".x", func(string, []byte) {
		if closed.Load() {
			late.Store(true)
		}
		select {
		case heard <- struct{}{}:
		default:
		}
	})
	// A second subscription on the same subject shows when the messages
	// published after Close have been delivered.
	fence := newRecorder()
	subscribe(t, b, p+".x", fence.handle)

	stop := make(chan struct{})
	pubDone := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				pubDone <- nil
				return
			default:
			}
			if err := b.Publish(context.Background(), p+".x", []byte(fmt.Sprint(i))); err != nil {
				pubDone <- err
				return
			}
		}
	}()
	select {
	case <-heard:
	case <-time.After(wait):
		t.Fatal("the subscription heard nothing")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	closed.Store(true)
	// Keep publishing a while after Close returned, then fence.
	for range 100 {
		publish(t, b, p+".x", []byte("after"))
	}
	close(stop)
	if err := <-pubDone; err != nil {
		t.Fatal(err)
	}
	publish(t, b, p+".x", []byte("fence"))
	fence.waitData(t, "the fence", "fence")
	if late.Load() {
		t.Fatal("handler called after Subscription.Close returned")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// testSubscriptionCloseWaitsForHandler: Close called while the handler
// runs returns only after the handler has returned.
func testSubscriptionCloseWaitsForHandler(t *testing.T, b bus.Bus, p string) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var returned atomic.Bool
	s := subscribe(t, b, p+".x", func(string, []byte) {
		once.Do(func() {
			close(entered)
			<-release
			returned.Store(true)
		})
	})
	publish(t, b, p+".x", []byte("1"))
	select {
	case <-entered:
	case <-time.After(wait):
		t.Fatal("handler never called")
	}
	closeDone := make(chan struct{})
	go func() { s.Close(); close(closeDone) }()
	// Give a wrong Close the chance to return early. This only makes a
	// bug more likely to show; it never fails a correct bus.
	time.Sleep(20 * time.Millisecond)
	select {
	case <-closeDone:
		t.Fatal("Subscription.Close returned while the handler was running")
	default:
	}
	close(release)
	select {
	case <-closeDone:
	case <-time.After(wait):
		t.Fatal("Subscription.Close did not return after the handler did")
	}
	if !returned.Load() {
		t.Fatal("Subscription.Close returned before the handler")
	}
}

// testBusClose: closing the bus stops every subscription and makes
// Publish, Subscribe and Ping fail with bus.ErrClosed.
func testBusClose(t *testing.T, b bus.Bus, p string) {
	var closed, late atomic.Bool
	recs := []*recorder{newRecorder(), newRecorder()}
	for i, pat := range []string{p + ".x", p + ".>"} {
		r := recs[i]
		subscribe(t, b, pat, func(s string, d []byte) {
			if closed.Load() {
				late.Store(true)
			}
			r.handle(s, d)
		})
	}
	publish(t, b, p+".x", []byte("before"))
	for _, r := range recs {
		r.waitCount(t, "the message before Close", 1)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	closed.Store(true)
	if err := b.Publish(context.Background(), p+".x", []byte("after")); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("Publish after Close: %v, want bus.ErrClosed", err)
	}
	if _, err := b.Subscribe(p+".y", func(string, []byte) {}); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("Subscribe after Close: %v, want bus.ErrClosed", err)
	}
	if err := b.Ping(context.Background()); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("Ping after Close: %v, want bus.ErrClosed", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if late.Load() {
		t.Fatal("handler called after the bus's Close returned")
	}
}

// testDataNotReused: a handler may keep the data it was given; later
// messages never overwrite it.
func testDataNotReused(t *testing.T, b bus.Bus, p string) {
	const n = 500
	r := newRecorder()
	subscribe(t, b, p+".x", r.handle)
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("message %d %s", i, strings.Repeat(string(rune('a'+i%26)), i%64))
		publish(t, b, p+".x", []byte(want[i]))
	}
	got := r.waitCount(t, "every message", n)
	for i, m := range got {
		if string(m.data) != want[i] {
			t.Fatalf("message %d kept by the handler now reads %q, want %q", i, m.data, want[i])
		}
	}
}

// testSlowHandler: a handler that does not return holds up neither the
// publisher nor another subscription to the same subject. What the slow
// one hears afterwards is in order, possibly with drops.
func testSlowHandler(t *testing.T, b bus.Bus, p string) {
	const n = 2000
	block := make(chan struct{})
	var unblock sync.Once
	release := func() { unblock.Do(func() { close(block) }) }
	t.Cleanup(release)
	slow := newRecorder()
	subscribe(t, b, p+".*", func(s string, d []byte) {
		<-block
		slow.handle(s, d)
	})
	fast := make(chan string, 1)
	subscribe(t, b, p+".x", func(_ string, d []byte) { fast <- string(d) })
	for i := range n {
		publish(t, b, p+".x", []byte(fmt.Sprint(i)))
		// The fast subscriber takes each message before the next is
		// published, so it never needs a buffer however busy the machine.
		select {
		case got := <-fast:
			if got != fmt.Sprint(i) {
				t.Fatalf("fast subscriber got %q, want %d", got, i)
			}
		case <-time.After(wait):
			t.Fatalf("fast subscriber never got message %d while another handler was blocked", i)
		}
	}
	release()
	// The slow subscription now catches up on what it kept. A marker
	// message shows when it has; its queue may still be full when the
	// first marker is published, so markers repeat until one is heard.
	var got []msg
	deadline := time.Now().Add(wait)
	for k := 0; got == nil; k++ {
		if time.Now().After(deadline) {
			t.Fatal("the slow subscriber never heard a marker after it was unblocked")
		}
		publish(t, b, p+".m", []byte(fmt.Sprint("last-", k)))
		select {
		case <-slow.cond:
		case <-time.After(100 * time.Millisecond):
		}
		for i, m := range slow.snapshot() {
			if strings.HasPrefix(string(m.data), "last-") {
				got = slow.snapshot()[:i]
				break
			}
		}
	}
	prev := -1
	for _, m := range got {
		var i int
		if _, err := fmt.Sscan(string(m.data), &i); err != nil || i <= prev || i >= n {
			t.Fatalf("slow subscriber heard %q after %d", m.data, prev)
		}
		prev = i
	}
}

// testPing: an open bus answers Ping.
func testPing(t *testing.T, b bus.Bus, _ string) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := b.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Ping(context.Background()); err != nil {
		t.Fatalf("Ping without a deadline: %v", err)
	}
}

// testBadSubscribe: a subscription needs a pattern and a handler.
func testBadSubscribe(t *testing.T, b bus.Bus, p string) {
	if _, err := b.Subscribe("", func(string, []byte) {}); err == nil {
		t.Error("Subscribe with an empty pattern succeeded")
	}
	if _, err := b.Subscribe(p+".x", nil); err == nil {
		t.Error("Subscribe with a nil handler succeeded")
	}
}
