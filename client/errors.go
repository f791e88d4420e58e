package client

import (
	"errors"
	"fmt"
	"net/http"
)

// SyncError is a kind of failure the SDKs report with a numbered code. The package's
// sentinel errors are SyncErrors; errors returned by methods wrap them with details, so test
// with errors.Is(err, client.ErrInvalidOperation).
type SyncError struct {
	Code    int    // the SDK's error code, 0 when the SDKs have none
	Message string // the SDK's message
}

func (e *SyncError) Error() string {
	if e.Code == 0 {
		return e.Message
	}
	return fmt.Sprintf("%s [%d]", e.Message, e.Code)
}

// The sentinel errors.
var (
	// ErrInvalidOperation: a local write the collapse matrix refuses, or an item that is not
	// a valid row (no id where one is needed, a bad id).
	ErrInvalidOperation = &SyncError{-1150, "invalid operation"}
	// ErrInvalidQuery: a query that cannot be sent (bad filter, a pull with $select, ...).
	ErrInvalidQuery = &SyncError{-1160, "invalid query"}
	// ErrPushFailed: not all operations completed; see *PushFailedError.
	ErrPushFailed = &SyncError{-1170, "not all operations completed successfully"}
	// ErrAuthentication: the server answered 401.
	ErrAuthentication = &SyncError{-1172, "push aborted: authentication error"}
	// ErrNetwork: no response: connection refused or reset, a timeout.
	ErrNetwork = &SyncError{-1173, "push aborted: network error"}
	// ErrPushCancelled: a handler cancelled the push.
	ErrPushCancelled = &SyncError{-1174, "push cancelled"}
	// ErrPurgePendingChanges: a purge of a table with queued operations.
	ErrPurgePendingChanges = &SyncError{-1180, "the table has pending operations"}
	// ErrPreconditionFailed: 412, the item's version did not match the server's.
	ErrPreconditionFailed = &SyncError{-1303, "precondition failed"}
	// ErrConflict: 409, the item exists on the server (insert) or its version differs.
	ErrConflict = &SyncError{0, "conflict"}
	// ErrNotFound: 404, or a local lookup of a missing item.
	ErrNotFound = &SyncError{0, "not found"}
	// ErrBadResponse: the server's answer could not be understood, or could not be trusted:
	// a page larger than asked for, a next-page link elsewhere or back to a page already read.
	ErrBadResponse = &SyncError{0, "malformed server response"}
	// ErrPagingLimit: a query or pull reached the client's PagingLimits; see *PagingLimitError.
	ErrPagingLimit = &SyncError{0, "paging limit reached"}
	// ErrOperationUpdated: a resolution of a recorded error whose operation changed since.
	ErrOperationUpdated = &SyncError{0, "the operation has been updated"}
	// ErrStore: the local store failed.
	ErrStore = &SyncError{0, "local store error"}
	// ErrClosed: the sync context or its store is closed.
	ErrClosed = &SyncError{0, "closed"}
)

// wrap returns an error that errors.Is kind and reads "kind: detail".
func wrap(kind *SyncError, format string, args ...any) error {
	return &detailed{kind: kind, msg: fmt.Sprintf(format, args...)}
}

type detailed struct {
	kind  *SyncError
	msg   string
	cause error
}

func (e *detailed) Error() string {
	s := e.kind.Error() + ": " + e.msg
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *detailed) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

// storeError wraps an error of the local store, keeping it for errors.Is (store.ErrClosed...).
func storeError(op string, err error) error {
	if err == nil {
		return nil
	}
	var d *detailed
	var re *ResponseError
	if errors.As(err, &d) || errors.As(err, &re) {
		return err // already one of ours, e.g. returned from inside a transaction
	}
	return &detailed{kind: ErrStore, msg: op, cause: err}
}

// HTTPError is a response with a status outside 2xx.
type HTTPError struct {
	Method  string
	URL     string
	Status  int
	Message string // the body's "error" field, or the status text
	Body    []byte // the body as received
	// ServerItem is the server's current row after a 409 or 412 of a write; nil otherwise. It
	// is the answer's body when that is a row of the item with a version (for an insert's 409,
	// only when the answer's ETag, weak or strong, names that version: a server may echo the
	// item sent instead); else the row the client read from the server after the conflict
	// (docs/client.md), and nil when that read found none or failed with a status.
	ServerItem Item
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.URL, e.Status, http.StatusText(e.Status), e.Message)
}

// Is makes errors.Is(err, ErrPreconditionFailed) true for a 412, ErrConflict for a 409,
// ErrNotFound for a 404 and ErrAuthentication for a 401.
func (e *HTTPError) Is(target error) bool {
	switch target {
	case ErrPreconditionFailed:
		return e.Status == http.StatusPreconditionFailed
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrAuthentication:
		return e.Status == http.StatusUnauthorized
	}
	return false
}

// IsConflict reports whether the error is a 409 or 412: the server holds another version of
// the item, which ServerItem carries.
func (e *HTTPError) IsConflict() bool {
	return e.Status == http.StatusConflict || e.Status == http.StatusPreconditionFailed
}

// conflictReadError is a 409 or 412 whose server row the client could not read because the
// read got no response or the caller's context ended: errors.As finds the *HTTPError (without
// ServerItem), and errors.Is finds ErrNetwork or the context's error, so a push stops and keeps
// the operation queued instead of recording a conflict it cannot resolve.
type conflictReadError struct {
	conflict *HTTPError
	read     error
}

func (e *conflictReadError) Error() string {
	return e.conflict.Error() + "; reading the server's row: " + e.read.Error()
}

func (e *conflictReadError) Unwrap() []error { return []error{e.conflict, e.read} }

// PagingLimitError is a Table.Query or SyncTable.Pull stopped by the client's PagingLimits:
// a server that never stops sending pages, or a result larger than the limits allow.
// errors.Is(err, ErrPagingLimit) holds. A pull keeps the pages it stored before.
type PagingLimitError struct {
	Op    string // "query of todoitem", "pull of todoitem"
	URL   string // the request that would have gone over the limit, or the page that did
	Limit string // "pages" or "rows"
	Max   int
}

func (e *PagingLimitError) Error() string {
	return fmt.Sprintf("%s: %s: more than %d %s (client.PagingLimits)", e.Op, ErrPagingLimit.Message, e.Max, e.Limit)
}

func (e *PagingLimitError) Is(target error) bool { return target == ErrPagingLimit }

// NetworkError is a request that got no response: the connection failed, was reset or timed
// out. errors.Is(err, ErrNetwork) holds; Unwrap gives the transport's error.
type NetworkError struct {
	Method string
	URL    string
	Err    error
}

func (e *NetworkError) Error() string {
	return fmt.Sprintf("%s %s: network error: %v", e.Method, e.URL, e.Err)
}

func (e *NetworkError) Unwrap() []error { return []error{ErrNetwork, e.Err} }

// Timeout reports whether the request timed out.
func (e *NetworkError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// ResponseError is a response the client could not use: a body that is not the JSON it
// should be, an item without an id, a version that is not a string. errors.Is(err,
// ErrBadResponse) holds.
type ResponseError struct {
	Method string
	URL    string
	Status int
	Reason string
	Body   []byte
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("%s %s: %d: malformed response: %s", e.Method, e.URL, e.Status, e.Reason)
}

func (e *ResponseError) Is(target error) bool { return target == ErrBadResponse }
