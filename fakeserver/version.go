package fakeserver

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
)

// EncodeVersion renders a version counter the way SQL Server renders a rowversion: base64 of
// the 8-byte big-endian value ("AAAAAAAAB9E=" for 2001).
func EncodeVersion(n uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return base64.StdEncoding.EncodeToString(b[:])
}

// DecodeVersion is the inverse of EncodeVersion. Versions are opaque to clients; this exists
// for checkers that want to order them.
func DecodeVersion(s string) (uint64, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 8 {
		return 0, fmt.Errorf("fakeserver: %q is not a version", s)
	}
	return binary.BigEndian.Uint64(b), nil
}

// etag quotes a version for the ETag header.
func etag(version string) string { return `"` + version + `"` }

// ifMatch is a parsed If-Match header.
type ifMatch struct {
	any      bool     // "*"
	versions []string // any of these matches
}

func (m *ifMatch) matches(version string) bool {
	if m.any {
		return true
	}
	for _, v := range m.versions {
		if v == version {
			return true
		}
	}
	return false
}

// parseIfMatch accepts what clients send: a quoted version (inner quotes escaped as \"), a
// weak W/"…" tag, a comma-separated list of those, "*", or a bare unquoted version, which is
// taken as the version itself. It returns nil when the header is absent.
func parseIfMatch(values []string) (*ifMatch, error) {
	if len(values) == 0 {
		return nil, nil
	}
	m := &ifMatch{}
	for _, raw := range values {
		s := strings.TrimSpace(raw)
		if s == "" {
			return nil, fmt.Errorf("If-Match header is empty")
		}
		if s == "*" {
			m.any = true
			continue
		}
		if !strings.HasPrefix(s, `"`) && !strings.HasPrefix(s, `W/"`) {
			m.versions = append(m.versions, s)
			continue
		}
		for s != "" {
			s = strings.TrimPrefix(s, "W/")
			if !strings.HasPrefix(s, `"`) {
				return nil, fmt.Errorf("If-Match: expected a quoted version at %q", s)
			}
			v, rest, err := unquoteTag(s)
			if err != nil {
				return nil, err
			}
			m.versions = append(m.versions, v)
			rest = strings.TrimSpace(rest)
			if rest == "" {
				break
			}
			if !strings.HasPrefix(rest, ",") {
				return nil, fmt.Errorf("If-Match: unexpected %q after a version", rest)
			}
			s = strings.TrimSpace(rest[1:])
			if s == "" {
				return nil, fmt.Errorf("If-Match: trailing comma")
			}
		}
	}
	return m, nil
}

// unquoteTag reads one quoted tag from the front of s, undoing \" and \\ escapes.
func unquoteTag(s string) (tag, rest string, err error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", fmt.Errorf("If-Match: unterminated quoted version")
}
