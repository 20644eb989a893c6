package auth

import (
	"context"
	"log/slog"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
)

// Audit events. An action that changes something carries its event into
// the store call that makes the change (audit.With), and the store writes
// it in the same transaction; an action that changes nothing (a refused
// login) is recorded on its own through Config.Audit.

// userEvent is an event whose actor is the user userID.
func (s *Service) userEvent(action, userID, targetType, targetID, ip string) *audit.Event {
	return &audit.Event{Action: action, ActorType: audit.ActorUser, ActorID: userID,
		TargetType: targetType, TargetID: targetID, IP: auditIP(ip), Time: s.now()}
}

// callerEvent is an event whose actor is the authenticated caller.
func (s *Service) callerEvent(ctx context.Context, action, targetType, targetID string) *audit.Event {
	e := &audit.Event{Action: action, ActorType: audit.ActorSystem, TargetType: targetType, TargetID: targetID, Time: s.now()}
	if p := unhidra.PrincipalFromContext(ctx); p != nil {
		e.ActorType, e.ActorID = audit.ActorUser, p.UserID
	}
	e.IP = auditIP(audit.ClientIP(ctx))
	return e
}

// auditIP keeps an address only if it is one.
func auditIP(ip string) string { return audit.CleanIP(ip) }

// record writes events that have no transaction to share, logging a
// failure: the refusal it records stands either way.
func (s *Service) record(ctx context.Context, events ...*audit.Event) {
	if s.cfg.Audit == nil {
		return
	}
	if err := s.cfg.Audit.Record(context.WithoutCancel(ctx), events...); err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "audit event not recorded", slog.String("action", events[0].Action), slog.Any("err", err))
	}
}

// recordUntaken records, on their own, events attached to ctx that the
// store did not take (a Store that does not write audit events, such as a
// test double): late rather than never.
func (s *Service) recordUntaken(ctx context.Context) {
	if evs := audit.Untaken(ctx); len(evs) > 0 {
		s.record(ctx, evs...)
	}
}

// loginFailed records a refused login. The username is recorded only as
// the id of an existing account: an unknown name may be a password typed
// into the wrong field.
func (s *Service) loginFailed(ctx context.Context, userID, reason string, meta ClientMeta) {
	e := &audit.Event{Action: audit.ActionLogin, ActorType: audit.ActorAnonymous, Result: audit.ResultFailed,
		Reason: reason, IP: auditIP(meta.IP), Time: s.now()}
	if userID != "" {
		e.TargetType, e.TargetID = "user", userID
	}
	s.record(ctx, e)
}
