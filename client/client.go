package client

import (
	"cmp"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
)

// DefaultUserAgent is the User-Agent a Client sends unless WithUserAgent says otherwise.
const DefaultUserAgent = "conflictlab-client/1 (Go)"

// DefaultTimeout bounds each request of a Client unless WithTimeout says otherwise.
const DefaultTimeout = 30 * time.Second

// ClientOption configures a Client.
type ClientOption func(*clientConfig)

type clientConfig struct {
	dialect        Dialect
	httpClient     *http.Client
	timeout        time.Duration
	authToken      string
	appKey         string
	installationID string
	userAgent      string
	paging         PagingLimits
}

// WithDialect chooses the wire protocol (default V2).
func WithDialect(d Dialect) ClientOption { return func(c *clientConfig) { c.dialect = d } }

// WithHTTPClient sends the requests through h, with its transport, redirect policy and
// cookies. By default a Client has an *http.Client of its own (never http.DefaultClient),
// keeping connections alive between requests and following no redirects: a table protocol
// has no use for them, and a redirect would carry X-ZUMO-AUTH to wherever it points.
func WithHTTPClient(h *http.Client) ClientOption { return func(c *clientConfig) { c.httpClient = h } }

// WithTimeout bounds each request, from sending it to reading the whole response (default
// 30s; 0: no bound). A request that runs out of it fails with a *NetworkError whose
// Timeout() is true, which is not the error the caller's own context gives when it ends.
func WithTimeout(d time.Duration) ClientOption { return func(c *clientConfig) { c.timeout = d } }

// WithAuthToken sends tok as X-ZUMO-AUTH, the v2 servers' authentication token.
func WithAuthToken(tok string) ClientOption { return func(c *clientConfig) { c.authToken = tok } }

// WithAppKey sends key as X-ZUMO-APPLICATION, the v1 servers' application key.
func WithAppKey(key string) ClientOption { return func(c *clientConfig) { c.appKey = key } }

// WithInstallationID sends id as X-ZUMO-INSTALLATION-ID, by which servers (and the fake
// server's history) tell clients apart. By default each Client picks a random UUID once.
func WithInstallationID(id string) ClientOption {
	return func(c *clientConfig) { c.installationID = id }
}

// WithUserAgent sets the User-Agent header (default DefaultUserAgent).
func WithUserAgent(ua string) ClientOption { return func(c *clientConfig) { c.userAgent = ua } }

// The default PagingLimits. They are sanity bounds, not quotas: they stop a server that never
// stops answering with pages, while a real table of up to a million rows pulls in one go.
const (
	DefaultMaxPages    = 10_000
	DefaultMaxRows     = 1_000_000
	DefaultMaxPageRows = 10_000
)

// PagingLimits bound what one Table.Query or SyncTable.Pull reads; a zero field takes its
// default. Going over Pages or Rows fails the call with a *PagingLimitError (ErrPagingLimit);
// a page holding more than PageRows rows, or more than the $top its request asked for, is a
// *ResponseError (ErrBadResponse), found before the rows past the limit are decoded.
type PagingLimits struct {
	Pages    int // requests per query or pull (default DefaultMaxPages)
	Rows     int // rows received per query or pull (default DefaultMaxRows)
	PageRows int // rows in one page (default DefaultMaxPageRows); a pull asks for no more
}

// WithPagingLimits sets the client's PagingLimits (docs/client.md says how paging works).
func WithPagingLimits(l PagingLimits) ClientOption { return func(c *clientConfig) { c.paging = l } }

// Client talks to one table server: the SDKs' MSClient. Its tables (Table) read and write
// online; a SyncContext built on it adds the offline store. A Client is immutable and safe for
// concurrent use by many goroutines; reuse it, so its connections are reused.
type Client struct {
	base    *url.URL // scheme and host lower-case, path without a trailing slash
	baseStr string
	cfg     clientConfig
	http    *http.Client
}

// New returns a client for the server at baseURL, an absolute http or https URL (the tables
// live under baseURL + "/tables/"); a trailing slash is ignored. A bad URL or option is an
// error wrapping ErrInvalidOperation.
//
// In the V1 dialect every request carries __systemproperties=* (unless a query sets that
// parameter itself), so every response holds every system column, as in v2: an item read
// online can be written back with its __version and compared by its __updatedAt.
func New(baseURL string, opts ...ClientOption) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, wrap(ErrInvalidOperation, "base URL %q: %v", baseURL, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, wrap(ErrInvalidOperation, "base URL %q: want an absolute http or https URL", baseURL)
	case u.Host == "" || u.Opaque != "":
		return nil, wrap(ErrInvalidOperation, "base URL %q: no host", baseURL)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, wrap(ErrInvalidOperation, "base URL %q: a query or fragment cannot be extended with /tables/...", baseURL)
	case u.User != nil:
		// Every error names the URL it was about; credentials have no place there.
		return nil, wrap(ErrInvalidOperation, "base URL %s: no credentials in the URL, please: use WithAuthToken, WithAppKey or WithHTTPClient", u.Redacted())
	}
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")

	cfg := clientConfig{dialect: V2, timeout: DefaultTimeout, userAgent: DefaultUserAgent}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	if cfg.dialect != V1 && cfg.dialect != V2 {
		return nil, wrap(ErrInvalidOperation, "unknown dialect %d", int(cfg.dialect))
	}
	if cfg.timeout < 0 {
		return nil, wrap(ErrInvalidOperation, "negative timeout %v", cfg.timeout)
	}
	if cfg.paging.Pages < 0 || cfg.paging.Rows < 0 || cfg.paging.PageRows < 0 {
		return nil, wrap(ErrInvalidOperation, "negative paging limit %+v", cfg.paging)
	}
	cfg.paging.Pages = cmp.Or(cfg.paging.Pages, DefaultMaxPages)
	cfg.paging.Rows = cmp.Or(cfg.paging.Rows, DefaultMaxRows)
	cfg.paging.PageRows = cmp.Or(cfg.paging.PageRows, DefaultMaxPageRows)
	if cfg.installationID == "" {
		cfg.installationID = uuid.NewString()
	}
	// A value that cannot travel in a header would fail every request, and look like a
	// network error; say so now.
	for _, h := range []struct{ name, value string }{
		{"X-ZUMO-AUTH", cfg.authToken}, {"X-ZUMO-APPLICATION", cfg.appKey},
		{"X-ZUMO-INSTALLATION-ID", cfg.installationID}, {"User-Agent", cfg.userAgent},
	} {
		if !validHeaderValue(h.value) {
			return nil, wrap(ErrInvalidOperation, "%s %q cannot be sent in a header", h.name, h.value)
		}
	}
	c := &Client{base: u, baseStr: u.String(), cfg: cfg, http: cfg.httpClient}
	if c.http == nil {
		c.http = newHTTPClient()
	}
	return c, nil
}

// newHTTPClient is a Client's own: keep-alive with room for many concurrent requests to the
// one server, and no redirects.
func newHTTPClient() *http.Client {
	var tr *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		tr = dt.Clone()
	} else {
		tr = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		}
	}
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Dialect returns the wire protocol the client speaks.
func (c *Client) Dialect() Dialect { return c.cfg.dialect }

// BaseURL returns the server's URL as the client uses it: scheme and host in lower case,
// without a trailing slash.
func (c *Client) BaseURL() string { return c.baseStr }

// PagingLimits returns the limits the client pages within, defaults filled in.
func (c *Client) PagingLimits() PagingLimits { return c.cfg.paging }

// InstallationID returns the X-ZUMO-INSTALLATION-ID the client sends.
func (c *Client) InstallationID() string { return c.cfg.installationID }

var tableNameRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,128}$`)

// Table returns the online table of that name: the SDKs' MSTable. The name must match
// [A-Za-z0-9_]{1,128}; a Table with another name fails every call with ErrInvalidOperation.
func (c *Client) Table(name string) *Table {
	t := &Table{c: c, name: name}
	if !tableNameRE.MatchString(name) {
		t.err = wrap(ErrInvalidOperation, "table name %q: want [A-Za-z0-9_]{1,128}", name)
		return t
	}
	t.url = c.baseStr + "/tables/" + name
	return t
}

// validHeaderValue reports whether s can be a header field value: no control characters
// but tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}
