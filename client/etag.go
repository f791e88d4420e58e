package client

import "strings"

// The client reads ETags in one place only: to tell whether the body of an insert's 409 is
// the server's row (the ETag names the body's version) or something else, such as the item it
// sent, echoed. A weak ETag (W/"...") is read like a strong one for that comparison (RFC 9110's
// weak comparison), since a proxy that compresses a response may weaken its tag. Nothing the
// client sends comes from an ETag: If-Match is always built from the version in a row's body,
// as a quoted strong tag (ifMatch), never from a weak tag and never as the wildcard *.

// etagNames reports whether the ETag header value h, weak or strong, is the entity tag of
// version.
func etagNames(h, version string) bool {
	tag, ok := parseETag(h)
	return ok && tag == version
}

// parseETag returns the opaque tag of an ETag header value: W/ dropped, the quotes removed and
// \" and \\ escapes undone (Node escapes a quote in a version so). An unquoted value is taken
// as it is; an empty one is no tag.
func parseETag(h string) (string, bool) {
	h = strings.TrimSpace(h)
	if len(h) >= 2 && (h[0] == 'W' || h[0] == 'w') && h[1] == '/' {
		h = strings.TrimSpace(h[2:])
	}
	if h == "" {
		return "", false
	}
	if len(h) < 2 || h[0] != '"' || h[len(h)-1] != '"' {
		return h, true
	}
	inner := h[1 : len(h)-1]
	if !strings.ContainsRune(inner, '\\') {
		return inner, true
	}
	var b strings.Builder
	for i := 0; i < len(inner); i++ {
		if inner[i] == '\\' && i+1 < len(inner) {
			i++
		}
		b.WriteByte(inner[i])
	}
	return b.String(), true
}
