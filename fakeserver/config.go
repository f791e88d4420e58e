package fakeserver

import (
	"fmt"
	"log"
	"strings"
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
	// PROTOCOL.md: "" for the protocol itself, PersonalityNode for the Node backend.
	Personality Personality
}

// DefaultPageSize is the page size of a server whose Config names none.
const DefaultPageSize = defaultPageSize

const (
	defaultPageSize = 50
	defaultMaxTop   = 1000
	defaultMaxBody  = 1 << 20
)

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
