package fakeserver

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Listener wraps ln so that the answers net/http gives by itself, before any handler runs,
// are JSON like every other answer, and are recorded in the history. Serve the server's
// Handler on it (Start and `conflictlab serve` do).
//
// net/http answers on its own, in plain text, a request it cannot read:
//
//   - 400 for a malformed request line or header, a missing or bad Host, a bad method;
//   - 431 for headers over the server's MaxHeaderBytes;
//   - 501 for a Transfer-Encoding other than chunked, and 505 for an HTTP version it does
//     not speak;
//   - 417 for an Expect header other than 100-continue (with an empty body).
//
// The wrapper rewrites each of these, as it is written to the connection, into a JSON error
// in the server's dialect with the same message; the 501 and the 505 become 400s, since the
// request is the client's mistake and this server promises no 5xx. What it cannot change:
// the connection still closes after such an answer; a client that sends nothing, too slowly
// (the http.Server's timeouts) or only half a request gets no answer at all, as net/http
// gives none; and the event such an answer leaves in the history has no method, path or
// client, which net/http never parsed.
func (s *Server) Listener(ln net.Listener) net.Listener {
	return &jsonErrorListener{Listener: ln, srv: s}
}

type jsonErrorListener struct {
	net.Listener
	srv *Server
}

func (l *jsonErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrorConn{Conn: c, srv: l.srv}, nil
}

// jsonErrorConn rewrites net/http's own answers on their way out. They are easy to tell from
// a handler's: net/http writes the whole answer in one Write, and its headers are exactly a
// text/plain Content-Type and Connection: close (no Date, which every answer through a
// ResponseWriter has), or its status is 417, which no handler here sends.
type jsonErrorConn struct {
	net.Conn
	srv *Server
}

func (c *jsonErrorConn) Write(p []byte) (int, error) {
	if out, ok := c.srv.rewriteNetHTTPError(p); ok {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite and SetLinger reach the TCP connection beneath, for net/http's graceful close
// after a 431 and for the reset fault.
func (c *jsonErrorConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *jsonErrorConn) SetLinger(sec int) error {
	if l, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
		return l.SetLinger(sec)
	}
	return nil
}

const netHTTPErrorHeaders = "Content-Type: text/plain; charset=utf-8\r\nConnection: close"

func (s *Server) rewriteNetHTTPError(p []byte) ([]byte, bool) {
	if !bytes.HasPrefix(p, []byte("HTTP/1.")) {
		return nil, false
	}
	head, body, ok := bytes.Cut(p, []byte("\r\n\r\n"))
	if !ok {
		return nil, false
	}
	statusLine, headers, _ := strings.Cut(string(head), "\r\n")
	_, rest, _ := strings.Cut(statusLine, " ")
	if len(rest) < 3 {
		return nil, false
	}
	code, err := strconv.Atoi(rest[:3])
	if err != nil {
		return nil, false
	}
	var msg string
	keep := ""
	switch {
	case headers == netHTTPErrorHeaders && code >= 400:
		msg = string(body)
		// "400 Bad Request: missing required Host header" → the part after the status.
		if _, after, found := strings.Cut(msg, statusTextPrefix(code)); found {
			msg = strings.TrimPrefix(after, ": ")
		}
		if msg == "" {
			msg = "the request could not be read: a malformed request line or header"
			if code == http.StatusRequestHeaderFieldsTooLarge {
				msg = "the request's headers are larger than this server reads (http.Server.MaxHeaderBytes)"
			}
		}
		switch code {
		case http.StatusNotImplemented:
			code, msg = http.StatusBadRequest, "unsupported Transfer-Encoding: this server reads chunked bodies or a Content-Length"
		case http.StatusHTTPVersionNotSupported:
			code, msg = http.StatusBadRequest, "unsupported protocol version: this server speaks HTTP/1.x"
		}
	case code == http.StatusExpectationFailed && len(body) == 0:
		msg = "unsupported Expect header: this server supports Expect: 100-continue only"
		for _, h := range strings.Split(headers, "\r\n") {
			if k, _, _ := strings.Cut(h, ":"); !strings.EqualFold(k, "Content-Length") && !strings.EqualFold(k, "Content-Type") {
				keep += h + "\r\n"
			}
		}
	default:
		return nil, false
	}
	msg = "net/http refused the request: " + msg
	js := appendString([]byte(`{"error":`), msg)
	if s.cfg.Dialect == V1 {
		js = append(js, `,"code":`+strconv.Itoa(code)...)
	}
	js = append(js, "}\n"...)
	if keep == "" {
		keep = "Connection: close\r\n"
	}
	out := "HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code) + "\r\n" + keep +
		"Content-Type: application/json; charset=utf-8\r\nContent-Length: " + strconv.Itoa(len(js)) + "\r\n\r\n" + string(js)
	s.appendEvent(&Event{Source: SourceHTTP, Status: code, Error: msg})
	return []byte(out), true
}

// statusTextPrefix is "400 Bad Request" for 400, the start of net/http's plain-text answers.
func statusTextPrefix(code int) string { return strconv.Itoa(code) + " " + http.StatusText(code) }
