package bus

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by a closed bus.
var ErrClosed = errors.New("bus: closed")

// Memory is the in-process bus of a single node. Each subscription has its
// own buffered queue and goroutine, so a slow subscriber delays only itself;
// when its queue is full, further messages to it are dropped and counted.
type Memory struct {
	mu     sync.RWMutex
	subs   map[*memSub]struct{}
	closed bool
	buffer int

	dropped atomic.Int64
}

var _ Bus = (*Memory)(nil)

// MemoryOptions configures a Memory bus.
type MemoryOptions struct {
	// Buffer is each subscription's queue length (default 65536).
	Buffer int
}

// NewMemory returns an in-process bus.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.Buffer <= 0 {
		opts.Buffer = 65536
	}
	return &Memory{subs: map[*memSub]struct{}{}, buffer: opts.Buffer}
}

type memSub struct {
	b       *Memory
	pattern string
	exact   bool
	q       *Queue
	once    sync.Once
}

// Publish delivers data to every matching subscription's queue.
func (b *Memory) Publish(ctx context.Context, subject string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	for s := range b.subs {
		if s.exact && s.pattern != subject || !s.exact && !Match(s.pattern, subject) {
			continue
		}
		if !s.q.Offer(subject, data) {
			b.dropped.Add(1)
		}
	}
	return nil
}

// Subscribe starts a subscription.
func (b *Memory) Subscribe(pattern string, handler Handler) (Subscription, error) {
	if pattern == "" || handler == nil {
		return nil, errors.New("bus: subscribe needs a pattern and a handler")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	s := &memSub{b: b, pattern: pattern, exact: !strings.ContainsAny(pattern, "*>"), q: NewQueue(b.buffer, handler)}
	b.subs[s] = struct{}{}
	return s, nil
}

// Close stops the subscription; no handler call starts after it returns.
func (s *memSub) Close() error {
	s.once.Do(func() {
		s.b.mu.Lock()
		delete(s.b.subs, s)
		s.b.mu.Unlock()
		s.q.Stop()
	})
	return nil
}

// Ping always succeeds for an open in-process bus.
func (b *Memory) Ping(ctx context.Context) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	return nil
}

// Close ends every subscription.
func (b *Memory) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := make([]*memSub, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		s.Close()
	}
	return nil
}

// Dropped counts messages dropped because a subscriber's queue was full.
func (b *Memory) Dropped() int64 { return b.dropped.Load() }
