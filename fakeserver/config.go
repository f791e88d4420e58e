package fakeserver

import (
	"fmt"
	"io"
	"log"
	"math"
	"strings"
	"time"
)

// Dialect is the flavour of the wire protocol (docs/protocol.md).
type Dialect string

const (
	// V2 is Azure Mobile Apps: ZUMO-API-VERSION 2.0.x, system columns without a prefix.
	V2 Dialect = "v2"
	// V1 is Azure Mobile Services (2014): __-prefixed system columns returned on request.
	V1 Dialect = "v1"
)

// ParseDialect reads "v1" or "v2" (case-insensitive).
func ParseDialect(s string) (Dialect, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "v2", "2", "":
		return V2, nil
	case "v1", "1":
		return V1, nil
	}
	return "", fmt.Errorf("unknown dialect %q (want v1 or v2)", s)
}

// Config configures a Server. The zero value is a v2 server with soft delete, pages of 50,
// a maximum $top of 1000, 1 MiB bodies, no auth and the real clock.
type Config struct {
	Dialect Dialect
	// PageSize caps the rows of one response (default 50).
	PageSize int
	// MaxTop is the largest $top accepted (default 1000); larger is a 400.
	MaxTop int
	// MaxBodyBytes caps request bodies (default 1 MiB); larger is a 413.
	MaxBodyBytes int64
	// Clock stamps writes; nil means RealClock().
	Clock Clock
	// Seed drives every random choice (generated ids, probabilistic faults). 0 picks one at
	// random; Server.Seed reports it so a run can be repeated.
	Seed int64
	// Tables, when not empty, is the fixed list of tables: any other table is a 404. When
	// empty, a table comes into being on its first write.
	Tables []string
	// HardDelete makes every table delete rows for real (204, no tombstone);
	// HardDeleteTables does it for the named tables only.
	HardDelete       bool
	HardDeleteTables []string
	// DeleteNoContent answers every successful DELETE with 204 and no body, as the .NET
	// servers do, even when the row is kept as a tombstone.
	DeleteNoContent bool
	// AppKey, when set, must arrive in X-ZUMO-APPLICATION (the v1 way); AuthToken, when set,
	// in X-ZUMO-AUTH (the v2 way). Either missing or wrong is a 401.
	AppKey    string
	AuthToken string
	// Logger, when set, gets one line per request.
	Logger *log.Logger
	// Upstream, when set, makes the server a fault proxy in front of the server at this base
	// URL (proxy.go): it forwards every table request there, keeps no tables, and applies its
	// fault rules and records its history on the way. Dialect is then the upstream's (the
	// proxy's own requests use it), and AppKey and AuthToken are the credentials the proxy
	// sends with its own requests (a concurrent-write), not ones it checks.
	Upstream string
	// DirectClient names an installation id whose requests are another writer's: recorded
	// as direct writes and never hit by a fault rule (a proxy's scenario runner writes as
	// another writer through it).
	DirectClient string
	// Personality is whose behaviour to reproduce where real servers differ from
	// docs/protocol.md: "" for the protocol itself, PersonalityNode for the Node backend.
	Personality Personality

	// HistoryLimit is how many events the history keeps (default 100,000); older events are
	// dropped, and counted (Server.HistoryStats). HistoryBytes caps the memory they take,
	// roughly (default 64 MiB), and HistoryBodyBytes the write body one event keeps (default
	// 16 KiB; a larger body is left out and its size noted). -1 lifts a limit.
	HistoryLimit     int
	HistoryBytes     int64
	HistoryBodyBytes int
	// HistoryWriter, when set, gets every event as a line of JSON (JSON Lines), in sequence
	// order, through a buffer: Server.FlushHistory writes the buffer out and reports the first
	// error. The in-memory history is kept as well, within its limits.
	HistoryWriter io.Writer

	// QueryWork, QueryStringBytes and QueryTimeout bound what evaluating one query's $filter
	// and $orderby over the rows may cost: units of work (one per expression node evaluated,
	// one per 64 bytes compared or built; default 20,000,000), the longest string the
	// expressions may build (default 1 MiB) and the time (default 2 s). A query that goes
	// over is a 400 that says which limit it met. -1 lifts a limit.
	QueryWork        int64
	QueryStringBytes int
	QueryTimeout     time.Duration

	// AdminToken, when set, must arrive with every admin API request, as
	// "Authorization: Bearer <token>".
	AdminToken string
	// AdminOpen lets AdminHandler answer clients on other machines; without it, the admin
	// API answers loopback clients only, wherever it is served.
	AdminOpen bool
	// AdminHosts are Host names the admin API accepts besides loopback names (localhost and
	// its subdomains) and IP addresses: the names a browser may use to reach it. Any other Host
	// is refused, which defeats DNS rebinding.
	AdminHosts []string
}

// DefaultPageSize is the page size of a server whose Config names none.
const DefaultPageSize = defaultPageSize

const (
	defaultPageSize     = 50
	defaultMaxTop       = 1000
	defaultMaxBody      = 1 << 20
	defaultQueryWork    = 20_000_000
	defaultQueryString  = 1 << 20
	defaultQueryTimeout = 2 * time.Second
)

// limitOr reads a limit: 0 is the default, -1 no limit (the type's largest value).
func limitOr[T int | int64 | time.Duration](v, def T) T {
	switch v {
	case 0:
		return def
	case -1:
		return T(math.MaxInt)
	}
	return v
}

func (c Config) withDefaults() (Config, error) {
	if c.Dialect == "" {
		c.Dialect = V2
	}
	if c.Dialect != V1 && c.Dialect != V2 {
		return c, fmt.Errorf("fakeserver: unknown dialect %q", c.Dialect)
	}
	if c.PageSize == 0 {
		c.PageSize = defaultPageSize
	}
	if c.MaxTop == 0 {
		c.MaxTop = defaultMaxTop
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = defaultMaxBody
	}
	if c.PageSize < 0 || c.MaxTop < 0 || c.MaxBodyBytes < 0 {
		return c, fmt.Errorf("fakeserver: PageSize, MaxTop and MaxBodyBytes must not be negative")
	}
	c.HistoryLimit = limitOr(c.HistoryLimit, defaultHistoryLimit)
	c.HistoryBytes = limitOr(c.HistoryBytes, defaultHistoryBytes)
	c.HistoryBodyBytes = limitOr(c.HistoryBodyBytes, defaultHistoryBody)
	c.QueryWork = limitOr(c.QueryWork, defaultQueryWork)
	c.QueryStringBytes = limitOr(c.QueryStringBytes, defaultQueryString)
	c.QueryTimeout = limitOr(c.QueryTimeout, defaultQueryTimeout)
	if c.HistoryLimit <= 0 || c.HistoryBytes <= 0 || c.HistoryBodyBytes < 0 || c.QueryWork <= 0 || c.QueryStringBytes <= 0 || c.QueryTimeout <= 0 {
		return c, fmt.Errorf("fakeserver: the history and query limits must be positive, or -1 for no limit")
	}
	if c.Clock == nil {
		c.Clock = RealClock()
	}
	if err := c.checkPersonality(); err != nil {
		return c, err
	}
	for _, t := range append(append([]string{}, c.Tables...), c.HardDeleteTables...) {
		if !validTableName(t) {
			return c, fmt.Errorf("fakeserver: invalid table name %q (want [A-Za-z0-9_]{1,128})", t)
		}
	}
	return c, nil
}
