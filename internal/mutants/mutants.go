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
	// ClientWinsLosesVersion: client wins sends again without the server's version (P10, P5).
	ClientWinsLosesVersion Mutant = "client/client-wins-loses-version"
	// IgnoreIfMatch: the server applies writes whatever version they carry (P7).
	IgnoreIfMatch Mutant = "server/ignore-if-match"
	// ForgetUpdatedAt: the server keeps a row's updatedAt on update (P7, P9).
	ForgetUpdatedAt Mutant = "server/forget-updatedat"
	// DeletedInQueries: the server returns deleted rows without __includeDeleted (P7).
	DeletedInQueries Mutant = "server/deleted-in-queries"

	// --- Realistic bugs of clients, stores and servers, each breaking a rule of
	// docs/semantics.md or docs/protocol.md. "Caught by" names what a test must have for the
	// bug to show: the campaign's world has to hold it.

	// IncrementalGreaterThan: an incremental pull asks for "updatedAt gt <token>" instead of
	// "ge" (semantics.md, Pull 4), so rows sharing the token's updatedAt that the last page did
	// not hold are never brought. Caught by: rows sharing updatedAt (clock step 0) and a
	// server page size that cuts the pull (P9, rows at converge).
	IncrementalGreaterThan Mutant = "client/incremental-gt"
	// StopAtShortPage: a full pull ends at the first page shorter than the $top it asked for
	// (semantics.md, Pull 2: "a short page is not the end, since a server may cap pages").
	// Caught by: a server page size smaller than the client's page size (P4, rows).
	StopAtShortPage Mutant = "client/stop-at-short-page"
	// SkippedRowsMoveToken: rows skipped for a queued operation move the delta token although
	// SkippedRowsMoveToken() is off (semantics.md, Pull 4: .NET, the default), so the server's
	// version of such a row is never pulled again. Caught by: a local write racing a pull
	// (P1/P9: the row's server change is lost for good).
	SkippedRowsMoveToken Mutant = "client/skipped-rows-move-token"
	// DeleteWithoutIfMatch: a DELETE is sent without If-Match although the item has a version
	// (semantics.md, Push: "each with If-Match when the item has a version"), so a delete
	// silently wins over another writer's update. Caught by: another writer updating a row a
	// client deletes (P5 conflict seen, the request property "If-Match on every DELETE").
	DeleteWithoutIfMatch Mutant = "client/delete-without-if-match"
	// OnPushCompleteThisPushOnly: OnPushComplete is shown only the errors this push recorded,
	// not those left by earlier pushes (semantics.md, Push: "every recorded error (this
	// push's and those left by earlier pushes)"). Caught by: an error left unresolved, then a
	// push that does not send that operation again (another table, or cancelled before it):
	// the handler property "OnPushComplete receives the recorded errors".
	OnPushCompleteThisPushOnly Mutant = "client/on-push-complete-this-push-only"
	// ClientWinsUnbounded: client wins retries a conflict without counting its tries
	// (semantics.md, strategies: "After client.MaxTries(n) sends (default 5) the error is
	// recorded"). Caught by: another writer (or a fault) answering more conflicts than
	// MaxTries (the request property "retried only MaxTries times").
	ClientWinsUnbounded Mutant = "client/client-wins-unbounded"
	// ForcedPurgeAllTables: a forced purge deletes the queued operations (and errors) of every
	// table, not only its own (semantics.md, Purge: "deletes the table's operations").
	// Caught by: several tables, one with queued operations while another is force-purged
	// (P1/P4: the other table's write never reaches the server).
	ForcedPurgeAllTables Mutant = "client/forced-purge-all-tables"
	// PurgeIgnoresQuery: a non-forced purge with a query deletes every row of the table
	// (semantics.md, Purge: "deletes the local rows matching q"). Caught by: purges with a
	// query (rows that do not match it must stay: the local model).
	PurgeIgnoresQuery Mutant = "client/purge-ignores-query"
	// DeleteAtTailIgnored: DeleteAfterUpdateAtTail() is ignored: update + delete becomes a
	// delete in place (semantics.md, collapse matrix). Caught by: the option drawn per client
	// and a queue of two items (the push order).
	DeleteAtTailIgnored Mutant = "client/delete-at-tail-ignored"
	// PurgePushesFirstIgnored: PurgePushesFirst() is ignored: a purge of a dirty table is
	// refused instead of pushing first (semantics.md, Purge). Caught by: the option drawn and
	// a purge of a table with queued operations.
	PurgePushesFirstIgnored Mutant = "client/purge-pushes-first-ignored"
	// IdenticalNotSuccess: TreatIdenticalAsSuccess() is ignored: a 409/412 whose server item
	// equals what was sent is recorded as an error (semantics.md, "TreatIdenticalAsSuccess").
	// Caught by: the option drawn and a write whose answer is lost, then sent again.
	IdenticalNotSuccess Mutant = "client/identical-not-success"
	// PushTableBeforePullIgnored: PushTableBeforePull() is ignored: a pull pushes the whole
	// context (semantics.md, Pull 1). Caught by: the option drawn, several tables, and the
	// request property "nothing sent for a table the push was not asked for".
	PushTableBeforePullIgnored Mutant = "client/push-table-before-pull-ignored"
	// ServerWinsKeepsLocal: server wins completes a conflicting operation without storing the
	// server's item, so the local row keeps the losing value (semantics.md, strategies: "the
	// server's item, which is stored"). Caught by: conflicts under server wins (P5, P4).
	ServerWinsKeepsLocal Mutant = "client/server-wins-keeps-local"
	// UpdateAfterFailedInsert: an update collapsing with an insert that failed turns it into an
	// update, as if the row were on the server (semantics.md, collapse matrix: insert +
	// update "the insert stays"). Caught by: an insert that fails (a fault, a 409 left to the
	// caller) and a later local update of the item (the row never reaches the server).
	UpdateAfterFailedInsert Mutant = "client/update-after-failed-insert"

	// MemoryCaseSensitiveIDs: the memory store keys rows and operations by the id as given, not
	// folded (semantics.md, The local store: "matched case-insensitively"). Caught by: ids
	// that differ only in case (the store conformance suite; the local model).
	MemoryCaseSensitiveIDs Mutant = "store/memory-case-sensitive-ids"
	// SQLiteCaseSensitiveIDs: the SQLite store looks rows and an item's operation up with a
	// binary comparison, so "A1" does not find "a1" (semantics.md, The local store). Caught by:
	// ids that differ only in case on a SQLite client.
	SQLiteCaseSensitiveIDs Mutant = "store/sqlite-case-sensitive-ids"
	// MemoryErrorLostOnAttempt: the memory store drops an operation's recorded error when the
	// operation is stored again as attempted (semantics.md, The local store: "errors: at most
	// one per failed operation", kept until resolved or collapsed). Caught by: an error left
	// unresolved and a later push cancelled (network, 401, a fault) after marking it attempted:
	// the handler property on OnPushComplete, the push's errors.
	MemoryErrorLostOnAttempt Mutant = "store/memory-error-lost-on-attempt"

	// PageWithoutLink: the server cuts a page at its page size without the Link to the next
	// page (protocol.md, Paging: "the answer carries Link: <URL>; rel=next"). Caught by: a
	// server page size smaller than the client's and a client (or a request property) that
	// reads Link; the Go client pages with $skip anyway, so its rows never show it.
	PageWithoutLink Mutant = "server/page-without-link"
	// SkipIgnoredUnderCap: when the page size caps a query (no $top, or $top above it), the
	// server ignores $skip (protocol.md, Queries: "$top and $skip"). Caught by: a server page
	// size that cuts a pull (the client's "repeats the page before" error, P4).
	SkipIgnoredUnderCap Mutant = "server/skip-ignored-under-cap"
	// UpdatedAtSecondPrecision: the incremental pull's index compares updatedAt at second
	// precision against a millisecond literal (protocol.md, $filter: "dates as instants at
	// millisecond precision"), so rows written later in the token's second are never
	// returned. Caught by: two incremental pulls within one second of server time (P9).
	UpdatedAtSecondPrecision Mutant = "server/updatedat-second-precision"
	// HardDeleteKeepsRow: a hard delete leaves the tombstone in the table (protocol.md, DELETE:
	// "204 with no body for a hard delete"; Decisions: a hard delete removes the row), so a
	// later insert of the id is a 409 and queries with __includeDeleted return it. Caught by:
	// hard delete drawn, and an id deleted then inserted again (P7 against the model).
	HardDeleteKeepsRow Mutant = "server/hard-delete-keeps-row"
	// CaseSensitiveIDs: the server keys rows by the id as sent (protocol.md, Decisions: "Ids
	// ... match case-insensitively"), so "A1" and "a1" are two rows. Caught by: ids that
	// differ only in case (P7 against the model).
	CaseSensitiveIDs Mutant = "server/case-sensitive-ids"
	// V1VersionUnprefixed: the v1 dialect names the version column "version" instead of
	// "__version" (protocol.md, Dialects), so a v1 client holds no version, sends no
	// If-Match and overwrites other writers. Caught by: the v1 dialect drawn, with a conflict.
	V1VersionUnprefixed Mutant = "server/v1-version-unprefixed"
	// VersionBeforeExistence: a write to a deleted row meets the version check first: a 412
	// where the protocol answers 404 (protocol.md: "Existence comes before the version"), so a
	// client whose delete lost its answer records a conflict. Caught by: a lost answer to a
	// delete (faults), P7.
	VersionBeforeExistence Mutant = "server/version-before-existence"
	// UndeleteKeepsVersion: an undelete brings the row back without a new version or updatedAt
	// (protocol.md, undelete: "the row live again with a new version"), so incremental pulls
	// never see it come back. Caught by: server-side delete and undelete between incremental
	// pulls (P9), and P7's version rule.
	UndeleteKeepsVersion Mutant = "server/undelete-keeps-version"

	// PageInTwoTransactions: a pulled page's delta token is stored in a transaction of its own
	// before the page's rows (P8, P9).
	PageInTwoTransactions Mutant = "client/page-in-two-transactions"
)

// All lists every mutant.
var All = []Mutant{SkipPushBeforePull, PullOverwritesPending, PurgeDespitePending, CollapseUpdateDelete,
	ClientWinsLosesVersion, IgnoreIfMatch, ForgetUpdatedAt, DeletedInQueries,
	IncrementalGreaterThan, StopAtShortPage, SkippedRowsMoveToken, DeleteWithoutIfMatch,
	OnPushCompleteThisPushOnly, ClientWinsUnbounded, ForcedPurgeAllTables, PurgeIgnoresQuery, DeleteAtTailIgnored,
	PurgePushesFirstIgnored, IdenticalNotSuccess, PushTableBeforePullIgnored, ServerWinsKeepsLocal,
	UpdateAfterFailedInsert, MemoryCaseSensitiveIDs, SQLiteCaseSensitiveIDs, MemoryErrorLostOnAttempt,
	PageWithoutLink, SkipIgnoredUnderCap, UpdatedAtSecondPrecision, HardDeleteKeepsRow, CaseSensitiveIDs,
	V1VersionUnprefixed, VersionBeforeExistence, UndeleteKeepsVersion, PageInTwoTransactions}
