// Package mutants is a switchboard of deliberate bugs, one rule of the client or the server
// broken each, for showing that the property checkers catch what they are for.
//
// The switchboard exists only in builds with the tag "mutants" (go test -tags mutants): the
// tests that turn a mutant on carry that tag. In every other build, shipped binaries
// included, On is a constant false that the compiler removes with the broken branch.
package mutants

// A Mutant names one broken rule.
type Mutant string

// The mutants, each with the rule it breaks.
const (
	// SkipPushBeforePull: a pull does not push the table's queued operations first (P1).
	SkipPushBeforePull Mutant = "client/skip-push-before-pull"
	// PullOverwritesPending: a pull stores rows that have a queued operation (P1).
	PullOverwritesPending Mutant = "client/pull-overwrites-pending"
	// PurgeDespitePending: a non-forced purge ignores queued operations (P2).
	PurgeDespitePending Mutant = "client/purge-despite-pending"
	// CollapseUpdateDelete: a delete after a queued update drops both (P3).
	CollapseUpdateDelete Mutant = "client/collapse-update-delete"
	// ClientWinsLosesVersion: client wins sends again without the server's version (P5).
	ClientWinsLosesVersion Mutant = "client/client-wins-loses-version"
	// IgnoreIfMatch: the server applies writes whatever version they carry (P7).
	IgnoreIfMatch Mutant = "server/ignore-if-match"
	// ForgetUpdatedAt: the server keeps a row's updatedAt on update (P7, P9).
	ForgetUpdatedAt Mutant = "server/forget-updatedat"
	// DeletedInQueries: the server returns deleted rows without __includeDeleted (P7).
	DeletedInQueries Mutant = "server/deleted-in-queries"
	// PageInTwoTransactions: a pulled page's delta token is stored in a transaction of its own
	// before the page's rows (P8, P9).
	PageInTwoTransactions Mutant = "client/page-in-two-transactions"
)

// All lists every mutant.
var All = []Mutant{SkipPushBeforePull, PullOverwritesPending, PurgeDespitePending, CollapseUpdateDelete,
	ClientWinsLosesVersion, IgnoreIfMatch, ForgetUpdatedAt, DeletedInQueries,
	PageInTwoTransactions}
