package auth

import (
	"context"
	"time"

	"github.com/unhidra/unhidra"
)

// MaxInviteLifetime is the longest an invite may stay valid.
const MaxInviteLifetime = 365 * 24 * time.Hour

// CreateInvite makes an invite code (admins only). maxUses 0 means 1;
// expiresIn 0 means 7 days, at most MaxInviteLifetime.
func (s *Service) CreateInvite(ctx context.Context, maxUses int, expiresIn time.Duration) (*unhidra.Invite, error) {
	p, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if maxUses < 0 || maxUses > 10000 {
		return nil, unhidra.Errorf(unhidra.EInvalid, "max_uses must be between 1 and 10000")
	}
	if maxUses == 0 {
		maxUses = 1
	}
	if expiresIn < 0 || expiresIn > MaxInviteLifetime {
		return nil, unhidra.Errorf(unhidra.EInvalid, "expires_in_s must be between 1 and 31536000")
	}
	if expiresIn == 0 {
		expiresIn = 7 * 24 * time.Hour
	}
	now := s.now().UTC()
	exp := now.Add(expiresIn)
	inv := &unhidra.Invite{Code: randomToken("uhi_"), CreatedBy: p.UserID, MaxUses: maxUses, ExpiresAt: &exp, CreatedAt: now}
	if err := s.cfg.Store.CreateInvite(ctx, inv); err != nil {
		return nil, err
	}
	return inv, nil
}

// ListInvites lists invites (admins only).
func (s *Service) ListInvites(ctx context.Context) ([]*unhidra.Invite, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.cfg.Store.ListInvites(ctx)
}

// DeleteInvite withdraws an invite (admins only).
func (s *Service) DeleteInvite(ctx context.Context, code string) error {
	if _, err := requireAdmin(ctx); err != nil {
		return err
	}
	if err := unhidra.CheckID("code", code); err != nil {
		return err
	}
	return s.cfg.Store.DeleteInvite(ctx, code)
}
