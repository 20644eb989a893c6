package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"

	"github.com/unhidra/unhidra"
)

// decodeJSON reads exactly one JSON object from r's body into v. Unknown
// fields, wrong types, trailing data and bodies over maxBytes are refused with
// the API's codes; v is only meaningful when the error is nil.
func decodeJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return unhidra.Errorf(unhidra.ETooLarge, "request body is larger than %d bytes", maxBytes)
		}
		return unhidra.Errorf(unhidra.EInvalid, "could not read the request body")
	}
	return decodeBytes(body, v)
}

// decodeBytes is the transport-independent half of decodeJSON.
func decodeBytes(body []byte, v any) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return unhidra.Errorf(unhidra.EInvalid, "request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return unhidra.Errorf(unhidra.EInvalid, "request body must hold a single JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return unhidra.Errorf(unhidra.EInvalid, "malformed JSON at offset %d", syntax.Offset)
	case errors.As(err, &typeErr):
		if typeErr.Field != "" && typeErr.Type != nil {
			ty := typeErr.Type
			for ty.Kind() == reflect.Pointer {
				ty = ty.Elem()
			}
			return unhidra.Errorf(unhidra.EInvalid, "field %q must be %s", typeErr.Field, jsonKind(ty.Kind().String()))
		}
		return unhidra.Errorf(unhidra.EInvalid, "request body has a value of the wrong type")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return unhidra.Errorf(unhidra.EInvalid, "malformed JSON: unexpected end of input")
	}
	// encoding/json reports unknown fields only as text.
	const prefix = "json: unknown field "
	if msg := err.Error(); len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		return unhidra.Errorf(unhidra.EInvalid, "unknown field %s", msg[len(prefix):])
	}
	return unhidra.Errorf(unhidra.EInvalid, "malformed JSON")
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int64", "int32", "uint32", "uint8", "float64":
		return "a number"
	case "slice":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return "of another type"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// queryLimit reads the limit query parameter: default 50, 1 to 200.
func queryLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 200 {
		return 0, unhidra.Errorf(unhidra.EInvalid, "limit must be a whole number from 1 to 200")
	}
	return n, nil
}

// orEmpty makes a nil list encode as [] rather than null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
