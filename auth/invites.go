package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
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
	ev := s.callerEvent(ctx, audit.ActionInviteCreate, "invite", InviteID(inv.Code))
	ev.Metadata = map[string]string{"max_uses": strconv.Itoa(maxUses), "expires_at": exp.Truncate(time.Second).Format(time.RFC3339)}
	actx := audit.With(ctx, ev)
	if err := s.cfg.Store.CreateInvite(actx, inv); err != nil {
		return nil, err
	}
	s.recordUntaken(actx)
	return inv, nil
}

// InviteID names an invite in the audit log without its code, which is a
// credential: the first 8 bytes of the code's SHA-256, in hex.
func InviteID(code string) string {
	h := sha256.Sum256([]byte(code))
	return hex.EncodeToString(h[:8])
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
	actx := audit.With(ctx, s.callerEvent(ctx, audit.ActionInviteDelete, "invite", InviteID(code)))
	if err := s.cfg.Store.DeleteInvite(actx, code); err != nil {
		return err
	}
	s.recordUntaken(actx)
	return nil
}
