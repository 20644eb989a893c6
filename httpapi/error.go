package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/unhidra/unhidra"
)

// statusOf maps an error code to its HTTP status. It is the one place where
// that decision is made.
func statusOf(code string) int {
	switch code {
	case unhidra.EInvalid:
		return http.StatusBadRequest
	case unhidra.EUnauthenticated:
		return http.StatusUnauthorized
	case unhidra.EPermission, unhidra.EPasswordLoginDisabled:
		return http.StatusForbidden
	case unhidra.ENotFound:
		return http.StatusNotFound
	case unhidra.EConflict:
		return http.StatusConflict
	case unhidra.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case unhidra.ERateLimited:
		return http.StatusTooManyRequests
	case unhidra.EUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError sends err in the API's error format. Internal errors are logged
// with their detail and answered with a generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := unhidra.ErrorCode(err)
	msg := unhidra.ErrorMessage(err)
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; there is nobody to answer.
		code, msg = unhidra.EUnavailable, "request cancelled"
	}
	status := statusOf(code)
	if status == http.StatusInternalServerError {
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("request_id", requestID(r.Context())), slog.String("route", r.Pattern), slog.String("err", logField(err.Error(), maxLogError)))
		code, msg = unhidra.EInternal, "internal error"
	}
	if ra := unhidra.RetryAfter(err); ra > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ra))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="unhidra"`)
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: msg}})
}
