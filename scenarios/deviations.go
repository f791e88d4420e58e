package scenarios

import (
	"net/http"
	"strings"

	"github.com/conflictlab/conflictlab/fakeserver"
)

// A deviation is something a server did that the protocol does not allow, recognised in the
// requests of a failing step, so that a failure against a real server names its cause: the
// rule the server broke (docs/protocol.md), not only the expectation that broke after it.
type deviation struct {
	// rule is what the report says: the protocol's rule and how this server broke it.
	rule string
	// seen reports whether the events show it.
	seen func(events []fakeserver.Event) bool
}

// deviations are tried in order; the first one seen names the failure's rule.
var deviations = []deviation{
	{
		rule: "protocol: a 409 to an insert carries the server's current row (docs/protocol.md); this server's did not " +
			"(the Node backend echoes the item sent), so the client had to read the row itself",
		seen: func(events []fakeserver.Event) bool {
			for i, e := range events {
				if e.Method != http.MethodPost || e.Status != http.StatusConflict || e.ItemID == "" {
					continue
				}
				for _, next := range events[i+1:] {
					if next.Client == e.Client && next.Method == http.MethodGet && next.Op == fakeserver.OpLookup && strings.EqualFold(next.ItemID, e.ItemID) {
						return true
					}
				}
			}
			return false
		},
	},
	{
		rule: "protocol: bad input is a 4xx with a message, never a 500 (docs/protocol.md); this server answered 500",
		seen: func(events []fakeserver.Event) bool {
			for _, e := range events {
				if e.Status == http.StatusInternalServerError && len(e.Faults) == 0 {
					return true
				}
			}
			return false
		},
	},
	{
		rule: "protocol: a query leaves deleted rows out unless it asks for them with __includeDeleted=true (docs/protocol.md)",
		seen: func(events []fakeserver.Event) bool {
			for _, e := range events {
				if e.Op == fakeserver.OpQuery && !e.IncludeDeleted && e.Tombstones > 0 {
					return true
				}
			}
			return false
		},
	},
}

// deviationIn names the rule a server broke in events, "" when none is recognised.
func deviationIn(events []fakeserver.Event) string {
	for _, d := range deviations {
		if d.seen(events) {
			return d.rule
		}
	}
	return ""
}
