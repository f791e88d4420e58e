package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxLinkGrowth is how much longer than a query's first request a next-page link may be. A
// server's link changes $skip and $top, or carries a continuation token; one that keeps
// growing page after page is a loop dressed as progress.
const maxLinkGrowth = 4096

// pager keeps the count of one query or pull against the client's PagingLimits, and the
// pages it has read, so that no page is read twice.
type pager struct {
	op       string // for errors: "query of todoitem"
	lim      PagingLimits
	pages    int
	rows     int
	seen     map[[sha256.Size]byte]struct{}
	firstLen int
	last     string // the URL of the page read last, as requested
	lastKey  string
}

func (c *Client) newPager(op string) *pager { return &pager{op: op, lim: c.cfg.paging} }

// admit counts a request about to be sent. It refuses one over the page limit, a page read
// before, and a next-page link (fromLink: a URL the server chose) that has grown too long.
func (p *pager) admit(rawURL string, fromLink bool) error {
	if p.pages >= p.lim.Pages {
		return &PagingLimitError{Op: p.op, URL: rawURL, Limit: "pages", Max: p.lim.Pages}
	}
	key := pageKey(rawURL)
	if p.seen == nil {
		p.seen, p.firstLen = map[[sha256.Size]byte]struct{}{}, len(key)
	}
	h := sha256.Sum256([]byte(key))
	if _, ok := p.seen[h]; ok {
		reason := fmt.Sprintf("the next-page link %q points at a page already read", rawURL)
		if key == p.lastKey {
			reason = fmt.Sprintf("the next-page link %q points at the page it came with", rawURL)
		}
		return &ResponseError{Method: http.MethodGet, URL: p.last, Status: http.StatusOK, Reason: reason}
	}
	if fromLink && len(key) > p.firstLen+maxLinkGrowth {
		return &ResponseError{Method: http.MethodGet, URL: p.last, Status: http.StatusOK,
			Reason: fmt.Sprintf("the next-page link is %d bytes long, over %d more than the first request: a link that only grows", len(key), maxLinkGrowth)}
	}
	p.seen[h] = struct{}{}
	p.pages++
	p.last, p.lastKey = rawURL, key
	return nil
}

// received counts the rows of a page and refuses them when they go over the row limit.
func (p *pager) received(rawURL string, n int) error {
	p.rows += n
	if p.rows > p.lim.Rows {
		return &PagingLimitError{Op: p.op, URL: rawURL, Limit: "rows", Max: p.lim.Rows}
	}
	return nil
}

// pageRows is the most rows a page may hold: the request's own $top, capped by the client's
// PageRows; why says which of the two it is.
func (p *pager) pageRows(reqURL *url.URL) (limit int, why string) {
	limit, why = p.lim.PageRows, "the client accepts in one page (PagingLimits.PageRows)"
	if reqURL == nil {
		return limit, why
	}
	if top, ok := intParam(reqURL.Query(), "$top"); ok && top < limit {
		return top, "its $top asked for"
	}
	return limit, why
}

// pageKey is how a page's URL is compared: parsed and written again, without a fragment.
func pageKey(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

func intParam(vals url.Values, name string) (int, bool) {
	s := vals.Get(name)
	if s == "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// fetchPage GETs one page of the table at rawURL within pg's limits. fromLink says that the
// URL is a next-page link the server chose.
func (t *Table) fetchPage(ctx context.Context, pg *pager, rawURL string, fromLink bool) (*Page, error) {
	if err := pg.admit(rawURL, fromLink); err != nil {
		return nil, err
	}
	r, err := t.c.send(ctx, http.MethodGet, rawURL, nil, "")
	if err != nil {
		return nil, err
	}
	defer r.release()
	if !r.ok() {
		return nil, t.c.httpError(r, itemRequest{})
	}
	limit, why := pg.pageRows(r.reqURL)
	p, reason := decodePage(t.c.cfg.dialect, r.body, limit, why)
	if reason != "" {
		return nil, r.malformed("%s", reason)
	}
	if err := pg.received(rawURL, len(p.Items)); err != nil {
		return nil, err
	}
	target, bare, found, err := nextLink(r.header.Values("Link"))
	switch {
	case err != nil:
		return nil, r.malformed("Link header: %v", err)
	case !found:
	case bare:
		// A link outside <...> (Node's "http://host/?$top=2&$skip=2; rel=next", with no port and
		// no table path) is never used as a URL: it only says that more rows may follow, which
		// the client then asks for itself, with $skip.
		p.Next = skipLink(r.reqURL, len(p.Items))
	default:
		ref, err := url.Parse(strings.TrimSpace(target))
		if err != nil {
			return nil, r.malformed("Link header: next-page link %q: %v", target, err)
		}
		p.Next, p.linked = r.reqURL.ResolveReference(ref).String(), true
	}
	return p, nil
}

// skipLink is the URL of the page after one of n rows read from reqURL: the same query with
// $skip advanced by n and $top, if any, reduced by n; "" when nothing is left to ask for.
func skipLink(reqURL *url.URL, n int) string {
	if n == 0 || reqURL == nil {
		return ""
	}
	vals := reqURL.Query()
	skip, _ := intParam(vals, "$skip")
	if vals.Has("$top") {
		top, ok := intParam(vals, "$top")
		if !ok || top <= n {
			return ""
		}
		vals.Set("$top", strconv.Itoa(top-n))
	}
	vals.Set("$skip", strconv.Itoa(skip+n))
	u := *reqURL
	u.RawQuery, u.Fragment, u.RawFragment = vals.Encode(), "", ""
	return u.String()
}

// checkLink parses a next-page link and refuses one that is not a page of this table on the
// client's server (scheme, host, port and the table's path): a link elsewhere would carry the
// client's headers there, and a link to another table would store its rows as this one's.
func (t *Table) checkLink(next string) (*url.URL, error) {
	u, err := url.Parse(next)
	if err != nil || !u.IsAbs() || !sameOrigin(u, t.c.base) {
		return nil, wrap(ErrBadResponse, "next-page link %q is not on %s://%s", next, t.c.base.Scheme, t.c.base.Host)
	}
	if want := t.c.base.Path + "/tables/" + t.name; !strings.EqualFold(u.Path, want) {
		return nil, wrap(ErrBadResponse, "next-page link %q is not a page of %s", next, want)
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// decodePage reads a query answer: a JSON array of rows, or {"results":[...],"count":N}. It
// decodes row by row and stops at the first row past limit, so an answer far larger than
// asked for costs no more than the rows allowed; why names the limit in the reason.
func decodePage(d Dialect, body []byte, limit int, why string) (*Page, string) {
	p := &Page{Count: -1}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	dec := json.NewDecoder(bytes.NewReader(body))
	var reason string
	switch {
	case len(trimmed) == 0:
		return nil, "expected a JSON array of rows, got an empty body"
	case trimmed[0] == '[':
		p.Items, reason = decodeRows(dec, limit, why)
		if reason != "" {
			return nil, "expected a JSON array of rows: " + reason
		}
	case trimmed[0] == '{':
		reason = decodeEnvelope(dec, p, limit, why)
		if reason != "" {
			return nil, `expected {"results":[...],"count":N}: ` + reason
		}
	default:
		return nil, "expected a JSON array of rows: " + describeJSONError(body, json.Unmarshal(body, new(any)))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "expected a JSON array of rows: " + describeJSONError(body, json.Unmarshal(body, new(any)))
	}
	for i, item := range p.Items {
		if item == nil {
			return nil, fmt.Sprintf("row %d is null", i)
		}
		if reason := checkItem(d, item, ""); reason != "" {
			return nil, fmt.Sprintf("row %d: %s", i, reason)
		}
	}
	return p, ""
}

// decodeRows reads a JSON array of objects, refusing more than limit of them.
func decodeRows(dec *json.Decoder, limit int, why string) ([]Item, string) {
	if tok, err := dec.Token(); err != nil {
		return nil, jsonReason(err)
	} else if tok != json.Delim('[') {
		return nil, fmt.Sprintf("got %v", tok)
	}
	return decodeElements(dec, limit, why)
}

// decodeElements reads the rows of an array whose '[' has been read, and its ']'.
func decodeElements(dec *json.Decoder, limit int, why string) ([]Item, string) {
	items := []Item{}
	for dec.More() {
		if len(items) >= limit {
			return nil, fmt.Sprintf("the page holds more than the %d rows %s", limit, why)
		}
		var it Item
		if err := dec.Decode(&it); err != nil {
			return nil, jsonReason(err)
		}
		items = append(items, it)
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, jsonReason(err)
	}
	return items, ""
}

// decodeEnvelope reads {"results":[...],"count":N} into p. Member names match
// case-insensitively, as encoding/json matches them; a name that comes twice is refused
// (encoding/json would merge the second array's rows into the first's).
func decodeEnvelope(dec *json.Decoder, p *Page, limit int, why string) string {
	if _, err := dec.Token(); err != nil { // '{'
		return jsonReason(err)
	}
	var results []Item
	var count *float64
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonReason(err)
		}
		name, _ := tok.(string)
		if low := strings.ToLower(name); low == "results" || low == "count" {
			if seen[low] {
				return fmt.Sprintf("%s comes more than once", low)
			}
			seen[low] = true
		}
		switch {
		case strings.EqualFold(name, "results"):
			tok, err := dec.Token()
			switch {
			case err != nil:
				return jsonReason(err)
			case tok == nil: // null: as if absent
				results = nil
			case tok == json.Delim('['):
				var reason string
				if results, reason = decodeElements(dec, limit, why); reason != "" {
					return reason
				}
			default:
				return fmt.Sprintf("results is %v, not an array", tok)
			}
		case strings.EqualFold(name, "count"):
			var n *float64
			if err := dec.Decode(&n); err != nil {
				return jsonReason(err)
			}
			count = n
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return jsonReason(err)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return jsonReason(err)
	}
	if results == nil {
		return "no results"
	}
	p.Items = results
	if count != nil {
		// The count is reported, never used to size anything: a server may say anything.
		n := *count
		if n < 0 || n != math.Trunc(n) || n > math.MaxInt32 {
			return fmt.Sprintf("count %v is not a row count", n)
		}
		p.Count = int(n)
	}
	return ""
}

func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("got a JSON %s at offset %d", te.Value, te.Offset)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return "unexpected end of JSON input"
	}
	return err.Error()
}

// nextLink finds the rel=next link among Link header values (RFC 8288: several links per
// value, separated by commas; parameters with token or quoted values; rel may list several
// types). bare says the target was not inside <...>, as Node's azure-mobile-apps writes it.
func nextLink(values []string) (target string, bare, found bool, err error) {
	for _, v := range values {
		links, err := parseLinks(v)
		if err != nil {
			return "", false, false, err
		}
		for _, l := range links {
			for _, rel := range strings.Fields(l.rel) {
				if strings.EqualFold(rel, "next") {
					return l.target, l.bare, true, nil
				}
			}
		}
	}
	return "", false, false, nil
}

type link struct {
	target, rel string
	bare        bool // the target was not in <...>
}

// parseLinks parses one Link header value. A target in <...> must be well formed; a bare
// target (Node's form) runs to the next ';' or ',' and is only ever read for its rel.
func parseLinks(s string) ([]link, error) {
	var links []link
	i := 0
	skipSpace := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
			i++
		}
		if i == len(s) {
			return links, nil
		}
		var l link
		if s[i] == '<' {
			end := strings.IndexByte(s[i+1:], '>')
			if end < 0 {
				return nil, fmt.Errorf("unterminated '<' in %q", s)
			}
			l.target = s[i+1 : i+1+end]
			i += end + 2
		} else {
			start := i
			for i < len(s) && s[i] != ';' && s[i] != ',' {
				i++
			}
			l.target, l.bare = strings.TrimSpace(s[start:i]), true
		}
		relSeen := false
		for {
			skipSpace()
			if i == len(s) || s[i] == ',' {
				break
			}
			if s[i] != ';' {
				return nil, fmt.Errorf("expected ';' or ',' at offset %d of %q", i, s)
			}
			i++
			skipSpace()
			start := i
			for i < len(s) && !strings.ContainsRune("=;, \t", rune(s[i])) {
				i++
			}
			name := s[start:i]
			if name == "" {
				return nil, fmt.Errorf("empty parameter name at offset %d of %q", i, s)
			}
			skipSpace()
			value := ""
			if i < len(s) && s[i] == '=' {
				i++
				skipSpace()
				if i < len(s) && s[i] == '"' {
					var b strings.Builder
					i++
					for ; i < len(s) && s[i] != '"'; i++ {
						if s[i] == '\\' && i+1 < len(s) {
							i++
						}
						b.WriteByte(s[i])
					}
					if i == len(s) {
						return nil, fmt.Errorf("unterminated quoted string in %q", s)
					}
					i++
					value = b.String()
				} else {
					start := i
					for i < len(s) && !strings.ContainsRune(";, \t", rune(s[i])) {
						i++
					}
					value = s[start:i]
				}
			}
			if strings.EqualFold(name, "rel") && !relSeen { // RFC 8288: the first rel counts
				l.rel, relSeen = value, true
			}
		}
		links = append(links, l)
	}
}
