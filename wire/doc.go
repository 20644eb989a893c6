// Package wire is the Unhidra real-time protocol, in one place: every
// WebSocket frame in both directions (API.md "Real-time", docs/api.md),
// the subprotocols and close codes, the metadata that travels beside a
// channel event's frame on the bus, and the bus subject names. The chat
// service builds its frames here, the gateway decodes client frames and
// routes events here, and the Go client decodes server frames here, so a
// frame is described once.
//
// It is pure code with no I/O and no logging, so every decoder can be
// fuzzed and any transport or client can share it.
//
// Client frames are decoded strictly (Decode): one JSON object, a known
// type, no unknown fields, only the fields of that type, each of the right
// JSON type, and bounds on what one frame may ask the server to do. What a
// field's value means (a valid client_msg_id, a body within the size limit,
// a channel the caller may post to) is decided by the service the frame
// goes to, exactly as for the same request over REST, so both transports
// give the same error for the same input.
package wire
