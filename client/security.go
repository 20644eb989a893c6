package client

import (
	"context"
	"errors"
	"time"
)

// MFARequiredError is Login's answer for an account with two-factor on:
// the password was right; finish with LoginMFA and a code before the
// ticket expires.
type MFARequiredError struct {
	Ticket    string
	ExpiresIn int // seconds
}

func (e *MFARequiredError) Error() string {
	return "login: this account needs a two-factor code (LoginMFA)"
}

// IsMFARequired reports whether err is a Login's MFARequiredError, and
// returns it.
func IsMFARequired(err error) (*MFARequiredError, bool) {
	var e *MFARequiredError
	ok := errors.As(err, &e)
	return e, ok
}

// LoginMFA finishes a login that needed two-factor: the ticket of the
// MFARequiredError and a TOTP code or a recovery code.
func (c *Client) LoginMFA(ctx context.Context, ticket, code string) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	var out tokenResponse
	in := map[string]string{"mfa_ticket": ticket, "code": code}
	if err := c.send(ctx, "POST", "/api/v1/auth/login/mfa", "", in, &out); err != nil {
		return err
	}
	if out.AccessToken == "" || out.RefreshToken == "" {
		return errors.New("login: the server answered without tokens")
	}
	return c.adoptLocked(ctx, out)
}

// TOTPStatus is the state of the caller's second factor.
type TOTPStatus struct {
	Enabled           bool       `json:"enabled"`
	Pending           bool       `json:"pending"`
	ConfirmedAt       *time.Time `json:"confirmed_at,omitempty"`
	RecoveryCodesLeft int        `json:"recovery_codes_left"`
}

// TOTPEnrolment is a pending authenticator: show the URI (as a QR code)
// or the secret, then ConfirmTOTP with its first code.
type TOTPEnrolment struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
	QRPNG      []byte `json:"qr_png"`
}

// TOTP returns the caller's two-factor state.
func (c *Client) TOTP(ctx context.Context) (*TOTPStatus, error) {
	var out struct {
		TOTP *TOTPStatus `json:"totp"`
	}
	if err := c.do(ctx, "GET", "/api/v1/users/me/totp", nil, &out); err != nil {
		return nil, err
	}
	return out.TOTP, nil
}

// EnrolTOTP starts two-factor enrolment.
func (c *Client) EnrolTOTP(ctx context.Context) (*TOTPEnrolment, error) {
	var out struct {
		TOTP *TOTPEnrolment `json:"totp"`
	}
	if err := c.do(ctx, "POST", "/api/v1/users/me/totp", nil, &out); err != nil {
		return nil, err
	}
	return out.TOTP, nil
}

// ConfirmTOTP turns two-factor on with the first code and returns the
// recovery codes (shown only now).
func (c *Client) ConfirmTOTP(ctx context.Context, code string) ([]string, error) {
	var out struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	err := c.do(ctx, "POST", "/api/v1/users/me/totp/confirm", map[string]string{"code": code}, &out)
	return out.RecoveryCodes, err
}

// DisableTOTP turns two-factor off.
func (c *Client) DisableTOTP(ctx context.Context, password, code string) error {
	return c.do(ctx, "POST", "/api/v1/users/me/totp/disable", map[string]string{"password": password, "code": code}, nil)
}

// RegenerateRecoveryCodes replaces the recovery codes.
func (c *Client) RegenerateRecoveryCodes(ctx context.Context, code string) ([]string, error) {
	var out struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	err := c.do(ctx, "POST", "/api/v1/users/me/recovery-codes", map[string]string{"code": code}, &out)
	return out.RecoveryCodes, err
}

// AccessToken is a personal access token as listed (never its secret).
type AccessToken struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// CreateTokenInput asks for a personal access token.
type CreateTokenInput struct {
	Name      string        `json:"name"`
	Scopes    []string      `json:"scopes"` // read, write, admin
	ExpiresIn time.Duration `json:"-"`      // required, at most 366 days
}

// CreateToken creates a personal access token and returns it with its
// secret (uhp_…), which the server shows only this once. A client made
// with WithTokens(Tokens{AccessToken: secret}) then acts with it.
func (c *Client) CreateToken(ctx context.Context, in CreateTokenInput) (*AccessToken, string, error) {
	body := map[string]any{"name": in.Name, "scopes": in.Scopes, "expires_in_s": int64(in.ExpiresIn / time.Second)}
	var out struct {
		Token  *AccessToken `json:"token"`
		Secret string       `json:"secret"`
	}
	if err := c.do(ctx, "POST", "/api/v1/users/me/tokens", body, &out); err != nil {
		return nil, "", err
	}
	return out.Token, out.Secret, nil
}

// AccessTokens lists the caller's personal access tokens that are not revoked.
func (c *Client) AccessTokens(ctx context.Context) ([]*AccessToken, error) {
	var out struct {
		Tokens []*AccessToken `json:"tokens"`
	}
	if err := c.do(ctx, "GET", "/api/v1/users/me/tokens", nil, &out); err != nil {
		return nil, err
	}
	return out.Tokens, nil
}

// RevokeToken revokes one of the caller's personal access tokens.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	if err := need("revoke token", id); err != nil {
		return err
	}
	return c.do(ctx, "DELETE", "/api/v1/users/me/tokens/"+esc(id), nil, nil)
}

// SetBreakGlass marks or unmarks a user as break-glass (admins).
func (c *Client) SetBreakGlass(ctx context.Context, userID string, on bool) error {
	if err := need("break-glass", userID); err != nil {
		return err
	}
	return c.do(ctx, "PUT", "/api/v1/admin/users/"+esc(userID)+"/break-glass", map[string]bool{"break_glass": on}, nil)
}

// Passkey is one of the caller's passkeys. Registering one and signing in
// with one need an authenticator, so they happen in a browser; the client
// lists, renames and removes them.
type Passkey struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	BackupEligible bool       `json:"backup_eligible"`
	SignCount      uint32     `json:"sign_count"`
	CreatedAt      time.Time  `json:"created_at"`
	LastUsedAt     *time.Time `json:"last_used_at,omitempty"`
}

// Passkeys lists the caller's passkeys, oldest first.
func (c *Client) Passkeys(ctx context.Context) ([]*Passkey, error) {
	var out struct {
		Passkeys []*Passkey `json:"passkeys"`
	}
	if err := c.do(ctx, "GET", "/api/v1/users/me/passkeys", nil, &out); err != nil {
		return nil, err
	}
	return out.Passkeys, nil
}

// RenamePasskey renames one of the caller's passkeys.
func (c *Client) RenamePasskey(ctx context.Context, id, name string) (*Passkey, error) {
	if err := need("rename passkey", id); err != nil {
		return nil, err
	}
	var out struct {
		Passkey *Passkey `json:"passkey"`
	}
	if err := c.do(ctx, "PATCH", "/api/v1/users/me/passkeys/"+esc(id), map[string]string{"name": name}, &out); err != nil {
		return nil, err
	}
	return out.Passkey, nil
}

// RemovePasskey removes one of the caller's passkeys; it stops signing in
// at once.
func (c *Client) RemovePasskey(ctx context.Context, id string) error {
	if err := need("remove passkey", id); err != nil {
		return err
	}
	return c.do(ctx, "DELETE", "/api/v1/users/me/passkeys/"+esc(id), nil, nil)
}
