package auth

import (
	"context"
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"github.com/unhidra/unhidra"
)

// User returns any user's public profile to a signed-in caller.
func (s *Service) User(ctx context.Context, id string) (*unhidra.User, error) {
	if _, err := caller(ctx); err != nil {
		return nil, err
	}
	if id == "" || len(id) > 64 {
		return nil, unhidra.Errorf(unhidra.ENotFound, "no such user")
	}
	u, err := s.cfg.Store.UserByID(ctx, id)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return nil, unhidra.Errorf(unhidra.ENotFound, "no such user")
	}
	return u, err
}

// SearchUsers finds users by username or display name. cursor is the
// next_cursor of a previous page.
func (s *Service) SearchUsers(ctx context.Context, q, cursor string, limit int) (users []*unhidra.User, next string, err error) {
	if _, err := caller(ctx); err != nil {
		return nil, "", err
	}
	if utf8.RuneCountInString(q) > 64 || !utf8.ValidString(q) {
		return nil, "", unhidra.Errorf(unhidra.EInvalid, "q must be at most 64 characters")
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	users, err = s.cfg.Store.SearchUsers(ctx, strings.ToLower(q), after, limit+1, false)
	if err != nil {
		return nil, "", err
	}
	if len(users) > limit {
		users = users[:limit]
		next = encodeCursor(strings.ToLower(users[len(users)-1].Username))
	}
	return users, next, nil
}

func encodeCursor(after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(after))
}

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || unhidra.CheckParam("cursor", string(b), 64) != nil {
		return "", unhidra.Errorf(unhidra.EInvalid, "cursor is not valid")
	}
	return string(b), nil
}
