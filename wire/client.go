package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/unhidra/unhidra"
)

// ClientFrame is one client frame; which fields are set depends on Type. A
// client builds one and marshals it (empty fields are omitted); the server
// reads one with Decode.
type ClientFrame struct {
	Type string `json:"type"`
	// Ref is an optional client-chosen correlation id echoed in an error.
	Ref string `json:"ref,omitempty"`

	// send
	ClientMsgID  string   `json:"client_msg_id,omitempty"`
	ChannelID    string   `json:"channel_id,omitempty"` // send, typing, read
	Body         string   `json:"body,omitempty"`
	Ciphertext   string   `json:"ciphertext,omitempty"`
	ThreadRootID string   `json:"thread_root_id,omitempty"`
	Attachments  []string `json:"attachments,omitempty"`

	// read
	Seq *int64 `json:"seq,omitempty"`
	// presence
	Status string `json:"status,omitempty"`
	// resume
	Positions map[string]int64 `json:"positions,omitempty"`
	// auth
	AccessToken string `json:"access_token,omitempty"`
	// to_device_ack
	IDs []string `json:"ids,omitempty"`
}

// Encode returns the frame's JSON.
func (f *ClientFrame) Encode() []byte { return Encode(f) }

// ErrorRef returns the reference an error frame about f should carry: the
// client_msg_id of a send, else the frame's ref.
func (f *ClientFrame) ErrorRef() string {
	if f == nil {
		return ""
	}
	if f.Type == TypeSend && f.ClientMsgID != "" {
		return clip(f.ClientMsgID, MaxRefLength)
	}
	return f.Ref
}

func invalid(format string, args ...any) *unhidra.Error {
	return unhidra.Errorf(unhidra.EInvalid, format, args...)
}

// Decode parses one client frame and checks its shape (see the package
// documentation). On error the returned frame, when not nil, still carries
// what could be read, for the error's ref.
func Decode(data []byte) (*ClientFrame, error) {
	if !utf8.Valid(data) {
		return nil, invalid("a frame must be valid UTF-8 JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f ClientFrame
	if err := dec.Decode(&f); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute) && ute.Field != "":
			return nil, invalid("field %s has the wrong type", clip(ute.Field, 32))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return nil, invalid("unknown field %s", clip(strings.TrimPrefix(err.Error(), "json: unknown field "), 32))
		default:
			return nil, invalid("a frame must be one JSON object")
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid("a frame must be one JSON object")
	}
	if len(f.Ref) > MaxRefLength || unhidra.CheckParam("ref", f.Ref, MaxRefLength) != nil {
		f.Ref = ""
		return &f, invalid("ref must be at most %d characters of text", MaxRefLength)
	}
	return &f, f.validate()
}

// clip bounds a client-supplied string quoted in an error message.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.ToValidUTF8(s, "")
}

// only reports an error when any field outside allowed is set, so that a
// frame of one type cannot smuggle fields of another.
func (f *ClientFrame) only(allowed ...string) error {
	set := [...]struct {
		name string
		on   bool
	}{
		{"client_msg_id", f.ClientMsgID != ""},
		{"channel_id", f.ChannelID != ""},
		{"body", f.Body != ""},
		{"ciphertext", f.Ciphertext != ""},
		{"thread_root_id", f.ThreadRootID != ""},
		{"attachments", f.Attachments != nil},
		{"seq", f.Seq != nil},
		{"status", f.Status != ""},
		{"positions", f.Positions != nil},
		{"access_token", f.AccessToken != ""},
		{"ids", f.IDs != nil},
	}
outer:
	for _, s := range set {
		if !s.on {
			continue
		}
		for _, a := range allowed {
			if a == s.name {
				continue outer
			}
		}
		return invalid("a %s frame has no field %s", f.Type, s.name)
	}
	return nil
}

// ClientFrameSpec is what a client frame of one type may carry and must
// carry.
type ClientFrameSpec struct {
	Type string
	// Fields are the JSON fields the frame may carry besides type and
	// ref. Decode refuses any other, so that a frame of one type cannot
	// smuggle fields of another.
	Fields []string
	// Required are those of Fields without which the frame fails. Decode
	// refuses a frame without its seq, status, positions or access_token;
	// channel_id and client_msg_id are judged by the service the frame
	// goes to, exactly as over REST, so both give one error.
	Required []string
}

// clientFrames is the table Decode checks frames against; it is never
// written.
var clientFrames = [...]ClientFrameSpec{
	{TypeSend, []string{"client_msg_id", "channel_id", "body", "ciphertext", "thread_root_id", "attachments"}, []string{"client_msg_id", "channel_id"}},
	{TypeTyping, []string{"channel_id"}, []string{"channel_id"}},
	{TypeRead, []string{"channel_id", "seq"}, []string{"channel_id", "seq"}},
	{TypePresence, []string{"status"}, []string{"status"}},
	{TypeResume, []string{"positions"}, []string{"positions"}},
	{TypeAuth, []string{"access_token"}, []string{"access_token"}},
	{TypeToDeviceAck, []string{"ids"}, nil},
	{TypePing, nil, nil},
}

// ClientFrames lists every client frame type, in the order of the
// constants, as Decode checks them: for tools that describe the protocol
// (the web client's TypeScript types).
func ClientFrames() []ClientFrameSpec {
	out := make([]ClientFrameSpec, len(clientFrames))
	for i, s := range clientFrames {
		out[i] = ClientFrameSpec{s.Type, slices.Clone(s.Fields), slices.Clone(s.Required)}
	}
	return out
}

// ClientPresenceStatuses are the statuses a client may set: offline is
// what the server says of a user with no socket.
func ClientPresenceStatuses() []string { return []string{StatusOnline, StatusAway, StatusDND} }

// validate checks the fields of f's type: presence where the frame means
// nothing without them, and the bounds of the package. Values that a
// service judges (ids, bodies, seqs) are left to it.
func (f *ClientFrame) validate() error {
	if f.Type == "" {
		return invalid("type is required")
	}
	i := slices.IndexFunc(clientFrames[:], func(s ClientFrameSpec) bool { return s.Type == f.Type })
	if i < 0 {
		return invalid("unknown frame type %q", clip(f.Type, 32))
	}
	if err := f.only(clientFrames[i].Fields...); err != nil {
		return err
	}
	switch f.Type {
	case TypeSend:
		if len(f.Attachments) > MaxAttachments {
			return invalid("at most %d attachments", MaxAttachments)
		}
	case TypeRead:
		if f.Seq == nil {
			return invalid("seq is required")
		}
	case TypePresence:
		switch f.Status {
		case StatusOnline, StatusAway, StatusDND: // ClientPresenceStatuses
		default:
			return invalid("status must be online, away or dnd")
		}
	case TypeResume:
		if f.Positions == nil {
			return invalid("positions is required")
		}
		if len(f.Positions) > MaxPositions {
			return invalid("at most %d positions", MaxPositions)
		}
		for ch, seq := range f.Positions {
			if err := unhidra.CheckID("a positions key", ch); err != nil {
				return err
			}
			if seq < 0 {
				return invalid("positions must be non-negative")
			}
		}
	case TypeAuth:
		if f.AccessToken == "" || len(f.AccessToken) > MaxTokenLength {
			return invalid("access_token is required (at most %d characters)", MaxTokenLength)
		}
	case TypeToDeviceAck:
		if len(f.IDs) > MaxAckIDs {
			return invalid("at most %d ids", MaxAckIDs)
		}
		for _, id := range f.IDs {
			if err := unhidra.CheckID("ids", id); err != nil {
				return err
			}
		}
	}
	return nil
}
