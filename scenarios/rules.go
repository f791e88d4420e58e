package scenarios

import (
	"strings"

	"github.com/conflictlab/conflictlab/reports"
)

// A failure of a client conflictlab did not write names the rule of the client semantics it
// broke (docs/semantics.md), so that a report of an SDK says what the SDK does differently,
// not only which expectation broke: whether its pull pushes first, how it collapses, what it
// does with an error in a push.
type semanticRule struct {
	// property, when set, is the property whose violation shows the rule; detail, when set,
	// must be in the violation's detail.
	property, detail string
	// op, when set, is the step's op; expectation a prefix of what it expected.
	op, expectation string
	rule            string
}

var semanticRules = []semanticRule{
	{property: "P1", detail: "not sent before its first GET", rule: "semantics: a pull pushes the queued operations first, and queries nothing until that push is done (docs/semantics.md#pull)"},
	{property: "P1", detail: "push failed, yet it sent", rule: "semantics: a pull whose push does not complete cleanly fails and sends no query (docs/semantics.md#pull)"},
	{property: "P1", rule: "semantics: a pull never overwrites or deletes a row that has a queued operation (docs/semantics.md#pull)"},
	{property: "P2", detail: "delta tokens", rule: "semantics: a purge resets the delta token of its query id only; a forced purge removes every token of the table (docs/semantics.md#purge)"},
	{property: "P2", rule: "semantics: a purge removes exactly the rows its query matches, and none while operations are queued unless forced (docs/semantics.md#purge)"},
	{property: "P3", rule: "semantics: the collapse matrix of local writes (docs/semantics.md#local-writes-and-the-collapse-matrix)"},
	{property: "P4", rule: "semantics: once faults heal and everyone has pushed and pulled, every client holds the server's rows (docs/properties.md)"},
	{property: "P5", rule: "semantics: the three strategies: client wins sends again with the server's version, server wins keeps the server's row, cancel stops the push (docs/semantics.md#the-three-strategies)"},
	{property: "P6", rule: "semantics: nothing leaves the queue without reaching the server or a resolution dropping it (docs/properties.md)"},
	{property: "P8", rule: "semantics: a store keeps rows, operations, errors and tokens across a restart (docs/semantics.md#the-local-store)"},
	{property: "P9", rule: "semantics: an incremental pull leaves no row below its token behind (docs/semantics.md#pull)"},
	{property: "P10", detail: "If-Match", rule: "semantics: an update or delete is sent with If-Match: the version the client holds (docs/semantics.md#push)"},
	{property: "P10", detail: "though the client holds version", rule: "semantics: an update or delete is sent with If-Match: the version the client holds (docs/semantics.md#push)"},
	{property: "P10", detail: "sent again", rule: "semantics: only client wins sends a conflicting operation again, with the version the server's answer showed, at most MaxTries times (docs/semantics.md#the-three-strategies)"},
	{property: "P10", detail: "more than MaxTries", rule: "semantics: only client wins sends a conflicting operation again, with the version the server's answer showed, at most MaxTries times (docs/semantics.md#the-three-strategies)"},
	{property: "P10", detail: "was asked for", rule: "semantics: a push limited to tables (OnlyTables, a pull's push under pushScope table) sends nothing for another table (docs/semantics.md#push, #pull)"},
	{property: "P10", detail: "ends a pull", rule: "semantics: a pull pages until an empty page; a short page is not the end (docs/semantics.md#pull)"},
	{property: "P10", detail: "without sending a query", rule: "semantics: a pull pages until an empty page; a short page is not the end (docs/semantics.md#pull)"},
	{property: "P10", rule: "semantics: an incremental pull asks for updatedAt ge the token saved before it, and its token never goes backwards (docs/semantics.md#pull)"},
	{property: "P11", detail: "handler", rule: "semantics: OnPushComplete is shown every recorded error, this push's and earlier ones', and a cancelled push's conflict (docs/semantics.md#push)"},
	{property: "P11", rule: "semantics: the resolutions of a recorded error: cancel-and-update keeps the item, cancel-and-discard drops the row, update-operation keeps the operation pending with the item (docs/semantics.md#push)"},
	{op: "push", expectation: "push status complete", rule: "semantics: a push records an operation's error (400, 404 on an update, 5xx) and goes on with the next; a 404 on a delete is a success (docs/semantics.md#push)"},
	{op: "push", expectation: "unhandled errors", rule: "semantics: a push records an operation's error and goes on with the next (docs/semantics.md#push)"},
	{op: "push", expectation: "requests", rule: "semantics: a push sends the queue in order, one request per operation, and goes on past an error (docs/semantics.md#push)"},
	{op: "pull", expectation: "requests", rule: "semantics: a pull pages with $skip and follows the server's next-page link (docs/semantics.md#pull)"},
	{op: "pull", expectation: "the step fails with invalid-query", rule: "semantics: the queries a pull refuses before sending anything (docs/semantics.md#pull)"},
	{op: "purge", rule: "semantics: purge (docs/semantics.md#purge)"},
	{op: "insert", expectation: "the step fails with invalid-operation", rule: "semantics: the collapse matrix refuses this local write (docs/semantics.md#local-writes-and-the-collapse-matrix)"},
	{op: "update", expectation: "the step fails with invalid-operation", rule: "semantics: the collapse matrix refuses this local write (docs/semantics.md#local-writes-and-the-collapse-matrix)"},
	{op: "delete", expectation: "the step fails with invalid-operation", rule: "semantics: the collapse matrix refuses this local write (docs/semantics.md#local-writes-and-the-collapse-matrix)"},
	{op: "push", expectation: "the step fails with push-failed", rule: "semantics: a push records an answer it cannot read as the operation's error and goes on (docs/semantics.md#push)"},
	{op: "insert", expectation: "the step succeeds", rule: "semantics: a local write of a valid row succeeds, whatever its columns are named (docs/semantics.md#the-local-store)"},
	{op: "update", expectation: "the step succeeds", rule: "semantics: a local write of a valid row succeeds, whatever its columns are named (docs/semantics.md#the-local-store)"},
	{op: "resolve", rule: "semantics: the resolutions of a recorded error (docs/semantics.md#push)"},
	{op: "converge", expectation: "converge settles", rule: "semantics: once faults heal, every push completes: an error is recorded and resolved by the strategy, a 404 on a delete is a success (docs/semantics.md#push)"},
	{op: "check", rule: "semantics: the rows, queue and errors a client holds after the steps before (docs/semantics.md#pull, #purge)"},
	{op: "restart", rule: "semantics: a store keeps rows, operations, errors and tokens across a restart (docs/semantics.md#the-local-store)"},
}

// semanticRuleOf names the rule a client's failure broke, "" when none fits.
func semanticRuleOf(st *Step, f *reports.Failure) string {
	op := ""
	switch {
	case st == nil:
	case st.Op != nil:
		op = st.Op.Op
	default:
		op = st.Actor // check, converge…
	}
	for _, r := range semanticRules {
		switch {
		case r.property != "" && (f.Property != r.property || !strings.Contains(f.Got, r.detail)):
		case r.op != "" && (r.op != op || f.Property != "" || !strings.HasPrefix(f.Expectation, r.expectation)):
		default:
			return r.rule
		}
	}
	return ""
}
