package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/internal/testserver"
)

// auditRow is an audit event as stored, chained or still in the outbox.
type auditRow struct {
	ActorType, ActorID, TargetType, TargetID, IP, Result, Reason string
	Metadata                                                     map[string]string
}

// audited returns the events of action the database holds right now. Read
// straight after the call that made them, without waiting for the
// chainer: an event written in the action's own transaction is there as
// soon as the answer is.
func audited(t *testing.T, n *testserver.Node, action string) []auditRow {
	t.Helper()
	const cols = `actor_type, actor_id, target_type, target_id, ip, result, reason, metadata`
	rows, err := n.Store.Read().Query(t.Context(), `SELECT `+cols+` FROM audit_outbox WHERE action = ?
		UNION ALL SELECT `+cols+` FROM audit_log WHERE action = ?`, action, action)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		var meta string
		if err := rows.Scan(&r.ActorType, &r.ActorID, &r.TargetType, &r.TargetID, &r.IP, &r.Result, &r.Reason, &meta); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(meta), &r.Metadata); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// auditedOne returns the only event of action that has the metadata want,
// failing unless there is exactly one.
func auditedOne(t *testing.T, n *testserver.Node, action string, want map[string]string) auditRow {
	t.Helper()
	var found []auditRow
	for _, r := range audited(t, n, action) {
		match := true
		for k, v := range want {
			if r.Metadata[k] != v {
				match = false
			}
		}
		if match {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s events with %v, want 1: %+v", len(found), action, want, audited(t, n, action))
	}
	return found[0]
}

// TestAuditedAccountSecurity: a wrong setup token, invites made and
// withdrawn, break-glass set and cleared, a wrong second-factor code, a
// recovery code spent at login and new recovery codes are each in the
// audit log as soon as the action answers; refused actions record none,
// and no secret (setup token, invite code, recovery code) is in the log.
func TestAuditedAccountSecurity(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			n := testserver.Start(t, testserver.Config(t, engine))
			if _, _, err := n.Auth.Bootstrap(t.Context()); err != nil {
				t.Fatal(err)
			}
			newCall(t, n, "POST", "/api/v1/auth/register").
				json(map[string]string{"username": "mallory", "password": adminPW, "setup_token": "uhs_guessed"}).expectError(403, "permission_denied")
			e := auditedOne(t, n, "auth.admin_create", map[string]string{"via": "setup_token"})
			if e.Result != "failed" || e.Reason != "bad_setup_token" || e.ActorType != "anonymous" || e.IP == "" {
				t.Fatalf("a wrong setup token: %+v", e)
			}
			alice := bootstrapAdmin(t, n, "alice", adminPW)
			admin := login(t, n, "alice", adminPW)
			bob := register(t, n, "bob", bobPW)
			member := login(t, n, "bob", bobPW)

			// Invites, named by a hash of the code, never the code.
			var inv struct{ Invite struct{ Code string } }
			newCall(t, n, "POST", "/api/v1/invites").bearer(admin.AccessToken).json(map[string]any{"max_uses": 3}).expect(201, &inv)
			e = auditedOne(t, n, "admin.invite_create", nil)
			if e.ActorID != alice.ID || e.TargetType != "invite" || e.TargetID != auth.InviteID(inv.Invite.Code) || e.Metadata["max_uses"] != "3" || e.Metadata["expires_at"] == "" {
				t.Fatalf("invite_create: %+v", e)
			}
			newCall(t, n, "DELETE", "/api/v1/invites/"+inv.Invite.Code).bearer(member.AccessToken).expectError(403, "permission_denied")
			if got := audited(t, n, "admin.invite_delete"); len(got) != 0 {
				t.Fatalf("a refused delete was audited: %+v", got)
			}
			newCall(t, n, "DELETE", "/api/v1/invites/"+inv.Invite.Code).bearer(admin.AccessToken).expect(204, nil)
			if e = auditedOne(t, n, "admin.invite_delete", nil); e.ActorID != alice.ID || e.TargetID != auth.InviteID(inv.Invite.Code) {
				t.Fatalf("invite_delete: %+v", e)
			}
			newCall(t, n, "DELETE", "/api/v1/invites/"+inv.Invite.Code).bearer(admin.AccessToken).expectError(404, "not_found")
			if got := audited(t, n, "admin.invite_delete"); len(got) != 1 {
				t.Fatalf("deleting a missing invite was audited: %+v", got)
			}

			// Break-glass, set and cleared by an admin; a member is refused
			// and records nothing.
			bg := func(tok string, on bool) *call {
				return newCall(t, n, "PUT", "/api/v1/admin/users/"+bob.ID+"/break-glass").bearer(tok).json(map[string]bool{"break_glass": on})
			}
			bg(member.AccessToken, true).expectError(403, "permission_denied")
			if got := audited(t, n, "admin.break_glass"); len(got) != 0 {
				t.Fatalf("a refused break-glass change was audited: %+v", got)
			}
			bg(admin.AccessToken, true).expect(200, nil)
			bg(admin.AccessToken, false).expect(200, nil)
			for _, state := range []string{"set", "cleared"} {
				if e := auditedOne(t, n, "admin.break_glass", map[string]string{"state": state}); e.ActorID != alice.ID || e.TargetID != bob.ID {
					t.Fatalf("break_glass %s: %+v", state, e)
				}
			}

			// The second factor: enrolment (with one wrong code), a wrong
			// code and a recovery code at login, new recovery codes.
			freshStep(t)
			_, recovery := enrolTOTP(t, n, member.AccessToken)
			if e := auditedOne(t, n, "auth.totp_verify", map[string]string{"purpose": "totp_confirm"}); e.Result != "failed" || e.Reason != "bad_code" || e.ActorID != bob.ID {
				t.Fatalf("wrong code at enrolment: %+v", e)
			}
			ticket := startLogin(t, n, "bob", bobPW)
			finishLogin(t, n, ticket, "000000").expectError(401, "unauthenticated")
			if e := auditedOne(t, n, "auth.totp_verify", map[string]string{"purpose": "login"}); e.Result != "failed" || e.Reason != "bad_code" || e.TargetID != bob.ID || e.IP == "" {
				t.Fatalf("wrong code at login: %+v", e)
			}
			if got := audited(t, n, "auth.recovery_code_use"); len(got) != 0 {
				t.Fatalf("a recovery code use before any: %+v", got)
			}
			finishLogin(t, n, ticket, recovery[0]).expect(200, nil)
			if e := auditedOne(t, n, "auth.recovery_code_use", map[string]string{"purpose": "login"}); e.ActorID != bob.ID || e.Metadata["remaining"] != "9" || e.Result != "ok" {
				t.Fatalf("recovery code at login: %+v", e)
			}
			// A spent code is a wrong code, not another use.
			ticket = startLogin(t, n, "bob", bobPW)
			finishLogin(t, n, ticket, recovery[0]).expectError(401, "unauthenticated")
			if got := audited(t, n, "auth.recovery_code_use"); len(got) != 1 {
				t.Fatalf("a spent recovery code was audited as used: %+v", got)
			}
			newCall(t, n, "POST", "/api/v1/users/me/recovery-codes").bearer(member.AccessToken).json(map[string]string{"code": recovery[1]}).expect(200, nil)
			auditedOne(t, n, "auth.recovery_code_use", map[string]string{"purpose": "recovery_codes", "remaining": "8"})
			if e := auditedOne(t, n, "auth.recovery_codes_new", nil); e.ActorID != bob.ID {
				t.Fatalf("recovery_codes_new: %+v", e)
			}

			// No secret reached the log.
			for _, action := range []string{"auth.admin_create", "admin.invite_create", "admin.invite_delete", "auth.recovery_code_use", "auth.totp_verify"} {
				b, _ := json.Marshal(audited(t, n, action))
				for _, secret := range []string{"uhs_guessed", inv.Invite.Code, recovery[0], recovery[1]} {
					if strings.Contains(strings.ToLower(string(b)), strings.ToLower(strings.ReplaceAll(secret, "-", ""))) || strings.Contains(string(b), secret) {
						t.Fatalf("%s holds a secret: %s", action, b)
					}
				}
			}
		})
	}
}
