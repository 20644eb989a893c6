// Package bus carries events between the services and every node's gateway.
//
// Contract (every implementation, in-process or networked):
//   - A message is a subject and opaque bytes. Publish returns once the bus
//     has accepted the message; delivery is asynchronous.
//   - A subscription's handler is called from one goroutine per
//     subscription, so messages reach one subscriber in the order they were
//     published from one publisher. There is no ordering across publishers
//     (two nodes): consumers that need order must carry a sequence number
//     (channel events do) and repair gaps themselves.
//   - Delivery is at most once. A slow handler does not block publishers or
//     other subscribers: an implementation buffers, and past its buffer drops
//     messages and counts the drop. Durable state lives in the store; the bus
//     only says "something changed", and the gateway can always refetch.
//   - Subjects are dot-separated tokens. A subscription subject may end in
//     ".>", which matches one or more further tokens ("chan.>" matches
//     "chan.42"), or contain "*" for exactly one token.
package bus

import "context"

// Bus publishes and subscribes.
type Bus interface {
	// Publish sends data on subject. data must not be modified afterwards.
	Publish(ctx context.Context, subject string, data []byte) error
	// Subscribe calls handler for each message whose subject matches
	// pattern, until the returned Subscription is closed.
	Subscribe(pattern string, handler Handler) (Subscription, error)
	// Ping reports whether the bus is usable (for /readyz).
	Ping(ctx context.Context) error
	// Close stops every subscription and releases the bus.
	Close() error
}

// Handler receives one message. Implementations never reuse data, so a
// handler may keep it, read-only.
type Handler func(subject string, data []byte)

// Subscription is a live subscription.
type Subscription interface {
	// Close stops delivery; no handler call starts after Close returns. It
	// waits for a running handler call, so it must not be called from the
	// subscription's own handler.
	Close() error
}

// Match reports whether subject matches pattern (see the package doc).
func Match(pattern, subject string) bool {
	for {
		pt, prest, pmore := cut(pattern)
		st, srest, smore := cut(subject)
		switch {
		case pt == ">" && !pmore:
			return st != ""
		case pt == "*":
			if st == "" {
				return false
			}
		case pt != st:
			return false
		}
		if !pmore || !smore {
			return pmore == smore
		}
		pattern, subject = prest, srest
	}
}

func cut(s string) (token, rest string, more bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
