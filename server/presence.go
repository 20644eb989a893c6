package server

import (
	"context"
	"fmt"

	"github.com/unhidra/unhidra/bus"
	"github.com/unhidra/unhidra/config"
)

// OpenPresence returns the KV the gateway keeps presence in: the bus's
// shared KV on NATS or Redis (bucket --presence-bucket, TTL
// --presence-ttl), or an in-process one for the in-process bus.
func OpenPresence(ctx context.Context, cfg config.Config, b bus.Bus) (bus.KV, error) {
	o, ok := b.(bus.KVOpener)
	if !ok {
		return bus.NewMemoryKV(cfg.PresenceTTL, nil), nil
	}
	kv, err := o.OpenKV(ctx, bus.KVOptions{Name: cfg.PresenceBucket, TTL: cfg.PresenceTTL})
	if err != nil {
		return nil, fmt.Errorf("presence store (--presence-bucket %s): %w", cfg.PresenceBucket, err)
	}
	return kv, nil
}
