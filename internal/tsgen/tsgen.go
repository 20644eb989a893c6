// Package tsgen writes the TypeScript types of the web client
// (web/src/api/types.gen.ts) from the Go types of the API: the WebSocket
// frames of package wire, the REST bodies of httpapi's route table, and
// the domain types they carry. Member names, optional members and value
// kinds come from internal/jsonshape, exactly as for the OpenAPI
// document; the string unions come from the Go constants; the comments
// from the Go doc comments. The output depends on nothing but the source,
// so a test can insist that the committed file is what Generate writes.
package tsgen

//go:generate go run gen.go

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/unhidra/unhidra/httpapi"
	"github.com/unhidra/unhidra/internal/jsonshape"
	"github.com/unhidra/unhidra/wire"
)

// Path is the generated file, relative to the repository root.
const Path = "web/src/api/types.gen.ts"

// module is the import path of the repository root; a type's package
// directory is its import path below it.
const module = "github.com/unhidra/unhidra"

// constUnions are the string unions read from a block of Go constants:
// the block that declares anchor, in the package directory dir.
var constUnions = []struct{ name, dir, anchor string }{
	{"ErrorCode", ".", "EInvalid"},
	{"UserRole", ".", "RoleAdmin"},
	{"ChannelKind", ".", "ChannelPublic"},
	{"ChannelRole", ".", "ChannelOwner"},
	{"MessageKind", ".", "MessageText"},
	{"SenderType", ".", "SenderUser"},
	{"PresenceStatus", "wire", "StatusOnline"},
	{"DeleteMode", ".", "DeleteAnonymise"},
	{"SettingSource", "settings", "SourceDefault"},
	{"SettingType", "settings", "TypeString"},
	{"RetiredPreKeyKind", ".", "PreKeySigned"},
}

// renamed are the Go types whose TypeScript name is not their own: the
// ones that would shadow a browser global (lib.dom's Event and
// Highlight) in every file that imports them.
var renamed = map[string]string{
	"unhidra.Event":  "ChannelEvent",
	"chat.Highlight": "SearchHighlight",
	"passkey.Begin":  "PasskeyBegin",
}

// fieldUnions types the string members whose value is one of a union, by
// Go type (as reflect prints it) and JSON member. An entry that matches
// no member is an error, so a rename cannot leave one behind.
var fieldUnions = map[string]map[string]string{
	"unhidra.User":                    {"role": "UserRole"},
	"unhidra.Channel":                 {"kind": "ChannelKind", "role": "ChannelRole"},
	"unhidra.Member":                  {"role": "ChannelRole"},
	"unhidra.Message":                 {"kind": "MessageKind"},
	"unhidra.Sender":                  {"type": "SenderType"},
	"unhidra.Event":                   {"type": "ChannelEventType"},
	"unhidra.RetiredPreKey":           {"kind": "RetiredPreKeyKind"},
	"gateway.ConnectionInfo":          {"status": "PresenceStatus"},
	"settings.Setting":                {"source": "SettingSource", "type": "SettingType"},
	"wire.Error":                      {"code": "ErrorCode"},
	"wire.Member":                     {"role": "ChannelRole"},
	"wire.ClientFrame":                {"status": "ClientPresenceStatus"},
	"httpapi.createChannelRequest":    {"kind": "ChannelKind"},
	"httpapi.setMemberRequest":        {"role": "ChannelRole"},
	"httpapi.adminUpdateUserRequest":  {"role": "UserRole"},
	"httpapi.adminDeleteUserRequest":  {"mode": "DeleteMode"},
	"httpapi.adminDeleteUserResponse": {"mode": "DeleteMode"},
	"chat.AdminChannel":               {"kind": "ChannelKind"},
	"httpapi.errorDetail":             {"code": "ErrorCode"},
}

type section int

const (
	objects section = iota // domain types
	frames                 // wire's server frames
	bodies                 // httpapi's request and response bodies
)

type gen struct {
	root string
	fset *token.FileSet
	pkgs map[string]*pkgDocs // by directory

	names  map[reflect.Type]string // named structs → TS name
	byName map[string]reflect.Type
	order  []reflect.Type
	where  map[reflect.Type]section
	frame  map[reflect.Type][]string // a server frame payload → its types
	used   map[string]bool           // fieldUnions entries applied
	errs   []string
}

// Generate returns the content of Path for the repository at root.
func Generate(root string) ([]byte, error) {
	g := &gen{
		root: root, fset: token.NewFileSet(), pkgs: map[string]*pkgDocs{},
		names: map[reflect.Type]string{}, byName: map[string]reflect.Type{},
		where: map[reflect.Type]section{}, frame: map[reflect.Type][]string{}, used: map[string]bool{},
	}
	var b bytes.Buffer
	g.write(&b)
	for key := range renamed {
		if !g.used["renamed."+key] {
			g.fail("renamed: no type %s", key)
		}
	}
	for key, members := range fieldUnions {
		for m := range members {
			if !g.used[key+"."+m] {
				g.fail("fieldUnions: %s has no member %s", key, m)
			}
		}
	}
	if len(g.errs) > 0 {
		sort.Strings(g.errs)
		return nil, fmt.Errorf("tsgen: %s", strings.Join(slices.Compact(g.errs), "; "))
	}
	return b.Bytes(), nil
}

func (g *gen) fail(format string, args ...any) { g.errs = append(g.errs, fmt.Sprintf(format, args...)) }

func (g *gen) write(b *bytes.Buffer) {
	b.WriteString(`// Code generated by internal/tsgen from the Go types of the API; DO NOT EDIT.
// Regenerate with: go generate ./internal/tsgen
//
// Members without ? are always present and never null: lists are [] when
// empty (docs/api.md "Conventions"). Times are RFC 3339 strings in UTC.
// Go's integers are numbers: ids are strings, and seqs and counts stay far
// below 2^53.
`)

	// Everything the file names, found first, so that each section can be
	// written in order.
	serverFrames := wire.ServerFrames()
	for _, sf := range serverFrames {
		if sf.Payload != nil {
			t := reflect.TypeOf(sf.Payload)
			g.frame[t] = append(g.frame[t], sf.Type)
			g.collect(t, frames)
		}
	}
	var endpoints []httpapi.Endpoint
	for _, e := range httpapi.Endpoints() {
		if e.Raw != "" || e.Status < 200 || e.Status > 299 {
			continue // not JSON: metrics, keys, documents, the WebSocket upgrade
		}
		endpoints = append(endpoints, e)
		for _, v := range []any{e.Request, e.Response} {
			if v != nil {
				g.collect(reflect.TypeOf(v), bodies)
			}
		}
	}
	g.collect(reflect.TypeOf(httpapi.ErrorBody()), bodies)

	heading(b, "Values")
	for _, u := range constUnions {
		doc, values := g.constBlock(u.dir, u.anchor)
		union(b, u.name, doc, values)
	}
	union(b, "ClientPresenceStatus", "The presence statuses a client may set (offline is the server's word for a user without a socket).", wire.ClientPresenceStatuses())
	var events []string
	for _, sf := range serverFrames {
		if wire.IsChannelEvent(sf.Type) {
			events = append(events, sf.Type)
		}
	}
	union(b, "ChannelEventType", "The types of the durable channel events: the frames with a gap-free seq, which advance resume positions.", events)

	heading(b, "Objects")
	for _, t := range g.sorted(objects) {
		g.iface(b, t)
	}

	heading(b, "Server frames (WebSocket, server to client)")
	var members []string
	for _, sf := range serverFrames {
		if sf.Payload == nil {
			name := pascal(sf.Type) + "Frame"
			if prev, clash := g.byName[name]; clash {
				g.fail("%v and the %s frame would both be %s", prev, sf.Type, name)
			}
			fmt.Fprintf(b, "\nexport interface %s {\n  type: %s\n}\n", name, quote(sf.Type))
			members = append(members, name)
			continue
		}
		t := reflect.TypeOf(sf.Payload)
		if name := g.names[t]; !slices.Contains(members, name) {
			g.iface(b, t)
			members = append(members, name)
		}
	}
	fmt.Fprintf(b, "\n/** Every frame the server sends, by its type. */\nexport type ServerFrame =\n")
	for _, m := range members {
		fmt.Fprintf(b, "  | %s\n", m)
	}
	b.WriteString("\nexport type ServerFrameType = ServerFrame['type']\n")

	heading(b, "Client frames (WebSocket, client to server)")
	g.clientFrames(b)

	heading(b, "REST bodies")
	for _, t := range g.sorted(bodies) {
		g.iface(b, t)
	}
	b.WriteString("\n/**\n * The JSON routes of the REST API, as \"METHOD pattern\": the body each takes\n * and the body of its success (undefined for none).\n */\nexport interface Endpoints {\n")
	for _, e := range endpoints {
		fmt.Fprintf(b, "  %s: { request: %s; response: %s }\n", quote(e.Method+" "+e.Pattern), g.bodyType(e.Request), g.bodyType(e.Response))
	}
	b.WriteString("}\n")
}

func heading(b *bytes.Buffer, s string) { fmt.Fprintf(b, "\n// ---- %s\n", s) }

func union(b *bytes.Buffer, name, doc string, values []string) {
	writeDoc(b, "", doc)
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = quote(v)
	}
	fmt.Fprintf(b, "export type %s = %s\n", name, strings.Join(q, " | "))
}

func (g *gen) bodyType(v any) string {
	if v == nil {
		return "undefined"
	}
	return g.tsType(reflect.TypeOf(v))
}

// collect names t and every named struct it reaches, each in the section
// of the first root that reaches it; wire's structs are always frames.
func (g *gen) collect(t reflect.Type, s section) {
	switch jsonshape.Of(t) {
	case jsonshape.Array, jsonshape.Map:
		g.collect(jsonshape.Deref(t).Elem(), s)
		return
	case jsonshape.Object:
	default:
		return
	}
	t = jsonshape.Deref(t)
	if t.Name() != "" {
		if _, done := g.names[t]; done {
			return
		}
		name := pascal(t.Name())
		if r, ok := renamed[t.String()]; ok {
			name = r
			g.used["renamed."+t.String()] = true
		}
		switch {
		case t.PkgPath() == module+"/wire":
			s = frames
			if !strings.HasSuffix(name, "Frame") {
				name += "Frame"
			}
		case t.PkgPath() != module+"/httpapi":
			s = objects
		}
		if prev, clash := g.byName[name]; clash {
			g.fail("%v and %v would both be %s", prev, t, name)
		}
		g.names[t], g.byName[name], g.where[t] = name, t, s
		g.order = append(g.order, t)
	}
	for _, f := range jsonshape.Fields(t) {
		g.collect(f.Type, s)
	}
}

func (g *gen) sorted(s section) []reflect.Type {
	var out []reflect.Type
	for _, t := range g.order {
		if g.where[t] == s {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return g.names[out[i]] < g.names[out[j]] })
	return out
}

// tsType is the TypeScript of a value of Go type t.
func (g *gen) tsType(t reflect.Type) string {
	switch jsonshape.Of(t) {
	case jsonshape.String, jsonshape.Time:
		return "string"
	case jsonshape.Bool:
		return "boolean"
	case jsonshape.Integer, jsonshape.Number:
		return "number"
	case jsonshape.Raw, jsonshape.Any:
		return "unknown"
	case jsonshape.Array:
		el := g.tsType(jsonshape.Deref(t).Elem())
		if strings.Contains(el, "|") {
			el = "(" + el + ")"
		}
		return el + "[]"
	case jsonshape.Map:
		return "Record<string, " + g.tsType(jsonshape.Deref(t).Elem()) + ">"
	case jsonshape.Object:
		t = jsonshape.Deref(t)
		if name, ok := g.names[t]; ok {
			return name
		}
		var b bytes.Buffer
		b.WriteString("{ ")
		for i, f := range jsonshape.Fields(t) {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(g.member(t, f, ""))
		}
		b.WriteString(" }")
		return b.String()
	}
	g.fail("%v has no JSON form tsgen knows", t)
	return "never"
}

// member is one "name?: type" of an object of Go type t; typ replaces the
// value's type when not "".
func (g *gen) member(t reflect.Type, f jsonshape.Field, typ string) string {
	if typ == "" {
		typ = g.tsType(f.Type)
		if f.Kind != jsonshape.Of(f.Type) {
			typ = "string" // a number with ",string"
		}
		if u, ok := fieldUnions[t.String()][f.Name]; ok {
			g.used[t.String()+"."+f.Name] = true
			if typ != "string" {
				g.fail("fieldUnions: %s.%s is %s, not a string", t, f.Name, typ)
			}
			typ = u
		}
	}
	opt := "?"
	if f.Required {
		opt = ""
	}
	return propName(f.Name) + opt + ": " + typ
}

// iface writes the interface of named struct t. A server frame's type
// member is the literal of its frame types.
func (g *gen) iface(b *bytes.Buffer, t reflect.Type) {
	docs := g.docs(t.PkgPath())
	b.WriteString("\n")
	writeDoc(b, "", docs.types[t.Name()])
	fmt.Fprintf(b, "export interface %s {\n", g.names[t])
	for _, f := range jsonshape.Fields(t) {
		typ := ""
		if types := g.frame[t]; types != nil && f.Name == "type" {
			q := make([]string, len(types))
			for i, v := range types {
				q[i] = quote(v)
			}
			typ = strings.Join(q, " | ")
		}
		doc := f.Doc
		if doc == "" {
			doc = g.docs(f.Owner.PkgPath()).fields[f.Owner.Name()+"."+f.GoName]
		}
		writeDoc(b, "  ", doc)
		fmt.Fprintf(b, "  %s\n", g.member(t, f, typ))
	}
	b.WriteString("}\n")
}

// clientFrames writes one interface per client frame type, with the
// fields wire lets it carry, and their union.
func (g *gen) clientFrames(b *bytes.Buffer) {
	ct := reflect.TypeOf(wire.ClientFrame{})
	byName := map[string]jsonshape.Field{}
	for _, f := range jsonshape.Fields(ct) {
		byName[f.Name] = f
	}
	docs := g.docs(ct.PkgPath())
	var names []string
	for _, spec := range wire.ClientFrames() {
		name := "Client" + pascal(spec.Type) + "Frame"
		names = append(names, name)
		fmt.Fprintf(b, "\nexport interface %s {\n  type: %s\n", name, quote(spec.Type))
		for _, n := range append([]string{"ref"}, spec.Fields...) {
			f, ok := byName[n]
			if !ok {
				g.fail("wire.ClientFrames: %s has no field %s", spec.Type, n)
				continue
			}
			f.Required = slices.Contains(spec.Required, n)
			if n == "ref" {
				writeDoc(b, "  ", docs.fields["ClientFrame."+f.GoName])
			}
			fmt.Fprintf(b, "  %s\n", g.member(ct, f, ""))
		}
		b.WriteString("}\n")
	}
	fmt.Fprintf(b, "\n/** Every frame a client may send, by its type. */\nexport type ClientFrame =\n")
	for _, n := range names {
		fmt.Fprintf(b, "  | %s\n", n)
	}
	b.WriteString("\nexport type ClientFrameType = ClientFrame['type']\n")
}

// pkgDocs are the doc comments of one package's types and struct fields
// (as "Type.Field"), and its constant blocks.
type pkgDocs struct {
	types, fields map[string]string
	consts        map[string]constBlock // by constant name
}

type constBlock struct {
	doc    string
	values []string
	err    string
}

func (g *gen) docs(pkgPath string) *pkgDocs {
	dir, ok := strings.CutPrefix(pkgPath, module)
	if !ok {
		g.fail("type of package %s is outside the module", pkgPath)
		return &pkgDocs{}
	}
	dir = "." + dir
	if d, ok := g.pkgs[dir]; ok {
		return d
	}
	d := &pkgDocs{types: map[string]string{}, fields: map[string]string{}, consts: map[string]constBlock{}}
	g.pkgs[dir] = d
	files, err := filepath.Glob(filepath.Join(g.root, dir, "*.go"))
	if err != nil || len(files) == 0 {
		g.fail("no Go files in %s", filepath.Join(g.root, dir))
	}
	sort.Strings(files)
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			g.fail("%v", err)
			continue
		}
		f, err := parser.ParseFile(g.fset, name, src, parser.ParseComments)
		if err != nil {
			g.fail("%v", err)
			continue
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok {
				continue
			}
			switch gd.Tok {
			case token.TYPE:
				for _, spec := range gd.Specs {
					ts := spec.(*ast.TypeSpec)
					doc := ts.Doc
					if doc == nil && len(gd.Specs) == 1 {
						doc = gd.Doc
					}
					d.types[ts.Name.Name] = doc.Text()
					st, ok := ts.Type.(*ast.StructType)
					if !ok {
						continue
					}
					for _, fld := range st.Fields.List {
						text := strings.TrimSpace(fld.Doc.Text() + " " + fld.Comment.Text())
						for _, n := range fld.Names {
							d.fields[ts.Name.Name+"."+n.Name] = text
						}
					}
				}
			case token.CONST:
				var blk constBlock
				blk.doc = gd.Doc.Text()
				var names []string
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, n := range vs.Names {
						names = append(names, n.Name)
						var lit *ast.BasicLit
						if i < len(vs.Values) {
							lit, _ = vs.Values[i].(*ast.BasicLit)
						}
						v, err := "", error(nil)
						if lit != nil && lit.Kind == token.STRING {
							v, err = strconv.Unquote(lit.Value)
						}
						if lit == nil || lit.Kind != token.STRING || err != nil {
							blk.err = fmt.Sprintf("constant %s is not a string literal", n.Name)
						}
						blk.values = append(blk.values, v)
					}
				}
				for _, n := range names {
					d.consts[n] = blk
				}
			}
		}
	}
	return d
}

// constBlock returns the doc comment and values of the block of string
// constants that declares anchor in package directory dir.
func (g *gen) constBlock(dir, anchor string) (string, []string) {
	pkg := module
	if dir != "." {
		pkg += "/" + dir
	}
	blk, ok := g.docs(pkg).consts[anchor]
	switch {
	case !ok:
		g.fail("no constant %s in %s", anchor, dir)
	case blk.err != "":
		g.fail("the block of %s: %s", anchor, blk.err)
	}
	return blk.doc, blk.values
}

// writeDoc writes a doc comment: Go's text as it is, lines kept.
func writeDoc(b *bytes.Buffer, indent, text string) {
	text = strings.TrimSpace(strings.ReplaceAll(text, "*/", "*\\/"))
	if text == "" {
		return
	}
	lines := strings.Split(text, "\n")
	if len(lines) == 1 {
		fmt.Fprintf(b, "%s/** %s */\n", indent, lines[0])
		return
	}
	fmt.Fprintf(b, "%s/**\n", indent)
	for _, l := range lines {
		fmt.Fprintf(b, "%s *%s\n", indent, strings.TrimRight(" "+l, " "))
	}
	fmt.Fprintf(b, "%s */\n", indent)
}

// pascal turns a Go name or a snake_case frame type into an exported
// TypeScript name: registerRequest → RegisterRequest, to_device_ack →
// ToDeviceAck.
func pascal(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// quote is a TypeScript string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}

// propName is a member name, quoted unless it is an identifier.
func propName(s string) string {
	for i, r := range s {
		if !(r == '_' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return quote(s)
		}
	}
	if s == "" {
		return "''"
	}
	return s
}
