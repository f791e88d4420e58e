package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
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
//     is not a string) is a *ResponseError (ErrBadResponse);
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
	// Next is the absolute URL of the next page (the response's Link rel=next), "" when the
	// server sent none. Table.NextPage fetches it.
	Next string
}

// Name returns the table's name.
func (t *Table) Name() string { return t.name }

// Insert creates item on the server (POST /tables/{t}) and returns the server's row. An item
// without an id, or with a nil one, gets an id from the server. A 409 means the id exists;
// the error's ServerItem is the server's row (a tombstone if it was deleted).
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
	return t.c.sendItem(ctx, itemRequest{method: http.MethodPost, url: t.c.withSystemProperties(t.url), body: body, id: id})
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
	return t.c.sendItem(ctx, req)
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
	return t.c.sendItem(ctx, req)
}

// Undelete brings back a soft-deleted item (POST /tables/{t}/{id}), with If-Match when item
// has a version, and returns the live row.
func (t *Table) Undelete(ctx context.Context, item Item) (Item, error) {
	req, err := t.itemRequest(http.MethodPost, "undelete", item)
	if err != nil {
		return nil, err
	}
	return t.c.sendItem(ctx, req)
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
// at most the server's page size of rows, and the link to the next page if the server sent
// one.
func (t *Table) QueryPage(ctx context.Context, q *Query) (*Page, error) {
	if t.err != nil {
		return nil, t.err
	}
	if err := q.Err(); err != nil {
		return nil, err
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
	return t.c.sendPage(ctx, u)
}

// NextPage fetches the page at next, a Page.Next of an earlier answer. It must be on the
// client's server (the base URL's scheme and host): a link elsewhere is refused with an
// error wrapping ErrBadResponse, and nothing is sent.
func (t *Table) NextPage(ctx context.Context, next string) (*Page, error) {
	if t.err != nil {
		return nil, t.err
	}
	u, err := url.Parse(next)
	if err != nil || !u.IsAbs() || !sameOrigin(u, t.c.base) {
		return nil, wrap(ErrBadResponse, "next-page link %q is not on %s://%s", next, t.c.base.Scheme, t.c.base.Host)
	}
	u.Fragment, u.RawFragment = "", ""
	return t.c.sendPage(ctx, t.c.withSystemProperties(u.String()))
}

// Query returns every row q selects (nil: every row), following the server's next-page links
// until there is none, a page is empty, or q's Top rows have come.
func (t *Table) Query(ctx context.Context, q *Query) ([]Item, error) {
	p, err := t.QueryPage(ctx, q)
	if err != nil {
		return nil, err
	}
	top := -1
	if q != nil {
		top = q.top
	}
	items := p.Items
	if p.Count > len(items) && p.Next != "" {
		want := p.Count
		if top >= 0 {
			want = min(want, top)
		}
		items = make([]Item, 0, want)
		items = append(items, p.Items...)
	}
	seen := ""
	for p.Next != "" && len(p.Items) > 0 && (top < 0 || len(items) < top) {
		if p.Next == seen {
			return nil, wrap(ErrBadResponse, "the next-page link %q points at the page it came with", p.Next)
		}
		seen = p.Next
		if p, err = t.NextPage(ctx, p.Next); err != nil {
			return nil, err
		}
		items = append(items, p.Items...)
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
