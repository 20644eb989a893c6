package unhidra

import (
	"encoding/json"
	"time"
)

// Event is one durable channel event as the API returns it (GET
// /api/v1/channels/{id}/events): every change in a channel is one, with
// the channel's next gap-free seq (API.md "Channel events and seq"). Frame
// is the WebSocket frame a socket receives for it (package wire): a JSON
// object with top-level "type", "channel_id" and "seq".
type Event struct {
	ChannelID string          `json:"channel_id"`
	Seq       int64           `json:"seq"`
	Type      string          `json:"type"`
	Frame     json.RawMessage `json:"frame"`
	CreatedAt time.Time       `json:"created_at"`
}
