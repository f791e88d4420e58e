package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/conflictlab/conflictlab/internal/mutants"
	"github.com/conflictlab/conflictlab/internal/odata"
)

// Table reads and writes one table of the server directly, without the local store: the
// SDKs' MSTable. Get one from Client.Table. A Table is safe for concurrent use.
//
// Every method honours ctx. Its errors:
//   - a status outside 2xx is an *HTTPError (errors.Is ErrPreconditionFailed for a 412,
//     ErrConflict for a 409, ErrNotFound for a 404, ErrAuthentication for a 401); a 409 or 412
//     whose body is the server's row carries it as ServerItem;
//   - no response (connection refused or reset, the client's WithTimeout ran out) is a
//     *NetworkError (errors.Is ErrNetwork);
//   - when ctx itself ends, the error satisfies errors.Is(err, context.Canceled) or
//     errors.Is(err, context.DeadlineExceeded) and is not a *NetworkError;
//   - a 2xx answer that is not what the protocol says (not the JSON expected, a row without a
//     non-empty string id, a row about another item than the one asked about, a version that
//     is not a string, a page with more rows than asked for, a next-page link the client must
//     not follow) is a *ResponseError or wraps ErrBadResponse;
//   - a Query that goes over the client's PagingLimits is a *PagingLimitError
//     (ErrPagingLimit);
//   - an item or query that cannot be sent wraps ErrInvalidOperation or ErrInvalidQuery, and
//     nothing is sent.
//
// Writes never send createdAt, updatedAt or deleted (either dialect's spelling): only the
// server sets them. The version is sent, and also goes in If-Match. The caller's item is never
// modified; the item returned is the server's row, with every system column.
type Table struct {
	c    *Client
	name string
	url  string // the table's absolute URL
	err  error  // a bad name
}

// Page is one response to a query.
type Page struct {
	Items []Item
	// Count is the number of rows matching the query regardless of $top and $skip, when the
	// query asked for it (Query.IncludeTotalCount); -1 otherwise.
	Count int
	// Next is the absolute URL of the next page, "" when there is none. It is the response's
	// Link rel=next when that is a standard <URL> link (resolved against the request's URL; it
	// may point anywhere: NextPage refuses what is not a page of this table on the client's
	// server). When the server's link is not inside <...> (Node's form, with no port and no
	// table path) the client never uses it as a URL: Next is then the same query with $skip
	// advanced by the rows of this page and $top, if any, reduced by them ("" when nothing is
	// left of $top or the page is empty). Table.NextPage fetches it.
	Next string

	linked bool // Next is the server's own link
}

// Name returns the table's name.
func (t *Table) Name() string { return t.name }

// Insert creates item on the server (POST /tables/{t}) and returns the server's row. An item
// without an id, or with a nil one, gets an id from the server. A 409 means the id exists;
// the error's ServerItem is the server's row (a tombstone if it was deleted). When the 409's
// body cannot be taken for that row (no version, or an ETag that does not name its version:
// Node echoes the item sent), Insert reads the row before it returns (see write).
func (t *Table) Insert(ctx context.Context, item Item) (Item, error) {
	if t.err != nil {
		return nil, t.err
	}
	id := ""
	if v, ok := lookup(item, ColumnID); ok && v != nil {
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, wrap(ErrInvalidOperation, "insert into %s: the id must be a non-empty string, got %#v", t.name, v)
		}
		id = s
	}
	body, err := t.writeBody(item, true)
	if err != nil {
		return nil, err
	}
	return t.write(ctx, itemRequest{method: http.MethodPost, url: t.c.withSystemProperties(t.url), body: body, id: id, insert: true})
}

// Update merges item's properties into the server's row (PATCH /tables/{t}/{id}) and returns
// the whole row. When item has a version, it goes in If-Match and a 412 means the server's
// row has another: the error's ServerItem is that row.
func (t *Table) Update(ctx context.Context, item Item) (Item, error) {
	req, err := t.itemRequest(http.MethodPatch, "update", item)
	if err != nil {
		return nil, err
	}
	if req.body, err = t.writeBody(item, false); err != nil {
		return nil, err
	}
	return t.write(ctx, req)
}

// Delete deletes the item with item's id (DELETE /tables/{t}/{id}), with If-Match when item
// has a version. It returns the tombstone the server answers with (a 200), or nil when the
// server answers 204 (a hard delete, or a server that always does).
func (t *Table) Delete(ctx context.Context, item Item) (Item, error) {
	req, err := t.itemRequest(http.MethodDelete, "delete", item)
	if err != nil {
		return nil, err
	}
	req.noContent = true
	if mutants.On(mutants.DeleteWithoutIfMatch) {
		req.version = ""
	}
	return t.write(ctx, req)
}

// Undelete brings back a soft-deleted item (POST /tables/{t}/{id}), with If-Match when item
// has a version, and returns the live row.
func (t *Table) Undelete(ctx context.Context, item Item) (Item, error) {
	req, err := t.itemRequest(http.MethodPost, "undelete", item)
	if err != nil {
		return nil, err
	}
	return t.write(ctx, req)
}

// write sends a write. A 409 or 412 whose body is not the server's row (HTTPError.ServerItem
// is nil: no row, no version, an insert's echo) makes it read that row, so that every
// strategy settles the conflict against what the server holds: the item with
// __includeDeleted=true, and when that is 404 (Node does not return a deleted row by id even
// so) a query for the id with __includeDeleted=true. What it finds becomes ServerItem; when
// it finds nothing, or the read fails with a status or an unusable answer, ServerItem stays
// nil. A read with no response, or stopped by ctx, returns an error that is both the conflict
// and that failure.
func (t *Table) write(ctx context.Context, req itemRequest) (Item, error) {
	res, err := t.c.sendItem(ctx, req)
	var he *HTTPError
	if err == nil || !errors.As(err, &he) || !he.IsConflict() || he.ServerItem != nil || req.id == "" {
		return res, err
	}
	row, rerr := t.serverRow(ctx, req.id)
	switch {
	case rerr == nil:
		he.ServerItem = row
	case errors.Is(rerr, ErrNetwork) || isContextError(ctx, rerr):
		return nil, &conflictReadError{conflict: he, read: rerr}
	}
	return nil, he
}

// serverRow reads the server's row of item id, tombstones included; nil when there is none.
func (t *Table) serverRow(ctx context.Context, id string) (Item, error) {
	u := t.c.withSystemProperties(t.url + "/" + url.PathEscape(id) + "?__includeDeleted=true")
	row, err := t.c.sendItem(ctx, itemRequest{method: http.MethodGet, url: u, id: id})
	if !errors.Is(err, ErrNotFound) {
		return row, err
	}
	q := NewQuery().IncludeDeleted().Top(2)
	q.filter = odata.Binary{Op: "eq", Left: odata.Prop(ColumnID), Right: odata.Lit(id)}
	p, err := t.QueryPage(ctx, q)
	if err != nil {
		return nil, err
	}
	for _, exact := range []bool{true, false} {
		for _, it := range p.Items {
			if got, _ := itemID(it); got == id || (!exact && strings.EqualFold(got, id)) {
				return it, nil
			}
		}
	}
	return nil, nil
}

// Lookup returns the item with this id (GET /tables/{t}/{id}); a missing or deleted one is a
// 404 (errors.Is ErrNotFound).
func (t *Table) Lookup(ctx context.Context, id string) (Item, error) {
	if t.err != nil {
		return nil, t.err
	}
	if id == "" {
		return nil, wrap(ErrInvalidOperation, "lookup in %s: empty id", t.name)
	}
	return t.c.sendItem(ctx, itemRequest{method: http.MethodGet, url: t.c.withSystemProperties(t.url + "/" + url.PathEscape(id)), id: id})
}

// QueryPage sends q (nil: every row) as one GET /tables/{t} and returns that one response:
// at most the server's page size of rows, and the link to the next page if there is one. A
// page with more rows than q's Top (or than PagingLimits.PageRows) is a *ResponseError.
func (t *Table) QueryPage(ctx context.Context, q *Query) (*Page, error) {
	u, err := t.queryURL(q)
	if err != nil {
		return nil, err
	}
	return t.fetchPage(ctx, t.c.newPager("query of "+t.name), u, false)
}

// queryURL is the URL that sends q.
func (t *Table) queryURL(q *Query) (string, error) {
	if t.err != nil {
		return "", t.err
	}
	if err := q.Err(); err != nil {
		return "", err
	}
	vals := q.values()
	if t.c.cfg.dialect == V1 {
		if _, ok := vals[systemPropertiesParam]; !ok {
			vals.Set(systemPropertiesParam, "*")
		}
	}
	u := t.url
	if len(vals) > 0 {
		u += "?" + vals.Encode()
	}
	return u, nil
}

// NextPage fetches the page at next, a Page.Next of an earlier answer. It must be a page of
// this table on the client's server (the base URL's scheme, host and port, the table's path):
// a link elsewhere is refused with an error wrapping ErrBadResponse, and nothing is sent.
func (t *Table) NextPage(ctx context.Context, next string) (*Page, error) {
	if t.err != nil {
		return nil, t.err
	}
	u, err := t.checkLink(next)
	if err != nil {
		return nil, err
	}
	return t.fetchPage(ctx, t.c.newPager("query of "+t.name), t.c.withSystemProperties(u.String()), true)
}

// Query returns every row q selects (nil: every row), page after page until a page is empty,
// there is no next page (Page.Next) or q's Top rows have come. It reads within the client's
// PagingLimits, and refuses a next-page link elsewhere, back to a page already read, or one
// that only grows (docs/client.md).
func (t *Table) Query(ctx context.Context, q *Query) ([]Item, error) {
	u, err := t.queryURL(q)
	if err != nil {
		return nil, err
	}
	pg := t.c.newPager("query of " + t.name)
	p, err := t.fetchPage(ctx, pg, u, false)
	if err != nil {
		return nil, err
	}
	top := -1
	if q != nil {
		top = q.top
	}
	items := p.Items // grows with what comes, never sized from the count a server sends
	for p.Next != "" && len(p.Items) > 0 && (top < 0 || len(items) < top) {
		next, err := t.checkLink(p.Next)
		if err != nil {
			return nil, err
		}
		if p, err = t.fetchPage(ctx, pg, t.c.withSystemProperties(next.String()), p.linked); err != nil {
			return nil, err
		}
		items = append(items, p.Items...)
	}
	if top >= 0 && len(items) > top {
		items = items[:top:top]
	}
	return items, nil
}

// itemRequest checks what an update, delete or undelete needs and returns its request,
// without a body: the item's URL, id and version ("" for none).
func (t *Table) itemRequest(method, op string, item Item) (itemRequest, error) {
	if t.err != nil {
		return itemRequest{}, t.err
	}
	id, ok := itemID(item)
	if !ok {
		v, _ := lookup(item, ColumnID)
		return itemRequest{}, wrap(ErrInvalidOperation, "%s in %s: the item needs a non-empty string id, got %#v", op, t.name, v)
	}
	version := versionOf(t.c.cfg.dialect, item)
	if !validHeaderValue(version) {
		return itemRequest{}, wrap(ErrInvalidOperation, "%s in %s: version %q cannot be sent in If-Match", op, t.name, version)
	}
	u := t.c.withSystemProperties(t.url + "/" + url.PathEscape(id))
	return itemRequest{method: method, url: u, id: id, version: version}, nil
}

// writeBody encodes what a write sends: item without the columns only the server sets, and
// for an insert without a nil id.
func (t *Table) writeBody(item Item, insert bool) ([]byte, error) {
	out := make(Item, len(item))
	for k, v := range item {
		if isServerOwned(k) || (insert && v == nil && strings.EqualFold(k, ColumnID)) {
			continue
		}
		out[k] = v
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, wrap(ErrInvalidOperation, "item for %s cannot be sent as JSON: %v", t.name, err)
	}
	return b, nil
}

// systemPropertiesParam is v1's query parameter that asks for system columns.
const systemPropertiesParam = "__systemproperties"

// withSystemProperties adds __systemproperties=* to a v1 request's URL unless it has the
// parameter already (the next-page links of a v1 server keep it).
func (c *Client) withSystemProperties(rawURL string) string {
	if c.cfg.dialect != V1 {
		return rawURL
	}
	base, query, hasQuery := strings.Cut(rawURL, "?")
	if hasQuery {
		if vals, _ := url.ParseQuery(query); vals.Has(systemPropertiesParam) {
			return rawURL
		}
		if query != "" {
			return base + "?" + query + "&" + systemPropertiesParam + "=*"
		}
	}
	return base + "?" + systemPropertiesParam + "=*"
}

// sameOrigin reports whether u is on base's scheme, host and port.
func sameOrigin(u, base *url.URL) bool {
	return strings.EqualFold(u.Scheme, base.Scheme) &&
		strings.EqualFold(u.Hostname(), base.Hostname()) &&
		portOf(u) == portOf(base)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// ifMatch renders a version as an If-Match value: a quoted string, with '"' and '\' escaped
// by a backslash as in an HTTP quoted-string (a bare '\' would be read as an escape).
func ifMatch(version string) string {
	if !strings.ContainsAny(version, `"\`) {
		return `"` + version + `"`
	}
	var b strings.Builder
	b.Grow(len(version) + 4)
	b.WriteByte('"')
	for i := 0; i < len(version); i++ {
		if c := version[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(version[i])
	}
	b.WriteByte('"')
	return b.String()
}
