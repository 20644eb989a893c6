package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"image/png"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/ratelimit"
)

// Two-factor authentication: TOTP (RFC 6238) with recovery codes, for
// password accounts.
//
// Guarantees:
//   - The secret is sealed under the key-encryption key (Config.SecretKey,
//     the one that seals the signing keys) with the user id as associated
//     data; the database never holds it in the clear.
//   - A code is accepted for the current 30-second step and one step either
//     side (clock skew), and only once: the store remembers the last step
//     accepted and refuses that step and every earlier one (a
//     compare-and-set, so two nodes racing with one code accept it once).
//   - Every check of a code (login, confirm, disable, new recovery codes)
//     goes through the MFA backoff (Config.MFABackoff), keyed by account and
//     shared by every node, and a login ticket dies after
//     maxTicketAttempts wrong codes.
//   - Recovery codes are 80 random bits each, shown once and stored as
//     SHA-256 of (user id, code). A slow password hash is not needed: it
//     defends low-entropy secrets against offline guessing, and 2^80
//     guesses per code is out of reach whatever the hash costs; the user id
//     in the hash keeps one table from serving every account.

const (
	totpPeriod        = 30
	totpDigits        = otp.DigitsSix
	recoveryCodeCount = 10
	// MFATicketTTL is how long the second step of a login may take.
	MFATicketTTL      = 5 * time.Minute
	maxTicketAttempts = 5
	totpSealPurpose   = "totp-secret"
	mfaTicketPrefix   = "uhm_"
)

// TOTPEnrolment is a pending authenticator, shown to its user once.
type TOTPEnrolment struct {
	Secret string // base32, for typing into an app by hand
	URI    string // otpauth://totp/…, what the QR code holds
	QRPNG  []byte // the URI as a 256×256 PNG QR code
}

// TOTPStatus is the state of the caller's second factor.
type TOTPStatus struct {
	Enabled           bool       `json:"enabled"`
	Pending           bool       `json:"pending"`
	ConfirmedAt       *time.Time `json:"confirmed_at,omitempty"`
	RecoveryCodesLeft int        `json:"recovery_codes_left"`
}

// requireSession returns the caller, refusing a personal access token:
// credentials are managed only from a signed-in session.
func requireSession(ctx context.Context) (*unhidra.Principal, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if p.TokenID != "" {
		return nil, errSessionOnly()
	}
	return p, nil
}

func errSessionOnly() error {
	return unhidra.Errorf(unhidra.EPermission, "a personal access token cannot do this; sign in")
}

func (s *Service) sealKey() error {
	if s.cfg.SecretKey == nil {
		return unhidra.Errorf(unhidra.EUnavailable, "two-factor authentication needs a key-encryption key on this server (see --key-encryption-key-file)")
	}
	return nil
}

// EnrolTOTP starts (or restarts) the caller's enrolment: a new secret,
// pending until ConfirmTOTP. EConflict if two-factor is already on.
func (s *Service) EnrolTOTP(ctx context.Context) (*TOTPEnrolment, error) {
	p, err := requireSession(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.sealKey(); err != nil {
		return nil, err
	}
	u, err := s.cfg.Store.UserByID(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: s.cfg.TOTPIssuer, AccountName: u.Username,
		Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, SecretSize: 20,
	})
	if err != nil {
		return nil, fmt.Errorf("generate totp secret: %w", err)
	}
	rec := &TOTPRecord{UserID: u.ID, Sealed: s.cfg.SecretKey.Seal(totpSealPurpose, u.ID, []byte(key.Secret())), CreatedAt: s.now().UTC()}
	if err := s.cfg.Store.PutPendingTOTP(ctx, rec); err != nil {
		return nil, err
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return nil, fmt.Errorf("totp qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("totp qr code: %w", err)
	}
	return &TOTPEnrolment{Secret: key.Secret(), URI: key.URL(), QRPNG: buf.Bytes()}, nil
}

// ConfirmTOTP turns two-factor on with the first code of the pending
// authenticator and returns the recovery codes, shown this once.
func (s *Service) ConfirmTOTP(ctx context.Context, code string) ([]string, error) {
	p, err := requireSession(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.sealKey(); err != nil {
		return nil, err
	}
	rec, err := s.cfg.Store.TOTP(ctx, p.UserID)
	if unhidra.ErrorCode(err) == unhidra.ENotFound || (err == nil && rec.ConfirmedAt != nil) {
		return nil, unhidra.Errorf(unhidra.EConflict, "no two-factor enrolment is pending; start one first")
	} else if err != nil {
		return nil, err
	}
	var step int64
	if err := s.guardCode(ctx, p.UserID, purposeConfirm, func() (bool, error) {
		st, ok, merr := s.matchTOTP(rec, normalizeCode(code))
		step = st
		return ok, merr
	}); err != nil {
		return nil, err
	}
	codes, hashes := newRecoveryCodes(p.UserID)
	if err := s.cfg.Store.ConfirmTOTP(audit.With(ctx, s.callerEvent(ctx, audit.ActionTOTPEnable, "user", p.UserID)), p.UserID, step, s.now().UTC(), hashes); err != nil {
		return nil, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "two-factor turned on", slog.String("user_id", p.UserID))
	return codes, nil
}

// DisableTOTP turns two-factor off; it takes the password and a current
// code (or a recovery code).
func (s *Service) DisableTOTP(ctx context.Context, plain, code string) error {
	p, err := requireSession(ctx)
	if err != nil {
		return err
	}
	if err := s.checkPassword(ctx, p.UserID, plain); err != nil {
		return err
	}
	if err := s.checkSecondFactor(ctx, p.UserID, code, purposeDisable); err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteTOTP(audit.With(ctx, s.callerEvent(ctx, audit.ActionTOTPDisable, "user", p.UserID)), p.UserID); err != nil {
		return err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "two-factor turned off", slog.String("user_id", p.UserID))
	return nil
}

// RegenerateRecoveryCodes replaces the caller's recovery codes (the old ones
// stop working) after a current code.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, code string) ([]string, error) {
	p, err := requireSession(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.checkSecondFactor(ctx, p.UserID, code, purposeRecoveryCodes); err != nil {
		return nil, err
	}
	codes, hashes := newRecoveryCodes(p.UserID)
	actx := audit.With(ctx, s.callerEvent(ctx, audit.ActionRecoveryNew, "user", p.UserID))
	if err := s.cfg.Store.ReplaceRecoveryCodes(actx, p.UserID, hashes, s.now().UTC()); err != nil {
		return nil, err
	}
	s.recordUntaken(actx)
	return codes, nil
}

// TOTPStatus reports the caller's second factor.
func (s *Service) TOTPStatus(ctx context.Context) (*TOTPStatus, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	rec, err := s.cfg.Store.TOTP(ctx, p.UserID)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return &TOTPStatus{}, nil
	} else if err != nil {
		return nil, err
	}
	st := &TOTPStatus{Enabled: rec.ConfirmedAt != nil, Pending: rec.ConfirmedAt == nil, ConfirmedAt: rec.ConfirmedAt}
	if st.Enabled {
		if st.RecoveryCodesLeft, err = s.cfg.Store.CountRecoveryCodes(ctx, p.UserID); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (s *Service) checkPassword(ctx context.Context, userID, plain string) error {
	u, err := s.cfg.Store.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	_, hash, err := s.cfg.Store.UserByUsername(ctx, u.Username)
	if err != nil {
		return err
	}
	if len(plain) > 4096 {
		return unhidra.Errorf(unhidra.EPermission, "the password is wrong")
	}
	ok, _, err := s.cfg.Hasher.Verify(ctx, plain, hash)
	if err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	if !ok {
		return unhidra.Errorf(unhidra.EPermission, "the password is wrong")
	}
	return nil
}

// hasTOTP reports whether the user has two-factor on.
func (s *Service) hasTOTP(ctx context.Context, userID string) (bool, error) {
	rec, err := s.cfg.Store.TOTP(ctx, userID)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return rec.ConfirmedAt != nil, nil
}

// What a second-factor code is checked for: the purpose of its audit
// events (auth.totp_verify, auth.recovery_code_use).
const (
	purposeLogin         = "login"
	purposeConfirm       = "totp_confirm"
	purposeDisable       = "totp_disable"
	purposeRecoveryCodes = "recovery_codes"
)

// mfaEvent is an event about userID's second factor, checked for purpose.
// Its actor is the user: at a login's second step, whoever knew their
// password.
func (s *Service) mfaEvent(ctx context.Context, action, userID, purpose string) *audit.Event {
	e := s.userEvent(action, userID, "user", userID, audit.ClientIP(ctx))
	e.Metadata = map[string]string{"purpose": purpose}
	return e
}

// checkSecondFactor accepts a current TOTP code or an unused recovery code
// of the user (spending it), under the MFA backoff.
func (s *Service) checkSecondFactor(ctx context.Context, userID, code, purpose string) error {
	if err := s.sealKey(); err != nil {
		return err
	}
	rec, err := s.cfg.Store.TOTP(ctx, userID)
	if unhidra.ErrorCode(err) == unhidra.ENotFound || (err == nil && rec.ConfirmedAt == nil) {
		return unhidra.Errorf(unhidra.EConflict, "two-factor authentication is not on")
	} else if err != nil {
		return err
	}
	return s.guardCode(ctx, userID, purpose, func() (bool, error) { return s.verifyCode(ctx, rec, code, purpose) })
}

// guardCode runs check under the account's MFA backoff: refused while it
// is backing off, a wrong code counted, a right one clearing it. A wrong
// code, and a try refused by the backoff, are audited (auth.totp_verify,
// failed).
func (s *Service) guardCode(ctx context.Context, userID, purpose string, check func() (bool, error)) error {
	failed := func(reason string) {
		e := s.mfaEvent(ctx, audit.ActionTOTPVerify, userID, purpose)
		e.Result, e.Reason = audit.ResultFailed, reason
		s.record(ctx, e)
	}
	b := s.cfg.MFABackoff
	if b != nil {
		d, err := b.Reserve(ctx, userID)
		if err != nil {
			return backoffUnavailable(err)
		}
		if d > 0 {
			failed("rate_limited")
			return &unhidra.Error{Code: unhidra.ERateLimited, Message: "too many wrong codes; try again later", RetryAfterSeconds: ratelimit.RetryAfterSeconds(d)}
		}
	}
	ok, err := check()
	if b != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportTimeout)
		defer cancel()
		var rerr error
		switch {
		case err != nil:
			rerr = b.Release(rctx, userID)
		case ok:
			rerr = b.Succeed(rctx, userID)
		default:
			rerr = b.Fail(rctx, userID)
		}
		if rerr != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "mfa backoff not updated", slog.Any("err", rerr))
		}
	}
	if err != nil {
		return err
	}
	if !ok {
		failed("bad_code")
		return unhidra.Errorf(unhidra.EUnauthenticated, "the code is wrong or was already used")
	}
	return nil
}

// verifyCode checks code as a TOTP code (6 digits) or a recovery code and
// records its use; a recovery code spent is audited with the spending
// (auth.recovery_code_use, with how many are left).
func (s *Service) verifyCode(ctx context.Context, rec *TOTPRecord, code, purpose string) (bool, error) {
	norm := normalizeCode(code)
	if len(norm) == int(totpDigits) {
		step, ok, err := s.matchTOTP(rec, norm)
		if err != nil || !ok {
			return false, err
		}
		return s.cfg.Store.UseTOTPStep(ctx, rec.UserID, step)
	}
	if len(norm) != recoveryCodeLen {
		return false, nil
	}
	// Counted before the spending, in a read of its own: two codes of one
	// account spent at the same instant could both say the same number.
	left, err := s.cfg.Store.CountRecoveryCodes(ctx, rec.UserID)
	if err != nil {
		return false, err
	}
	ev := s.mfaEvent(ctx, audit.ActionRecoveryUse, rec.UserID, purpose)
	ev.Metadata["remaining"] = strconv.Itoa(max(left-1, 0))
	return s.cfg.Store.UseRecoveryCode(audit.With(ctx, ev), rec.UserID, recoveryHash(rec.UserID, norm), s.now().UTC())
}

// matchTOTP finds the step, within one of now and later than the last
// accepted, whose code is code. The comparison is hotp's, constant-time.
func (s *Service) matchTOTP(rec *TOTPRecord, code string) (int64, bool, error) {
	if len(code) != int(totpDigits) {
		return 0, false, nil
	}
	secret, err := s.cfg.SecretKey.Open(totpSealPurpose, rec.UserID, rec.Sealed)
	if err != nil {
		return 0, false, fmt.Errorf("open totp secret: %w", err)
	}
	now := s.now().Unix() / totpPeriod
	opts := hotp.ValidateOpts{Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}
	for step := now - 1; step <= now+1; step++ {
		if step <= rec.LastStep {
			continue // spent: this code, or an earlier one, was accepted
		}
		ok, err := hotp.ValidateCustom(code, uint64(step), string(secret), opts)
		if err != nil {
			return 0, false, nil // not a code at all (not digits)
		}
		if ok {
			return step, true, nil
		}
	}
	return 0, false, nil
}

// normalizeCode drops spaces and dashes and lower-cases, so that
// "123 456" and "ABCD-EFGH-…" are read as typed.
func normalizeCode(code string) string {
	if len(code) > 64 {
		return ""
	}
	return strings.ToLower(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, code))
}

// recoveryCodeLen is the length of a normalized recovery code: 10 random
// bytes in base32.
const recoveryCodeLen = 16

var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newRecoveryCodes returns fresh recovery codes as shown (xxxx-xxxx-xxxx-xxxx)
// and their hashes.
func newRecoveryCodes(userID string) ([]string, [][]byte) {
	codes := make([]string, recoveryCodeCount)
	hashes := make([][]byte, recoveryCodeCount)
	for i := range codes {
		b := make([]byte, 10)
		rand.Read(b) // never fails since Go 1.24
		c := strings.ToLower(recoveryEncoding.EncodeToString(b))
		codes[i] = c[0:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:16]
		hashes[i] = recoveryHash(userID, c)
	}
	return codes, hashes
}

func recoveryHash(userID, norm string) []byte {
	h := sha256.Sum256([]byte("unhidra recovery code\x00" + userID + "\x00" + norm))
	return h[:]
}

// MFAChallenge is a login's answer when the password was right and the
// account has two-factor on: the ticket for CompleteMFALogin.
type MFAChallenge struct {
	Ticket    string
	ExpiresIn int // seconds
}

// startMFA issues the ticket of a login's second step.
func (s *Service) startMFA(ctx context.Context, u *unhidra.User) (*MFAChallenge, error) {
	tok := randomToken(mfaTicketPrefix)
	now := s.now().UTC()
	if err := s.cfg.Store.CreateMFATicket(ctx, &MFATicket{Hash: hashToken(tok), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(MFATicketTTL)}); err != nil {
		return nil, fmt.Errorf("create mfa ticket: %w", err)
	}
	return &MFAChallenge{Ticket: tok, ExpiresIn: int(MFATicketTTL / time.Second)}, nil
}

// CompleteMFALogin finishes a login that answered an MFAChallenge: the
// ticket and a TOTP or recovery code start the session. A ticket works
// once, for MFATicketTTL, and dies after maxTicketAttempts wrong codes.
func (s *Service) CompleteMFALogin(ctx context.Context, ticket, code string, meta ClientMeta) (*TokenPair, error) {
	invalid := unhidra.Errorf(unhidra.EUnauthenticated, "the sign-in ticket is not valid, used or expired; sign in again")
	if !strings.HasPrefix(ticket, mfaTicketPrefix) || len(ticket) > 128 {
		return nil, invalid
	}
	hash := hashToken(ticket)
	t, err := s.cfg.Store.MFATicketByHash(ctx, hash)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil, invalid
	} else if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	if t.UsedAt != nil || !now.Before(t.ExpiresAt) || t.Attempts >= maxTicketAttempts {
		return nil, invalid
	}
	if err := s.checkSecondFactor(ctx, t.UserID, code, purposeLogin); err != nil {
		if unhidra.ErrorCode(err) == unhidra.EUnauthenticated {
			if n, ferr := s.cfg.Store.FailMFATicket(ctx, hash); ferr != nil {
				return nil, ferr
			} else if n >= maxTicketAttempts {
				return nil, unhidra.Errorf(unhidra.EUnauthenticated, "too many wrong codes for this sign-in; sign in again")
			}
		}
		if unhidra.ErrorCode(err) == unhidra.EConflict {
			return nil, invalid // two-factor went off meanwhile
		}
		return nil, err
	}
	won, err := s.cfg.Store.UseMFATicket(ctx, hash, now)
	if err != nil {
		return nil, err
	}
	if !won {
		return nil, invalid
	}
	u, err := s.cfg.Store.UserByID(ctx, t.UserID)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil, invalid
	} else if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, invalid
	}
	return s.startSession(ctx, u, meta)
}
