package client

import (
	"context"
	"net/url"
	"time"

	"github.com/unhidra/unhidra"
)

// Deletion is the answer to AdminDeleteUser.
type Deletion struct {
	// User is what remains of the account: Deleted, display name
	// "Deleted user".
	User *unhidra.User `json:"user"`
	Mode string        `json:"mode"`
	// Messages is how many of the user's messages were not deleted when
	// the account was: kept (anonymise) or erased (erase).
	Messages int `json:"messages"`
	// Pending says the server is still purging the user's channels and
	// messages; it finishes in the background.
	Pending bool `json:"pending"`
}

// AdminDeleteUser deletes an account (admins only): mode is
// unhidra.DeleteAnonymise (its messages stay, shown as "Deleted user") or
// unhidra.DeleteErase (they are deleted too).
func (c *Client) AdminDeleteUser(ctx context.Context, userID, mode string) (*Deletion, error) {
	if err := need("user", userID); err != nil {
		return nil, err
	}
	var out Deletion
	if err := c.do(ctx, "DELETE", "/api/v1/admin/users/"+esc(userID), map[string]string{"mode": mode}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AdminChannel is a public or private channel as the admins' list shows it.
type AdminChannel struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	Kind           string     `json:"kind"`
	Encrypted      bool       `json:"encrypted"`
	Archived       bool       `json:"archived"`
	ArchivedAt     *time.Time `json:"archived_at,omitempty"`
	CreatedBy      string     `json:"created_by"`
	CreatedAt      time.Time  `json:"created_at"`
	MemberCount    int        `json:"member_count"`
	LastSeq        int64      `json:"last_seq"`
	LastActivityAt *time.Time `json:"last_activity_at,omitempty"`
}

// AdminChannelPage is one page of AdminChannels.
type AdminChannelPage struct {
	Channels   []*AdminChannel `json:"channels"`
	NextCursor string          `json:"next_cursor,omitempty"`
	// DirectCount is how many direct channels the server has (they are
	// not listed).
	DirectCount int `json:"direct_count"`
}

// AdminChannels lists every public and private channel whose name
// contains q (admins only).
func (c *Client) AdminChannels(ctx context.Context, q string, opts ListOptions) (*AdminChannelPage, error) {
	var out AdminChannelPage
	if err := c.do(ctx, "GET", "/api/v1/admin/channels"+query("q", q, "cursor", opts.Cursor, "limit", opts.limit()), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AdminChannelMembers lists the members of any public or private channel
// (admins only).
func (c *Client) AdminChannelMembers(ctx context.Context, channelID string, opts ListOptions) ([]*unhidra.Member, string, error) {
	if err := need("channel", channelID); err != nil {
		return nil, "", err
	}
	var out struct {
		Members    []*unhidra.Member `json:"members"`
		NextCursor string            `json:"next_cursor,omitempty"`
	}
	err := c.do(ctx, "GET", "/api/v1/admin/channels/"+url.PathEscape(channelID)+"/members"+query("cursor", opts.Cursor, "limit", opts.limit()), nil, &out)
	return out.Members, out.NextCursor, err
}

// AdminArchiveChannel archives any public or private channel (admins only).
func (c *Client) AdminArchiveChannel(ctx context.Context, channelID string) error {
	if err := need("channel", channelID); err != nil {
		return err
	}
	return c.do(ctx, "POST", "/api/v1/admin/channels/"+url.PathEscape(channelID)+"/archive", nil, nil)
}
