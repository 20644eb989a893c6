package httpapi_test

import (
	"strings"
	"testing"
)

// TestChatBadInput sends malformed bodies, unknown fields, wrong types,
// oversized bodies and missing tokens to every chat endpoint that takes a
// body, and checks the answer and that nothing changed.
func TestChatBadInput(t *testing.T) {
	e := newChatEnv(t, "sqlite")
	ch := e.createChannel(t, "bob", "bad", "public")
	m := e.send(t, "bob", ch.ID, "m1", "hello")
	c, msg := "/api/v1/channels/"+ch.ID, "/api/v1/messages/"+m.ID
	endpoints := []struct{ method, path, wrongType string }{
		{"POST", "/api/v1/channels", `{"kind":7}`},
		{"PATCH", c, `{"name":["x"]}`},
		{"PUT", c + "/members/" + e.carol.ID, `{"role":1}`},
		{"PATCH", c + "/prefs", `{"muted":"yes"}`},
		{"POST", c + "/messages", `{"client_msg_id":"x","body":5}`},
		{"POST", c + "/read", `{"seq":"1"}`},
		{"PATCH", msg, `{"body":{}}`},
	}
	snapshot := func() string {
		return string(e.as(t, "bob", "GET", c+"/events").expect(200, nil).Body) +
			string(e.as(t, "bob", "GET", "/api/v1/channels").expect(200, nil).Body)
	}
	before := snapshot()
	for _, ep := range endpoints {
		t.Run(ep.method+ep.path, func(t *testing.T) {
			newCall(t, e.n, ep.method, ep.path).json(map[string]any{}).expectError(401, "unauthenticated")
			for name, body := range map[string]string{
				"malformed": `{"body":`, "array": `[]`, "unknown": `{"surprise":1}`, "trailing": `{} {}`, "wrong_type": ep.wrongType,
			} {
				t.Run(name, func(t *testing.T) { e.as(t, "bob", ep.method, ep.path).raw(body).expectError(400, "invalid_argument") })
			}
			t.Run("oversized", func(t *testing.T) {
				e.as(t, "bob", ep.method, ep.path).raw(`{"body":"`+strings.Repeat("a", 2<<20)+`"}`).expectError(413, "payload_too_large")
			})
		})
	}
	for name, body := range map[string]string{
		"no_client_msg_id":       `{"body":"x"}`,
		"bad_client_msg_id":      `{"client_msg_id":"a b","body":"x"}`,
		"long_client_msg_id":     `{"client_msg_id":"` + strings.Repeat("a", 65) + `","body":"x"}`,
		"blank_body":             `{"client_msg_id":"z","body":"   "}`,
		"ciphertext_in_standard": `{"client_msg_id":"z","ciphertext":"aGk="}`,
		"control_chars":          `{"client_msg_id":"z","body":"a\u0000b"}`,
		"bad_thread_root":        `{"client_msg_id":"z","body":"x","thread_root_id":"nope"}`,
	} {
		t.Run("send/"+name, func(t *testing.T) {
			e.as(t, "bob", "POST", c+"/messages").raw(body).expectError(400, "invalid_argument")
		})
	}
	for _, q := range []string{"/api/v1/channels/" + ch.ID + "/messages?after=-1", "/api/v1/channels/" + ch.ID + "/messages?after=1&before=3",
		"/api/v1/channels/" + ch.ID + "/messages?limit=201", "/api/v1/search?q=", "/api/v1/search?q=x&cursor=***"} {
		e.as(t, "bob", "GET", q).expectError(400, "invalid_argument")
	}
	if after := snapshot(); after != before {
		t.Fatalf("bad input changed state:\nbefore %s\nafter  %s", before, after)
	}
}
