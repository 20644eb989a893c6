package bus

import "sync"

// Queue is one subscription's delivery: a bounded buffer of messages
// handed to the handler in order on one goroutine of its own, so a slow
// handler holds up nothing but its own queue. Every Bus implementation
// delivers through one, which is how they all keep the package's contract
// (order per subscription, drops instead of blocking, no handler call
// after Stop).
type Queue struct {
	handler Handler
	ch      chan queued
	done    chan struct{}
	once    sync.Once
	mu      sync.Mutex // held while the handler runs, so Stop waits for it
	stopped bool
}

type queued struct {
	subject string
	data    []byte
}

// NewQueue starts a queue of size messages for handler.
func NewQueue(size int, handler Handler) *Queue {
	q := &Queue{handler: handler, ch: make(chan queued, size), done: make(chan struct{})}
	go q.run()
	return q
}

// Offer queues a message without blocking; false means the queue was full
// and the message is dropped (the caller counts it).
func (q *Queue) Offer(subject string, data []byte) bool {
	select {
	case q.ch <- queued{subject, data}:
		return true
	default:
		return false
	}
}

func (q *Queue) run() {
	for {
		select {
		case <-q.done:
			return
		case m := <-q.ch:
			q.mu.Lock()
			if !q.stopped {
				q.handler(m.subject, m.data)
			}
			q.mu.Unlock()
		}
	}
}

// Stop ends delivery: it waits for a running handler call, and no call
// starts after it returns. It must not be called from the handler.
func (q *Queue) Stop() {
	q.once.Do(func() {
		q.mu.Lock()
		q.stopped = true
		q.mu.Unlock()
		close(q.done)
	})
}
