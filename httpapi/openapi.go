package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/internal/jsonshape"
)

// opDoc documents one route for the OpenAPI document. Request and response
// schemas are derived from the very Go types the handlers decode and encode,
// so the document cannot drift from the code.
type opDoc struct {
	summary string
	tag     string
	req     any // zero value of the request body type, or nil
	resp    any // zero value of the 2xx response body type, or nil for no body
	status  int // success status; default 200 (204 when resp is nil)
	query   []param
	raw     string // content type of a non-JSON response
}

// successStatus is the status of a successful answer: 200, or 204 when
// there is no body, unless the route says otherwise.
func (d opDoc) successStatus() int {
	switch {
	case d.raw != "":
		return 200
	case d.status != 0:
		return d.status
	case d.resp == nil:
		return 204
	}
	return 200
}

type param struct {
	name, desc string
}

var (
	limitParam  = param{"limit", "page size, 1 to 200 (default 50)"}
	cursorParam = param{"cursor", "next_cursor of the previous page"}
)

type statusResponse struct {
	Status string `json:"status"`
}

var (
	docHealthz = opDoc{summary: "Process is alive", tag: "operations", resp: statusResponse{}}
	docReadyz  = opDoc{summary: "Storage answers; 503 when not", tag: "operations", resp: statusResponse{}}
	docMetrics = opDoc{summary: "Prometheus metrics", tag: "operations", raw: "text/plain"}
	docJWKS    = opDoc{summary: "Public keys that verify access tokens (JWKS)", tag: "operations", raw: "application/json"}
	docOpenAPI = opDoc{summary: "This document", tag: "operations", raw: "application/json"}

	docRegister = opDoc{summary: "Register an account (setup_token makes the first admin)", tag: "accounts", req: registerRequest{}, resp: userResponse{}, status: 201}
	docLogin    = opDoc{summary: "Log in; with cookie:true the refresh token is set as an HttpOnly cookie", tag: "accounts", req: loginRequest{}, resp: tokenResponse{}}
	docRefresh  = opDoc{summary: "Rotate a refresh token (body or cookie + X-Unhidra-CSRF: 1)", tag: "accounts", req: refreshRequest{}, resp: tokenResponse{}}
	docLogout   = opDoc{summary: "Revoke the current session (by access token, refresh token or cookie)", tag: "accounts", req: logoutRequest{}}

	docMe                  = opDoc{summary: "The caller's account", tag: "users", resp: userResponse{}}
	docUpdateMe            = opDoc{summary: "Change the caller's profile", tag: "users", req: updateMeRequest{}, resp: userResponse{}}
	docChangePassword      = opDoc{summary: "Change password; revokes the caller's other sessions", tag: "users", req: changePasswordRequest{}}
	docListSessions        = opDoc{summary: "The caller's live sessions", tag: "users", resp: sessionsResponse{}}
	docRevokeSession       = opDoc{summary: "Revoke one of the caller's sessions", tag: "users"}
	docRevokeOtherSessions = opDoc{summary: "Revoke every session of the caller but the current one", tag: "users", resp: revokedResponse{}}
	docGetUser             = opDoc{summary: "A user's profile", tag: "users", resp: userResponse{}}
	docSearchUsers         = opDoc{summary: "Search users by username or display name", tag: "users", resp: usersResponse{},
		query: []param{{"q", "text to find in usernames and display names"}, cursorParam, limitParam}}

	docCreateInvite = opDoc{summary: "Create an invite (admins)", tag: "invites", req: createInviteRequest{}, resp: inviteResponse{}, status: 201}
	docListInvites  = opDoc{summary: "List invites (admins)", tag: "invites", resp: invitesResponse{}}
	docDeleteInvite = opDoc{summary: "Withdraw an invite (admins)", tag: "invites"}

	docAdminListUsers      = opDoc{summary: "List all users (admins)", tag: "admin", resp: usersResponse{}, query: []param{cursorParam, limitParam}}
	docAdminUpdateUser     = opDoc{summary: "Change a user's role or disable them (admins)", tag: "admin", req: adminUpdateUserRequest{}, resp: userResponse{}}
	docAdminRevokeSessions = opDoc{summary: "Sign a user out everywhere: every session ends, their sockets close with 4001 (admins)", tag: "admin", resp: revokedResponse{}}
)

var pathParamRE = regexp.MustCompile(`\{([a-z_]+)\}`)

// openAPI builds the OpenAPI 3.1 document from the route table.
func (s *Server) openAPI() map[string]any {
	schemas := map[string]any{
		"Error": map[string]any{
			"type": "object", "required": []string{"error"},
			"properties": map[string]any{"error": map[string]any{
				"type": "object", "required": []string{"code", "message"},
				"properties": map[string]any{
					"code":    map[string]any{"type": "string", "enum": []string{unhidra.EInvalid, unhidra.EUnauthenticated, unhidra.EPermission, unhidra.ENotFound, unhidra.EConflict, unhidra.ETooLarge, unhidra.ERateLimited, unhidra.EInternal, unhidra.EUnavailable}},
					"message": map[string]any{"type": "string"},
				},
			}},
		},
	}
	g := &schemaGen{defs: schemas}
	paths := map[string]any{}
	for _, rt := range s.routes {
		item, _ := paths[rt.pattern].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.pattern] = item
		}
		d := rt.doc
		op := map[string]any{"summary": d.summary, "tags": []string{d.tag}, "operationId": strings.ToLower(rt.method) + opName(rt.pattern)}
		var params []any
		for _, m := range pathParamRE.FindAllStringSubmatch(rt.pattern, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range d.query {
			params = append(params, map[string]any{"name": q.name, "in": "query", "description": q.desc, "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if d.req != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(d.req))}}}
		}
		status := d.successStatus()
		resp := map[string]any{}
		switch {
		case d.raw != "":
			resp["content"] = map[string]any{d.raw: map[string]any{}}
		case d.resp != nil:
			resp["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(d.resp))}}
		}
		resp["description"] = http.StatusText(status)
		errResp := map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
		op["responses"] = map[string]any{itoa(status): resp, "default": errResp}
		if rt.auth == user || rt.auth == session {
			op["security"] = []any{map[string]any{"bearer": []string{}}}
		} else if rt.auth == optional {
			op["security"] = []any{map[string]any{"bearer": []string{}}, map[string]any{}}
		}
		item[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title": "Unhidra API", "version": "v1",
			"description": "Self-hosted secure team chat in which IoT devices are participants. Errors are {\"error\": {\"code\", \"message\"}} with the codes listed in the Error schema.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas":         schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
		},
	}
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	s.openAPIOnce.Do(func() { s.openAPIDoc, _ = json.MarshalIndent(s.openAPI(), "", "  ") })
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Write(s.openAPIDoc)
	return nil
}

func opName(pattern string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(pattern, func(r rune) bool { return r == '/' || r == '.' || r == '-' || r == '_' }) {
		part = strings.Trim(part, "{}")
		if part == "api" || part == "v1" || part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func itoa(n int) string { return strconv.Itoa(n) }

// schemaGen derives JSON Schemas from Go types, naming struct types of the
// unhidra package as shared components.
type schemaGen struct {
	defs map[string]any
	mu   sync.Mutex
}

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	t = jsonshape.Deref(t)
	switch jsonshape.Of(t) {
	case jsonshape.Time:
		return map[string]any{"type": "string", "format": "date-time"}
	case jsonshape.Raw:
		// Embedded JSON (an event's frame): an object, not bytes.
		return map[string]any{"type": "object", "description": "a WebSocket frame (docs/api.md)"}
	case jsonshape.String:
		return map[string]any{"type": "string"}
	case jsonshape.Bool:
		return map[string]any{"type": "boolean"}
	case jsonshape.Integer:
		return map[string]any{"type": "integer"}
	case jsonshape.Number:
		return map[string]any{"type": "number"}
	case jsonshape.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case jsonshape.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case jsonshape.Object:
		if t.PkgPath() == reflect.TypeOf(unhidra.User{}).PkgPath() {
			name := t.Name()
			g.mu.Lock()
			_, done := g.defs[name]
			if !done {
				g.defs[name] = map[string]any{} // placeholder against recursion
			}
			g.mu.Unlock()
			if !done {
				s := g.structSchema(t)
				g.mu.Lock()
				g.defs[name] = s
				g.mu.Unlock()
			}
			return map[string]any{"$ref": "#/components/schemas/" + name}
		}
		return g.structSchema(t)
	}
	return map[string]any{}
}

func (g *schemaGen) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for _, f := range jsonshape.Fields(t) {
		ps := g.schema(f.Type)
		if f.Kind != jsonshape.Of(f.Type) {
			ps = map[string]any{"type": "string"} // a number with ",string"
		}
		// Field documentation and bounds come from struct tags beside the
		// JSON name, so they live next to the field they describe.
		if f.Doc != "" {
			ps = withKey(ps, "description", f.Doc)
		}
		for _, k := range []string{"minimum", "maximum"} {
			if v, err := strconv.ParseInt(f.Tag.Get(k), 10, 64); err == nil {
				ps = withKey(ps, k, v)
			}
		}
		props[f.Name] = ps
		if f.Required {
			required = append(required, f.Name)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// withKey returns a copy of schema with k set, so a shared $ref schema is
// never changed in place.
func withKey(schema map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(schema)+1)
	for key, val := range schema {
		out[key] = val
	}
	out[k] = v
	return out
}
