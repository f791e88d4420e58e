//go:build mutants

package scenarios_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/internal/mutants"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
)

// insertConflict: the phone inserts a row offline that another writer inserted meanwhile, so
// its POST meets a 409 and client wins sends the row again as an update.
const insertConflict = `name: insert-conflict
strategies: [client-wins]
clients:
  phone: {}
steps:
  - phone: {op: insert, table: todoitem, item: {id: e1, text: mine}}
  - server: {op: insert, table: todoitem, item: {id: e1, text: theirs}}
  - phone: {op: push}
  - check: {server: {todoitem: {e1: {text: mine}}}}
`

// Run with -tags mutants: the runner's own properties catch a broken client in a plain
// scenario, with no expectation written for the bug.
var _ = Describe("the runner against a broken client", func() {
	It("catches client wins sending an insert's conflict as an unconditional update by P10", func() {
		// With client/client-wins-loses-version the PATCH after the 409 carries no version:
		// it overwrites whatever the server holds, and the row ends up as client wins wants,
		// so P5 holds. Only what was sent shows the bug.
		restore := mutants.Enable(mutants.ClientWinsLosesVersion)
		defer restore()
		res := play(insertConflict, "client-wins", scenarios.Options{})
		Expect(res.Status).To(Equal(reports.Failed))
		Expect(res.Failure.Property).To(Equal("P10"), "%+v", res.Failure)
		Expect(res.Failure.Got).To(ContainSubstring("PATCH /tables/todoitem/e1 200 was sent again with no version, but the conflict showed the server's version"))
	})

	It("passes the same scenario with the client whole", func() {
		res := play(insertConflict, "client-wins", scenarios.Options{})
		Expect(res.Status).To(Equal(reports.Passed), "%+v", res.Failure)
	})
})

// The catalogue's scenarios fail by P10 under the client mutants that break what a client
// sends, and pass without them: P10 names the request, where an expectation would only say
// that the rows or the requests differ.
var _ = Describe("P10 against the catalogue", func() {
	DescribeTable("fails a catalogue run by P10 under the mutant, and passes it without",
		func(m mutants.Mutant, file, strategy, detail string) {
			sc, err := scenarios.LoadFile("catalog/" + file + ".yaml")
			Expect(err).NotTo(HaveOccurred())
			// Within a deadline: a mutant may loop (client wins unbounded against a writer that
			// keeps winning).
			run := func() reports.Result {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				return scenarios.Run(ctx, sc, strategy, scenarios.Options{InMemory: true, Timeout: 2 * time.Second})
			}
			clean := run()
			Expect(clean.Status).To(Equal(reports.Passed), explain(clean))
			restore := mutants.Enable(m)
			res := run()
			restore()
			Expect(res.Status).To(Equal(reports.Failed))
			Expect(res.Failure.Property).To(Equal("P10"), explain(res))
			Expect(res.Failure.Got).To(ContainSubstring(detail))
		},
		Entry("a delete without If-Match", mutants.DeleteWithoutIfMatch, "conflict-delete-update", "client-wins",
			"DELETE /tables/todoitem/e1 200 was sent without If-Match, though the client holds version"),
		Entry("a server whose v1 rows lose their version", mutants.V1VersionUnprefixed, "v1-blog-walkthrough", "client-wins",
			"was sent without If-Match, though the client holds version"),
		Entry("client wins past MaxTries", mutants.ClientWinsUnbounded, "client-wins-max-tries", "",
			"more than MaxTries (3)"),
		Entry("a pull's push of the whole context under pushScope table", mutants.PushTableBeforePullIgnored, "push-before-pull-table-scope", "",
			"the push was asked for todoitem only, yet it sent POST /tables/tag"),
		Entry("a pull that stops at a short page", mutants.StopAtShortPage, "pull-full-paging", "",
			"only an empty page ends a pull"),
		Entry("an incremental pull asking for updatedAt gt the token", mutants.IncrementalGreaterThan, "incremental-shared-timestamps", "",
			"does not filter by updatedAt ge a token"),
	)
})

// twoTables: a 412 on todoitem is left to the caller (manual); a push of tag alone follows,
// which shows it again.
const twoTables = `name: two-tables
strategies: [manual]
server:
  tables:
    todoitem: [{id: e1, text: eggs}]
clients:
  phone: {}
steps:
  - phone: {op: pull, table: todoitem}
  - phone: {op: update, table: todoitem, item: {id: e1, text: mine}}
  - server: {op: update, table: todoitem, item: {id: e1, text: theirs}}
  - phone: {op: push}
    expect: {errors: [{table: todoitem, id: e1, status: 412}]}
  - phone: {op: insert, table: tag, item: {id: g1, name: home}}
  - phone: {op: push, table: tag}
    expect: {errors: [{table: todoitem, id: e1, status: 412}]}
`

var _ = Describe("P11 against a broken client", func() {
	It("fails a push whose handler is not shown an earlier push's error, and passes it without the bug", func() {
		clean := play(twoTables, "manual", scenarios.Options{InMemory: true})
		Expect(clean.Status).To(Equal(reports.Passed), explain(clean))
		restore := mutants.Enable(mutants.OnPushCompleteThisPushOnly)
		defer restore()
		res := play(twoTables, "manual", scenarios.Options{InMemory: true})
		Expect(res.Status).To(Equal(reports.Failed))
		Expect(res.Failure.Step).To(Equal(6), explain(res))
		Expect(res.Failure.Property).To(Equal("P11"), explain(res))
		Expect(res.Failure.Got).To(ContainSubstring("the handler was not shown the recorded error(s) todoitem/e1 412"))
	})
})
