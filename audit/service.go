package audit

import (
	"context"
	"time"

	"github.com/unhidra/unhidra"
)

// Query selects log entries: seq > After, optionally of one actor or
// action and with Since <= time < Until, in ascending seq, at most Limit.
type Query struct {
	After        int64
	ActorID      string
	Action       string
	Since, Until time.Time
	Limit        int
}

// Store is what the Service reads; store/auditstore implements it.
type Store interface {
	Source
	Page(ctx context.Context, q Query) ([]*Entry, error)
	CheckpointPage(ctx context.Context, after int64, limit int) ([]*Checkpoint, error)
}

// Service answers the operators' questions about the audit log: reading,
// exporting and verifying it. Every method is for admins only (the caller
// comes from unhidra.PrincipalFromContext); the CLI, which runs with the
// database's own rights, uses the functions of this package directly.
type Service struct {
	store   Store
	trusted Keyring
}

// NewService returns the service over st, verifying checkpoints with the
// keys of trusted.
func NewService(st Store, trusted Keyring) *Service { return &Service{store: st, trusted: trusted} }

// MaxPage is the most entries one List returns.
const MaxPage = 1000

func requireAdmin(ctx context.Context) error {
	p := unhidra.PrincipalFromContext(ctx)
	if p == nil {
		return unhidra.Errorf(unhidra.EUnauthenticated, "sign in first")
	}
	if p.Role != unhidra.RoleAdmin {
		return unhidra.Errorf(unhidra.EPermission, "only admins may read the audit log")
	}
	return nil
}

// List returns the entries q selects (at most MaxPage).
func (s *Service) List(ctx context.Context, q Query) ([]*Entry, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if q.Limit <= 0 || q.Limit > MaxPage {
		return nil, unhidra.Errorf(unhidra.EInvalid, "limit must be 1 to %d", MaxPage)
	}
	if q.After < 0 {
		return nil, unhidra.Errorf(unhidra.EInvalid, "after must not be negative")
	}
	return s.store.Page(ctx, q)
}

// Checkpoints returns up to limit signed checkpoints after seq after.
func (s *Service) Checkpoints(ctx context.Context, after int64, limit int) ([]*Checkpoint, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxPage {
		return nil, unhidra.Errorf(unhidra.EInvalid, "limit must be 1 to %d", MaxPage)
	}
	return s.store.CheckpointPage(ctx, after, limit)
}

// Anchors returns the signed prune anchors, oldest first: what retention
// removed, for auditors who verify an export (it starts after the newest).
func (s *Service) Anchors(ctx context.Context) ([]*PruneAnchor, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var out []*PruneAnchor
	for a, err := range s.store.Anchors(ctx) {
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Verify walks the whole log (see the package function Verify).
func (s *Service) Verify(ctx context.Context) (*Report, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	return Verify(ctx, s.store, s.trusted, nil)
}
