package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxResponseBytes caps what the client reads of one response.
const maxResponseBytes = 256 << 20

// response is a completed exchange: the whole body has been read and the connection
// released.
type response struct {
	method string
	url    string
	reqURL *url.URL // where the body came from, for relative links
	status int
	header http.Header
	body   []byte // buf's bytes: valid until release
	buf    *bytes.Buffer
}

var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// release returns the body's buffer to the pool: nothing decoded from it refers to it.
func (r *response) release() {
	if r.buf != nil && r.buf.Cap() <= 4<<20 {
		r.buf.Reset()
		bodyBuffers.Put(r.buf)
	}
	r.buf, r.body = nil, nil
}

// errRequestTimeout is the cause of a request context that ran out of the client's timeout,
// which tells it apart from the caller's context ending.
var errRequestTimeout = errors.New("client request timeout")

// send makes one request and reads the whole response. body nil sends none; ifMatchVersion
// "" sends no If-Match.
func (c *Client) send(ctx context.Context, method, rawURL string, body []byte, ifMatchVersion string) (*response, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if ctx.Err() != nil {
		return nil, newContextError(ctx, method, rawURL)
	}
	reqCtx, cancel := ctx, context.CancelFunc(func() {})
	if c.cfg.timeout > 0 {
		reqCtx, cancel = context.WithTimeoutCause(ctx, c.cfg.timeout, errRequestTimeout)
	}
	defer cancel()

	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(reqCtx, method, rawURL, rd)
	if err != nil {
		return nil, wrap(ErrInvalidOperation, "%s %s: %v", method, rawURL, err)
	}
	h := req.Header
	h.Set("Accept", "application/json")
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	if c.cfg.dialect == V2 {
		h.Set("ZUMO-API-VERSION", "2.0.0")
	}
	h.Set("X-ZUMO-INSTALLATION-ID", c.cfg.installationID)
	h.Set("User-Agent", c.cfg.userAgent)
	if c.cfg.authToken != "" {
		h.Set("X-ZUMO-AUTH", c.cfg.authToken)
	}
	if c.cfg.appKey != "" {
		h.Set("X-ZUMO-APPLICATION", c.cfg.appKey)
	}
	if ifMatchVersion != "" {
		h.Set("If-Match", ifMatch(ifMatchVersion))
	}

	res, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, reqCtx, method, rawURL, err)
	}
	r := &response{method: method, url: rawURL, reqURL: req.URL, status: res.StatusCode, header: res.Header}
	if res.Request != nil && res.Request.URL != nil {
		r.reqURL = res.Request.URL
	}
	if res.ContentLength > maxResponseBytes {
		res.Body.Close()
		return nil, r.malformed("the body's %d bytes are over the client's limit of %d", res.ContentLength, maxResponseBytes)
	}
	buf := bodyBuffers.Get().(*bytes.Buffer)
	if res.ContentLength > 0 {
		buf.Grow(int(res.ContentLength) + bytes.MinRead) // ReadFrom wants MinRead free to see EOF
	}
	n, err := buf.ReadFrom(io.LimitReader(res.Body, maxResponseBytes+1))
	res.Body.Close()
	r.buf, r.body = buf, buf.Bytes()
	if err != nil {
		r.release()
		return nil, c.transportError(ctx, reqCtx, method, rawURL, err)
	}
	if n > maxResponseBytes {
		r.release()
		return nil, r.malformed("the body is over the client's limit of %d bytes", maxResponseBytes)
	}
	return r, nil
}

// transportError classifies a failed exchange. The caller's context ending comes first, and
// is never a NetworkError; then the client's own timeout, a NetworkError that Timeout()s but
// is not context.DeadlineExceeded; anything else is a NetworkError, scrubbed of any context
// error inside it (a transport's own timeout, a custom http.Client's), so errors.Is(err,
// context.Canceled / DeadlineExceeded) means the caller's context and nothing else.
func (c *Client) transportError(ctx, reqCtx context.Context, method, rawURL string, err error) error {
	if ctx.Err() != nil {
		return newContextError(ctx, method, rawURL)
	}
	if reqCtx != ctx && errors.Is(context.Cause(reqCtx), errRequestTimeout) {
		return &NetworkError{Method: method, URL: rawURL, Err: &timeoutError{d: c.cfg.timeout}}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		var t interface{ Timeout() bool }
		err = &scrubbedError{msg: err.Error(), timeout: errors.As(err, &t) && t.Timeout()}
	}
	return &NetworkError{Method: method, URL: rawURL, Err: err}
}

// timeoutError is a request that ran out of the client's WithTimeout.
type timeoutError struct{ d time.Duration }

func (e *timeoutError) Error() string   { return fmt.Sprintf("no complete response within %v", e.d) }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

// scrubbedError keeps the message and timeout-ness of a transport error that wrapped a
// context error not the caller's.
type scrubbedError struct {
	msg     string
	timeout bool
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Timeout() bool { return e.timeout }

// contextError is a call stopped because its context ended: errors.Is finds ctx.Err()
// (context.Canceled or context.DeadlineExceeded) and the context's cause, never ErrNetwork.
type contextError struct {
	method, url string
	err         error // ctx.Err()
	cause       error // context.Cause(ctx) when it says more, else nil
}

func newContextError(ctx context.Context, method, rawURL string) error {
	e := &contextError{method: method, url: rawURL, err: ctx.Err()}
	if cause := context.Cause(ctx); cause != nil && cause != e.err {
		e.cause = cause
	}
	return e
}

func (e *contextError) Error() string {
	s := fmt.Sprintf("%s %s: %v", e.method, e.url, e.err)
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *contextError) Unwrap() []error {
	// A cause that is itself a network error must not make this look like one.
	if e.cause != nil && !errors.Is(e.cause, ErrNetwork) {
		return []error{e.err, e.cause}
	}
	return []error{e.err}
}

func (r *response) malformed(format string, args ...any) *ResponseError {
	e := &ResponseError{Method: r.method, URL: r.url, Status: r.status, Reason: fmt.Sprintf(format, args...)}
	if r.body != nil {
		e.Body = bytes.Clone(r.body)
	}
	return e
}

func (r *response) ok() bool { return r.status >= 200 && r.status <= 299 }

// itemRequest is a request about one item.
type itemRequest struct {
	method    string
	url       string
	body      []byte // nil: none
	version   string // for If-Match; "" sends none
	id        string // the item's id, which the answer must carry; "" when the server picks it
	noContent bool   // a 204 is an answer (nil)
	insert    bool   // a POST that creates the item: its 409 body needs the ETag's word
}

// sendItem makes a single-item request and returns the row it answers with.
func (c *Client) sendItem(ctx context.Context, req itemRequest) (Item, error) {
	r, err := c.send(ctx, req.method, req.url, req.body, req.version)
	if err != nil {
		return nil, err
	}
	defer r.release()
	if !r.ok() {
		return nil, c.httpError(r, req)
	}
	if r.status == http.StatusNoContent && req.noContent {
		return nil, nil
	}
	item, reason := decodeItem(c.cfg.dialect, r.body, req.id)
	if reason != "" {
		return nil, r.malformed("%s", reason)
	}
	return item, nil
}

// httpError describes a non-2xx answer. The message is the body's "error" (both dialects'
// error bodies have one), else the status text. A 409 or 412 to a write whose body is a row of
// the item with a version becomes ServerItem, but for an insert's 409 only when the ETag names
// that version: Node's azure-mobile-apps answers a duplicate insert with the item it was sent
// (no version, an ETag that is a hash of the body), which is not the server's row.
func (c *Client) httpError(r *response, req itemRequest) *HTTPError {
	e := &HTTPError{Method: r.method, URL: r.url, Status: r.status, Body: bytes.Clone(r.body)}
	var obj Item
	if json.Unmarshal(r.body, &obj) == nil && obj != nil {
		conflict := r.status == http.StatusConflict || r.status == http.StatusPreconditionFailed
		if conflict && req.method != "" && req.method != http.MethodGet && checkItem(c.cfg.dialect, obj, req.id) == "" {
			v := versionOf(c.cfg.dialect, obj)
			if v != "" && (!req.insert || etagNames(r.header.Get("ETag"), v)) {
				e.ServerItem = obj
			}
		} else if msg, ok := obj["error"].(string); ok && msg != "" {
			e.Message = msg
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(r.status)
		if e.Message == "" {
			e.Message = fmt.Sprintf("HTTP status %d", r.status)
		}
	}
	return e
}

// decodeItem reads a single-item answer about item id ("": any); reason says why it is not
// one.
func decodeItem(d Dialect, body []byte, id string) (Item, string) {
	var item Item
	if err := json.Unmarshal(body, &item); err != nil {
		return nil, "expected a JSON object: " + describeJSONError(body, err)
	}
	if item == nil {
		return nil, "expected a JSON object, got null"
	}
	if reason := checkItem(d, item, id); reason != "" {
		return nil, reason
	}
	return item, ""
}

// checkItem says what makes item unusable as a row ("" if nothing): it needs a non-empty
// string id, the one asked about when id is not "" (ids match case-insensitively, as the
// servers match them), and a version, if present, must be a string. An answer about another
// item, stored as this one's, would overwrite a row nobody wrote.
func checkItem(d Dialect, item Item, id string) string {
	v, ok := lookup(item, ColumnID)
	if !ok {
		return "the item has no id"
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return fmt.Sprintf("the item's id %s is not a non-empty string", jsonText(v))
	}
	if id != "" && !strings.EqualFold(s, id) {
		return fmt.Sprintf("the answer is about item %q, not %q", s, id)
	}
	col := d.Column(ColumnVersion)
	if v, ok := lookup(item, col); ok {
		if _, ok := v.(string); !ok {
			return fmt.Sprintf("the item's %s %s is not a string", col, jsonText(v))
		}
	}
	return ""
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

func describeJSONError(body []byte, err error) string {
	if err == nil {
		return fmt.Sprintf("got %s", shorten(body))
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("got a JSON %s at offset %d", te.Value, te.Offset)
	}
	return err.Error()
}

func shorten(b []byte) string {
	const limit = 64
	if len(b) > limit {
		return fmt.Sprintf("%q...", b[:limit])
	}
	return fmt.Sprintf("%q", b)
}
