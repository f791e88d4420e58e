package fakeserver

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinels for errors.Is on the *Error the Go API returns; each matches by HTTP status.
var (
	ErrBadRequest         = errors.New("bad request")
	ErrNotFound           = errors.New("not found")
	ErrConflict           = errors.New("conflict")
	ErrPreconditionFailed = errors.New("precondition failed")
)

// Error is a request the server refused: what a client would get as a 4xx. Direct writes
// return it too, so a test sees the same outcome a request would have had.
type Error struct {
	Status  int
	Message string
	// Row is the server's current row (v2 names) for a 409 or 412.
	Row map[string]any
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Is lets errors.Is(err, ErrNotFound) and friends match by status.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.Status == http.StatusBadRequest
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrPreconditionFailed:
		return e.Status == http.StatusPreconditionFailed
	}
	return false
}

func errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, format, args...)
}
