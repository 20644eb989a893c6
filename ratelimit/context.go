package ratelimit

import (
	"context"
	"time"
)

// A limit that several nodes enforce together lives in the database
// (store/ratestore), so its every decision takes a context and can fail.
// Consumers (httpapi, auth) therefore take small interfaces of that shape,
// defined where they are used; WithContext gives the in-memory Limiter and
// Backoff the same shape, so that one code path serves a node-local limit
// and a shared one.

// ContextLimiter is a Limiter with the context-taking, error-returning
// Allow of a shared limiter. Its error is always nil.
type ContextLimiter struct{ l *Limiter }

// WithContext returns l in the shape of a shared limiter.
func (l *Limiter) WithContext() ContextLimiter { return ContextLimiter{l} }

// Allow is Limiter.Allow; ctx is unused and the error always nil.
func (c ContextLimiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	ok, wait := c.l.Allow(key)
	return ok, wait, nil
}

// ContextBackoff is a Backoff with the context-taking, error-returning
// methods of a shared one. Its errors are always nil.
type ContextBackoff struct{ b *Backoff }

// WithContext returns b in the shape of a shared backoff.
func (b *Backoff) WithContext() ContextBackoff { return ContextBackoff{b} }

// Failures is Backoff.Failures.
func (c ContextBackoff) Failures(_ context.Context, key string) (int, error) {
	return c.b.Failures(key), nil
}

// Reserve is Backoff.Reserve.
func (c ContextBackoff) Reserve(_ context.Context, key string) (time.Duration, error) {
	return c.b.Reserve(key), nil
}

// Admit is Backoff.Admit.
func (c ContextBackoff) Admit(_ context.Context, key string) (time.Duration, error) {
	return c.b.Admit(key), nil
}

// Fail is Backoff.Fail.
func (c ContextBackoff) Fail(_ context.Context, key string) error {
	c.b.Fail(key)
	return nil
}

// Succeed is Backoff.Succeed.
func (c ContextBackoff) Succeed(_ context.Context, key string) error {
	c.b.Succeed(key)
	return nil
}

// Release is Backoff.Release.
func (c ContextBackoff) Release(_ context.Context, key string) error {
	c.b.Release(key)
	return nil
}
