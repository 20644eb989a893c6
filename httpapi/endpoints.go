package httpapi

// Endpoint is one route of the API with the Go types of its bodies, for
// tools that describe the API to its clients (the web client's TypeScript
// types). It is read from the route table, like the OpenAPI document.
type Endpoint struct {
	Method, Pattern string
	// Request and Response are zero values of the types the handler
	// decodes and encodes, or nil for no JSON body.
	Request, Response any
	// Raw is the content type of a response that is not one of the API's
	// JSON types (metrics, the keys, the OpenAPI document), else "".
	Raw string
	// Status is the status of a successful answer.
	Status int
}

// Endpoints lists every route of the table (/metrics included), in its
// order.
func Endpoints() []Endpoint {
	s := &Server{}
	table := s.routeTable()
	out := make([]Endpoint, len(table))
	for i, rt := range table {
		out[i] = Endpoint{Method: rt.method, Pattern: rt.pattern, Request: rt.doc.req, Response: rt.doc.resp, Raw: rt.doc.raw, Status: rt.doc.successStatus()}
	}
	return out
}

// ErrorBody is a zero value of the body of every error answer.
func ErrorBody() any { return errorBody{} }
