package client

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/unhidra/unhidra"
)

// tokenResponse is the answer of login and refresh.
type tokenResponse struct {
	AccessToken  string        `json:"access_token"`
	RefreshToken string        `json:"refresh_token"`
	ExpiresIn    int           `json:"expires_in"`
	SessionID    string        `json:"session_id"`
	User         *unhidra.User `json:"user"`
	MFARequired  bool          `json:"mfa_required"`
	MFATicket    string        `json:"mfa_ticket"`
}

type userEnvelope struct {
	User *unhidra.User `json:"user"`
}

// RegisterInput is a new account.
type RegisterInput struct {
	Username    string `json:"username"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name,omitempty"`
	SetupToken  string `json:"setup_token,omitempty"` // the one-time token that makes the first admin
	Invite      string `json:"invite,omitempty"`      // servers with --registration invite
}

// Register creates an account. It does not sign in.
func (c *Client) Register(ctx context.Context, in RegisterInput) (*unhidra.User, error) {
	var out userEnvelope
	if err := c.send(ctx, "POST", "/api/v1/auth/register", "", in, &out); err != nil {
		return nil, err
	}
	return out.User, nil
}

// Login signs in, replacing any tokens the client held, and saves the new
// tokens in the TokenStore.
func (c *Client) Login(ctx context.Context, username, password string) (*unhidra.User, error) {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	var out tokenResponse
	in := map[string]string{"username": username, "password": password}
	if err := c.send(ctx, "POST", "/api/v1/auth/login", "", in, &out); err != nil {
		return nil, err
	}
	if out.MFARequired {
		return nil, &MFARequiredError{Ticket: out.MFATicket, ExpiresIn: out.ExpiresIn}
	}
	if out.AccessToken == "" || out.RefreshToken == "" {
		return nil, errors.New("login: the server answered without tokens")
	}
	if err := c.adoptLocked(ctx, out); err != nil {
		return out.User, err
	}
	return out.User, nil
}

// Logout ends the session on the server and forgets the tokens (saving
// empty tokens in the TokenStore). The tokens are forgotten even when the
// server cannot be told, since the caller asked to be signed out; the error
// then says the session may still be live.
func (c *Client) Logout(ctx context.Context) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	t := c.Tokens()
	var err error
	switch {
	case t.RefreshToken != "":
		// The refresh token names the session even when the access token
		// has expired, so no refresh (and no rotation) is needed first.
		err = c.send(ctx, "POST", "/api/v1/auth/logout", "", map[string]string{"refresh_token": t.RefreshToken}, nil)
	case t.AccessToken != "":
		err = c.send(ctx, "POST", "/api/v1/auth/logout", t.AccessToken, nil, nil)
	}
	if IsCode(err, CodeUnauthenticated) {
		err = nil // the session had already ended
	}
	c.mu.Lock()
	c.tokens = Tokens{}
	c.mu.Unlock()
	if c.store != nil {
		if serr := c.store.SaveTokens(ctx, Tokens{}); serr != nil && err == nil {
			err = serr
		}
	}
	return err
}

// Me returns the signed-in user.
func (c *Client) Me(ctx context.Context) (*unhidra.User, error) {
	var out userEnvelope
	if err := c.do(ctx, "GET", "/api/v1/users/me", nil, &out); err != nil {
		return nil, err
	}
	return out.User, nil
}

// ProfileUpdate changes the caller's profile; nil fields are left alone.
type ProfileUpdate struct {
	DisplayName *string `json:"display_name,omitempty"`
	StatusText  *string `json:"status_text,omitempty"`
}

// UpdateMe changes the caller's profile.
func (c *Client) UpdateMe(ctx context.Context, in ProfileUpdate) (*unhidra.User, error) {
	var out userEnvelope
	if err := c.do(ctx, "PATCH", "/api/v1/users/me", in, &out); err != nil {
		return nil, err
	}
	return out.User, nil
}

// ChangePassword changes the caller's password; the server revokes every
// other session of the user.
func (c *Client) ChangePassword(ctx context.Context, oldPassword, newPassword string) error {
	in := map[string]string{"old_password": oldPassword, "new_password": newPassword}
	return c.do(ctx, "POST", "/api/v1/users/me/password", in, nil)
}

// Sessions lists the caller's live sessions; Current marks this one.
func (c *Client) Sessions(ctx context.Context) ([]*unhidra.Session, error) {
	var out struct {
		Sessions []*unhidra.Session `json:"sessions"`
	}
	if err := c.do(ctx, "GET", "/api/v1/users/me/sessions", nil, &out); err != nil {
		return nil, err
	}
	return out.Sessions, nil
}

// RevokeSession ends one of the caller's sessions.
func (c *Client) RevokeSession(ctx context.Context, id string) error {
	if err := need("revoke session", id); err != nil {
		return err
	}
	return c.do(ctx, "DELETE", "/api/v1/users/me/sessions/"+esc(id), nil, nil)
}

// RevokeOtherSessions ends every session of the caller but this one and
// returns how many ended.
func (c *Client) RevokeOtherSessions(ctx context.Context) (int, error) {
	var out struct {
		Revoked int `json:"revoked"`
	}
	err := c.do(ctx, "DELETE", "/api/v1/users/me/sessions", nil, &out)
	return out.Revoked, err
}

// User returns a user by ID.
func (c *Client) User(ctx context.Context, id string) (*unhidra.User, error) {
	if err := need("user", id); err != nil {
		return nil, err
	}
	var out userEnvelope
	if err := c.do(ctx, "GET", "/api/v1/users/"+esc(id), nil, &out); err != nil {
		return nil, err
	}
	return out.User, nil
}

// ListOptions pages through a cursor-paginated list.
type ListOptions struct {
	Cursor string
	Limit  int // 0: the server's default (50); at most 200
}

func (o ListOptions) limit() string {
	if o.Limit <= 0 {
		return ""
	}
	return strconv.Itoa(o.Limit)
}

// UserPage is one page of users.
type UserPage struct {
	Users      []*unhidra.User `json:"users"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// SearchUsers finds users whose username or display name contains q.
func (c *Client) SearchUsers(ctx context.Context, q string, opts ListOptions) (*UserPage, error) {
	var out UserPage
	if err := c.do(ctx, "GET", "/api/v1/users"+query("q", q, "cursor", opts.Cursor, "limit", opts.limit()), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UserByUsername finds the user with exactly this username (compared
// case-insensitively, as the server does). It answers a not_found *Error
// when there is none.
func (c *Client) UserByUsername(ctx context.Context, username string) (*unhidra.User, error) {
	username = strings.TrimPrefix(username, "@")
	if username == "" {
		return nil, need("user by username", username)
	}
	opts := ListOptions{Limit: 200}
	// Search is a substring match ordered by username, so the exact name
	// is usually on the first page; the bound keeps a crowded server from
	// turning one lookup into a crawl.
	for range 10 {
		page, err := c.SearchUsers(ctx, username, opts)
		if err != nil {
			return nil, err
		}
		for _, u := range page.Users {
			if strings.EqualFold(u.Username, username) {
				return u, nil
			}
		}
		if page.NextCursor == "" {
			break
		}
		opts.Cursor = page.NextCursor
	}
	return nil, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no user named " + username}
}
