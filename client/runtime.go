package client

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// Setting is one runtime setting as an admin sees it (docs/api.md
// "Administration"): Value and Default are a string or a number (float64).
type Setting struct {
	Key         string     `json:"key"`
	Value       any        `json:"value"`
	Default     any        `json:"default"`
	Source      string     `json:"source"` // "default" or "override"
	Description string     `json:"description"`
	Type        string     `json:"type"` // "string" or "integer"
	Choices     []string   `json:"choices,omitempty"`
	Min         *int       `json:"min,omitempty"`
	Max         *int       `json:"max,omitempty"`
	Flag        string     `json:"flag"`
	UpdatedAt   *time.Time `json:"updated_at,omitempty"`
	UpdatedBy   string     `json:"updated_by,omitempty"`
}

// Settings lists the runtime settings; admins only.
func (c *Client) Settings(ctx context.Context) ([]Setting, error) {
	var out struct {
		Settings []Setting `json:"settings"`
	}
	err := c.do(ctx, "GET", "/api/v1/admin/settings", nil, &out)
	return out.Settings, err
}

// UpdateSettings changes settings, all or nothing: a value sets an
// override, nil returns the setting to its default. Admins only.
func (c *Client) UpdateSettings(ctx context.Context, patch map[string]any) ([]Setting, error) {
	var out struct {
		Settings []Setting `json:"settings"`
	}
	err := c.do(ctx, "PATCH", "/api/v1/admin/settings", patch, &out)
	return out.Settings, err
}

// Connection is one live WebSocket of the install.
type Connection struct {
	ID        string    `json:"id"`
	NodeID    string    `json:"node_id"`
	UserID    string    `json:"user_id"`
	Username  string    `json:"username"`
	SessionID string    `json:"session_id"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	Since     time.Time `json:"since"`
	FramesIn  int64     `json:"frames_in"`
	FramesOut int64     `json:"frames_out"`
	Status    string    `json:"status"`
	Channels  int       `json:"channels"`
}

// Connections is a page of live WebSockets across every node.
type Connections struct {
	Connections []Connection `json:"connections"`
	NextCursor  string       `json:"next_cursor,omitempty"`
	// Unreachable names nodes that did not answer in time.
	Unreachable []string `json:"unreachable_nodes"`
}

// AdminConnections lists live WebSockets of every node, oldest first:
// userID's only if set, limit per page (0: the server's default), after
// cursor (a NextCursor). Admins only.
func (c *Client) AdminConnections(ctx context.Context, userID, cursor string, limit int) (*Connections, error) {
	q := url.Values{}
	if userID != "" {
		q.Set("user_id", userID)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/api/v1/admin/connections"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out Connections
	if err := c.do(ctx, "GET", path, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CloseConnection closes one live WebSocket, on whichever node holds it,
// with 4010; the session stays valid. Admins only.
func (c *Client) CloseConnection(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/api/v1/admin/connections/"+url.PathEscape(id), nil, nil)
}
