package client

import (
	"context"
	"net/url"
	"time"
)

// Hold is a legal hold (docs/api.md "Administration").
type Hold struct {
	Kind      string    `json:"kind"`
	TargetID  string    `json:"target_id"`
	Reason    string    `json:"reason"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// SetChannelRetention sets how many days a channel keeps its messages (0:
// forever); admins only.
func (c *Client) SetChannelRetention(ctx context.Context, channelID string, days int) error {
	return c.do(ctx, "PUT", "/api/v1/admin/channels/"+url.PathEscape(channelID)+"/retention", map[string]int{"days": days}, nil)
}

// PlaceHold puts a user ("user") or a channel ("channel") on legal hold;
// admins only.
func (c *Client) PlaceHold(ctx context.Context, kind, id, reason string) (*Hold, error) {
	var out struct {
		Hold *Hold `json:"hold"`
	}
	in := map[string]string{}
	if reason != "" {
		in["reason"] = reason
	}
	if err := c.do(ctx, "PUT", "/api/v1/admin/legal-holds/"+url.PathEscape(kind)+"/"+url.PathEscape(id), in, &out); err != nil {
		return nil, err
	}
	return out.Hold, nil
}

// ReleaseHold ends a legal hold; admins only.
func (c *Client) ReleaseHold(ctx context.Context, kind, id string) error {
	return c.do(ctx, "DELETE", "/api/v1/admin/legal-holds/"+url.PathEscape(kind)+"/"+url.PathEscape(id), nil, nil)
}

// Holds lists the legal holds; admins only.
func (c *Client) Holds(ctx context.Context) ([]Hold, error) {
	var out struct {
		Holds []Hold `json:"holds"`
	}
	err := c.do(ctx, "GET", "/api/v1/admin/legal-holds", nil, &out)
	return out.Holds, err
}

// SweepRetention deletes every expired message now and says how many;
// admins only.
func (c *Client) SweepRetention(ctx context.Context) (int, error) {
	var out struct {
		Deleted int `json:"deleted"`
	}
	err := c.do(ctx, "POST", "/api/v1/admin/retention/sweep", nil, &out)
	return out.Deleted, err
}
