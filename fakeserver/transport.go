package fakeserver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
)

// Transport returns an http.RoundTripper that serves each request with the server's Handler in
// the caller's goroutine, with no socket in between: for tests and property runs that make
// thousands of requests. Everything a request meets is the same as over TCP — the middleware,
// the history, the faults — except how a hang-up looks: a fault that closes the connection
// (reset, offline, drop-response, timeout) makes RoundTrip fail with a *net.OpError, as a
// reset connection would. A timeout fault waits for the request's context, so give the client
// a timeout (or a deadline) when one is in force.
func (s *Server) Transport() http.RoundTripper { return &memTransport{h: s.Handler()} }

type memTransport struct{ h http.Handler }

func (t *memTransport) RoundTrip(req *http.Request) (res *http.Response, err error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	in := req.Clone(context.WithValue(req.Context(), inMemoryKey{}, true))
	in.RemoteAddr = "127.0.0.1:0"
	in.RequestURI = req.URL.RequestURI()
	in.Host = req.URL.Host
	if in.Body == nil {
		in.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	aborted := false
	func() {
		defer func() {
			if p := recover(); p != nil {
				if p != http.ErrAbortHandler {
					panic(p)
				}
				aborted = true
			}
		}()
		t.h.ServeHTTP(rec, in)
	}()
	if req.Body != nil {
		_ = req.Body.Close()
	}
	if aborted {
		if err := req.Context().Err(); err != nil {
			return nil, err
		}
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: errConnectionClosed}
	}
	res = rec.Result()
	res.Request = req
	return res, nil
}

var errConnectionClosed = errors.New("the server closed the connection without an answer")

// inMemoryKey marks a request served by Transport: no network, so no browser and no DNS
// rebinding, whatever its Host says.
type inMemoryKey struct{}

func inMemory(r *http.Request) bool {
	v, _ := r.Context().Value(inMemoryKey{}).(bool)
	return v
}
