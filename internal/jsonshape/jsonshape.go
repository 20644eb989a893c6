// Package jsonshape describes the JSON that encoding/json writes for a Go
// type: the members of a struct, which of them are always there, and the
// kind of each value. The API's two descriptions of its own types, the
// OpenAPI document (httpapi) and the web client's TypeScript types
// (internal/tsgen), both read them here, so they cannot disagree on a name,
// an optional member or a value's type.
//
// One rule of the API is decided here rather than read from the types: a
// member without omitempty (or omitzero) is always written and is never
// null. Lists are [] when empty and single resources are always set
// (docs/api.md "Conventions"); a pointer without omitempty is a Go detail
// (a request's "must be present", a shared value), not a JSON null.
package jsonshape

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"time"
)

// Kind is the JSON form of a Go type.
type Kind int

const (
	Invalid Kind = iota // no JSON form this package knows (func, chan, a custom json.Marshaler)
	String
	Bool
	Integer
	Number
	Time   // time.Time: an RFC 3339 string
	Raw    // json.RawMessage: embedded JSON, written as it is
	Array  // slices and arrays of Elem
	Map    // an object with string keys and Elem values
	Object // a struct: its Fields
	Any    // an interface: any JSON value
)

var (
	timeType          = reflect.TypeOf(time.Time{})
	rawType           = reflect.TypeOf(json.RawMessage(nil))
	marshalerType     = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textMarshalerType = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
)

// Deref returns t without its pointers: encoding/json writes a pointer as
// the value it points to.
func Deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// Of returns the JSON form of t (after its pointers). For Array and Map
// the element is Deref(t).Elem().
func Of(t reflect.Type) Kind {
	t = Deref(t)
	switch {
	case t == timeType:
		return Time
	case t == rawType:
		return Raw
	case implements(t, marshalerType):
		return Invalid
	case implements(t, textMarshalerType):
		return String
	}
	switch t.Kind() {
	case reflect.String:
		return String
	case reflect.Bool:
		return Bool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return Integer
	case reflect.Float32, reflect.Float64:
		return Number
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !implements(t.Elem(), marshalerType) && !implements(t.Elem(), textMarshalerType) {
			return String // []byte is written in base64
		}
		return Array
	case reflect.Array:
		return Array
	case reflect.Map:
		return Map
	case reflect.Struct:
		return Object
	case reflect.Interface:
		return Any
	}
	return Invalid
}

func implements(t, iface reflect.Type) bool {
	return t.Implements(iface) || reflect.PointerTo(t).Implements(iface)
}

// Field is one member of a struct's JSON object.
type Field struct {
	Name string       // the JSON member name
	Type reflect.Type // the Go type of the value
	// Kind is Of(Type), except String for a scalar with the ",string"
	// option.
	Kind Kind
	// Required is true when the member is always written: it has neither
	// omitempty nor omitzero. Such a member is never null (see the
	// package documentation).
	Required bool
	// Doc is the member's doc tag: what it means, for the reader of a
	// generated description.
	Doc string
	Tag reflect.StructTag // the whole tag, for a consumer's own keys
	// GoName is the Go field, declared in Owner: the struct itself, or
	// for a promoted field the embedded struct.
	GoName string
	Owner  reflect.Type
}

// Fields returns the members of struct type t (after its pointers) in the
// order encoding/json writes them: exported fields with their JSON names,
// without json:"-", the fields of embedded structs without a JSON name
// promoted into t, and of two members with one name the shallower, or the
// tagged one at equal depth (both dropped when that does not decide).
func Fields(t reflect.Type) []Field {
	type cand struct {
		Field
		depth  int
		tagged bool
	}
	var all []cand
	var walk func(t reflect.Type, depth int, seen map[reflect.Type]bool)
	walk = func(t reflect.Type, depth int, seen map[reflect.Type]bool) {
		if seen[t] {
			return
		}
		seen[t] = true
		defer delete(seen, t)
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous {
				et := Deref(f.Type)
				if !f.IsExported() && et.Kind() != reflect.Struct {
					continue
				}
				if name == "" && et.Kind() == reflect.Struct {
					walk(et, depth+1, seen)
					continue
				}
			} else if !f.IsExported() {
				continue
			}
			c := cand{depth: depth, tagged: name != ""}
			if name == "" {
				name = f.Name
			}
			c.Field = Field{
				Name: name, Type: f.Type, Kind: Of(f.Type),
				Required: !hasOpt(opts, "omitempty") && !hasOpt(opts, "omitzero"),
				Doc:      f.Tag.Get("doc"), Tag: f.Tag,
				GoName: f.Name, Owner: t,
			}
			if hasOpt(opts, "string") {
				switch c.Kind {
				case Bool, Integer, Number:
					c.Kind = String
				}
			}
			all = append(all, c)
		}
	}
	walk(Deref(t), 0, map[reflect.Type]bool{})

	// Dominance, as encoding/json decides it.
	byName := map[string][]int{}
	for i, c := range all {
		byName[c.Name] = append(byName[c.Name], i)
	}
	keep := make([]bool, len(all))
	for _, idx := range byName {
		best := -1
		ambiguous := false
		for _, i := range idx {
			switch {
			case best < 0 || all[i].depth < all[best].depth:
				best, ambiguous = i, false
			case all[i].depth == all[best].depth:
				switch {
				case all[i].tagged && !all[best].tagged:
					best, ambiguous = i, false
				case all[i].tagged == all[best].tagged:
					ambiguous = true
				}
			}
		}
		if !ambiguous {
			keep[best] = true
		}
	}
	var out []Field
	for i, c := range all {
		if keep[i] {
			out = append(out, c.Field)
		}
	}
	return out
}

func hasOpt(opts, name string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == name {
			return true
		}
	}
	return false
}
