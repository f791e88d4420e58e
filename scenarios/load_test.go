package scenarios_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/drivers"
	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/scenarios"
)

// minimal is a scenario the bad ones below are variations of.
const minimal = `name: small
clients:
  phone: {}
steps:
  - phone: {op: insert, table: todoitem, item: {id: e1, text: x}}
`

var _ = Describe("loading scenario files", func() {
	It("reads every field of the format into the model", func() {
		sc, err := scenarios.Parse([]byte(`name: everything
description: all the fields
labels: [a, b]
strategies: [client-wins, cancel]
server:
  dialect: v1
  pageSize: 2
  maxTop: 10
  softDelete: false
  clockStepMs: 0
  seed: 42
  tables:
    todoitem:
      - {id: e1, text: Buy eggs, n: 3, done: false}
clients:
  phone: {store: sqlite, strategy: server-wins, options: {pushScope: table, treatIdenticalAsSuccess: true, pageSize: 5, timeoutMs: 200}}
  tablet:
steps:
  - phone: {op: pull, table: todoitem, queryId: all, query: {filter: "done eq false"}}
    expect: {requests: [GET /tables/todoitem, ...]}
  - tablet: {op: read, table: todoitem, query: {orderby: text desc, top: 1, skip: 0}}
    expect: {rows: [e1]}
  - tablet: {op: lookup, table: todoitem, id: e9}
    expect: {item: null}
  - server: {op: delete, table: todoitem, id: e1}
  - fault: {id: down, match: {client: phone}, action: offline}
  - phone: {op: push}
    when: {strategy: cancel}
    expect: {status: cancelled-by-network-error, errors: []}
  - heal: all
  - clock: {advanceMs: 1000}
  - converge: {rounds: 3}
  - check:
      server: {todoitem: {e1: {deleted: true}}}
      phone: {pending: 0, errors: 0, todoitem: {e1: null}}
      converged: true
      properties: [P4, P7]
`), "everything.yaml")
		Expect(err).NotTo(HaveOccurred())
		Expect(sc.Name).To(Equal("everything"))
		Expect(sc.Strategies).To(Equal([]string{"client-wins", "cancel"}))
		Expect(sc.Server).To(Equal(scenarios.ServerSpec{Dialect: fakeserver.V1, PageSize: 2, MaxTop: 10, SoftDelete: false,
			ClockStepMs: 0, Seed: 42, Tables: []scenarios.TableRows{{Table: "todoitem", Rows: []map[string]any{
				{"id": "e1", "text": "Buy eggs", "n": 3.0, "done": false}}}}}))
		Expect(sc.Clients).To(HaveLen(2))
		Expect(*sc.Clients[0]).To(Equal(scenarios.ClientSpec{Name: "phone", Store: "sqlite", Strategy: "server-wins",
			Options: scenarios.ClientOptions{Options: drivers.Options{PushScope: "table", TreatIdenticalAsSuccess: true, PageSize: 5}, TimeoutMs: 200}}))
		Expect(*sc.Clients[1]).To(Equal(scenarios.ClientSpec{Name: "tablet", Store: "memory"}))
		Expect(sc.Steps).To(HaveLen(10))
		Expect(sc.Steps[0].Op.Query.Filter).To(Equal("done eq false"))
		Expect(sc.Steps[0].Expect.Requests).To(Equal([]string{"GET /tables/todoitem", "..."}))
		Expect(*sc.Steps[1].Op.Query.Top).To(Equal(1))
		Expect(sc.Steps[2].Expect.HasItem && sc.Steps[2].Expect.Item == nil).To(BeTrue())
		Expect(sc.Steps[4].Fault.Action).To(Equal("offline"))
		Expect(sc.Steps[5].When).To(Equal([]string{"cancel"}))
		Expect(sc.Steps[5].Expect.HasErrors).To(BeTrue())
		Expect(sc.Steps[7].ClockMs).To(Equal(1000))
		Expect(sc.Steps[8].Converge.Rounds).To(Equal(3))
		c := sc.Steps[9].Check
		Expect(c.Server["todoitem"]["e1"]).To(Equal(map[string]any{"deleted": true}))
		Expect(*c.Clients["phone"].Pending).To(Equal(0))
		Expect(c.Clients["phone"].Tables["todoitem"]).To(HaveKeyWithValue("e1", BeNil()))
		Expect(c.Converged).To(BeTrue())
		Expect(sc.Steps[9].Line).To(Equal(33))
		Expect(sc.Steps[9].Index).To(Equal(10))
	})

	DescribeTable("refuses a bad file before anything runs, saying where",
		func(text, want string) {
			_, err := scenarios.Parse([]byte(text), "bad.yaml")
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(HavePrefix("bad.yaml:"))
			Expect(err.Error()).To(ContainSubstring(want))
		},
		Entry("a syntax error", "name: [x\n", "bad.yaml:2: did not find expected"),
		Entry("an empty file", "", "the file is empty"),
		Entry("no name", "steps: []\n", "bad.yaml:1:1: a scenario needs a name"),
		Entry("a name that is not kebab-case", strings.Replace(minimal, "name: small", "name: Small One", 1), "bad.yaml:1:7: name \"Small One\" must be kebab-case"),
		Entry("an unknown top-level key", minimal+"extra: 1\n", `bad.yaml:6:1: unknown key "extra" in a scenario`),
		Entry("no steps", "name: x\nsteps: []\n", "bad.yaml:2:8: a scenario needs steps"),
		Entry("an unknown strategy", minimal+"strategies: [client-wins, lazy]\n", `unknown strategy "lazy"`),
		Entry("an unknown strategy, alone", minimal+"strategies: lazy\n", `bad.yaml:6:13: unknown strategy "lazy"`),
		Entry("an unknown requirement", minimal+"requires: [faults, luck]\n", `bad.yaml:6:20: unknown requirement "luck"`),
		Entry("an unknown requirement, alone", minimal+"requires: luck\n", `bad.yaml:6:11: unknown requirement "luck"`),
		Entry("a bad dialect", minimal+"server: {dialect: v3}\n", `bad.yaml:6:19: unknown dialect "v3"`),
		Entry("a page size of 0", minimal+"server: {pageSize: 0}\n", "pageSize must be at least 1"),
		Entry("a negative clock step", minimal+"server: {clockStepMs: -1}\n", "clockStepMs must be at least 0"),
		Entry("a row without an id", minimal+"server: {tables: {todoitem: [{text: x}]}}\n", "a row of table todoitem needs a string id"),
		Entry("an unknown store", strings.Replace(minimal, "phone: {}", "phone: {store: disk}", 1), `bad.yaml:3:18: unknown store "disk"`),
		Entry("an unknown option", strings.Replace(minimal, "phone: {}", "phone: {options: {retry: true}}", 1), `bad.yaml:3:21: unknown key "retry" in options`),
		Entry("a reserved client name", strings.Replace(minimal, "phone: {}", "server: {}", 1), `"server" cannot name a client`),
		Entry("an unknown actor", minimal+"  - laptop: {op: push}\n", `bad.yaml:6:5: "laptop" is not a client of this scenario`),
		Entry("two actors in a step", minimal+"  - {phone: {op: push}, heal: all}\n", `a step has one actor; "phone" and "heal" are both here`),
		Entry("an unknown op", minimal+"  - phone: {op: sync}\n", `bad.yaml:6:17: client phone: unknown op "sync"`),
		Entry("a missing item", minimal+"  - phone: {op: insert, table: todoitem}\n", "client phone: insert needs item"),
		Entry("a key the op does not take", minimal+"  - phone: {op: push, force: true}\n", `unknown key "force" in client phone's push (it takes table)`),
		Entry("an item without an id", minimal+"  - phone: {op: update, table: todoitem, item: {text: y}}\n", "the item needs a string id"),
		Entry("a nested value", minimal+"  - phone: {op: update, table: todoitem, item: {id: e1, tags: [a]}}\n", `field "tags" must be a string, number, boolean or null`),
		Entry("a bad filter", minimal+"  - phone: {op: read, table: todoitem, query: {filter: \"text eq\"}}\n", "query:"),
		Entry("a bad orderby", minimal+"  - phone: {op: read, table: todoitem, query: {orderby: \"text sideways\"}}\n", "want column [asc|desc]"),
		Entry("a bad resolution", minimal+"  - phone: {op: resolve, table: todoitem, id: e1, how: ignore}\n", `unknown how "ignore"`),
		Entry("a bad fault", minimal+"  - fault: {action: latency, params: {ms: -1}}\n", "bad.yaml:6:39: fault params.ms: must be between 0"),
		Entry("an unknown error kind", minimal+"    expect: {error: boom}\n", `unknown error "boom"`),
		Entry("rows on a push", minimal+"  - phone: {op: push}\n    expect: {rows: [e1]}\n", "expect rows applies to a client's read or query only"),
		Entry("a malformed request", minimal+"    expect: {requests: [POST tables/todoitem]}\n", `request "POST tables/todoitem": want METHOD /path`),
		Entry("a request with a query string", minimal+"    expect: {requests: [\"GET /tables/t?x=1\"]}\n", "without a query string"),
		Entry("when without strategies", minimal+"    when: {strategy: cancel}\n", "the scenario lists no strategies"),
		Entry("when naming a strategy not listed", "strategies: [client-wins]\n"+minimal+"    when: {strategy: cancel}\n", `"cancel" is not one of the scenario's strategies`),
		Entry("a check of an unknown client", minimal+"  - check: {laptop: {pending: 0}}\n", `"laptop" is neither server, converged, properties nor a client`),
		Entry("a property scenarios do not check", minimal+"  - check: {properties: [P8]}\n", `property "P8"`),
		Entry("a negative pending count", minimal+"  - check: {phone: {pending: -1}}\n", "pending must be at least 0"),
		Entry("a key given twice", "name: a\nname: b\nsteps: [{check: {}}]\n", `bad.yaml:2:1: "name" is given twice`),
	)

	It("follows anchors, aliases and merge keys wherever a value goes", func() {
		// Two spellings of one scenario, line for line: the first names things once and
		// refers back to them; the second writes everything out.
		aliased := `name: aliases
strategies: &both [client-wins, cancel]
server: {tables: {todoitem: [&eggs {id: e1, text: Buy eggs, complete: false}]}}
clients: {phone: &device {store: memory, options: {pageSize: 5}}, tablet: *device}
steps:
  - &pull {phone: {op: pull, table: &t todoitem, queryId: all}}
  - phone: {op: update, table: *t, item: {<<: *eggs, text: Buy eggs (6)}}
  - *pull
  - tablet: {op: read, table: *t, query: &open {filter: "complete eq false"}}
    when: {strategy: *both}
    expect: &one {rows: [e1]}
  - tablet: {op: read, table: todoitem, query: *open}
    expect: *one
  - server: {op: update, table: todoitem, item: {<<: [{text: other}, *eggs], id: e1}}
  - check: {server: {todoitem: {e1: {<<: *eggs, text: other}}}, tablet: {todoitem: {e1: *eggs}}}
`
		spelled := `name: aliases
strategies: [client-wins, cancel]
server: {tables: {todoitem: [{id: e1, text: Buy eggs, complete: false}]}}
clients: {phone: {store: memory, options: {pageSize: 5}}, tablet: {store: memory, options: {pageSize: 5}}}
steps:
  - {phone: {op: pull, table: todoitem, queryId: all}}
  - phone: {op: update, table: todoitem, item: {id: e1, text: Buy eggs (6), complete: false}}
  - {phone: {op: pull, table: todoitem, queryId: all}}
  - tablet: {op: read, table: todoitem, query: {filter: "complete eq false"}}
    when: {strategy: [client-wins, cancel]}
    expect: {rows: [e1]}
  - tablet: {op: read, table: todoitem, query: {filter: "complete eq false"}}
    expect: {rows: [e1]}
  - server: {op: update, table: todoitem, item: {text: other, id: e1, complete: false}}
  - check: {server: {todoitem: {e1: {id: e1, text: other, complete: false}}}, tablet: {todoitem: {e1: {id: e1, text: Buy eggs, complete: false}}}}
`
		got, err := scenarios.Parse([]byte(aliased), "aliased.yaml")
		Expect(err).NotTo(HaveOccurred())
		want, err := scenarios.Parse([]byte(spelled), "aliased.yaml")
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(want))
		Expect(got.Steps[2].Line).To(Equal(8), "an aliased step is where the alias is")
	})

	DescribeTable("refuses an alias or a merge that cannot stand, saying where",
		func(text, want string) {
			_, err := scenarios.Parse([]byte(text), "bad.yaml")
			Expect(err).To(MatchError(want))
		},
		Entry("an alias inside what it names", "name: a\nsteps: &s [{check: {}}, *s]\n",
			"bad.yaml:2:25: the alias *s is inside the value it names (anchor &s on line 2)"),
		Entry("a merge of a scalar", minimal+"  - phone: {op: insert, table: t, item: {<<: 3, id: e2}}\n",
			"bad.yaml:6:46: << merges a mapping or a list of mappings (<<: *a, or <<: [*a, *b])"),
		Entry("two merge keys in one mapping", minimal+"  - phone: {op: insert, table: t, item: &i {id: e2}}\n  - phone: {op: update, table: t, item: {<<: *i, <<: *i}}\n",
			"bad.yaml:7:50: << is given twice in one mapping: merge a list instead (<<: [*a, *b])"),
		Entry("an aliased value of the wrong kind, at the alias", "name: a\nlabels: &l [x]\ndescription: *l\nsteps: [{check: {}}]\n",
			"bad.yaml:3:14: description must be a string"),
	)

	DescribeTable("places a YAML syntax error as well as the yaml package allows",
		func(text, want string) {
			_, err := scenarios.Parse([]byte(text), "bad.yaml")
			Expect(err).To(MatchError(want))
		},
		// The yaml package gives a line and no column: no column is invented.
		Entry("a key out of line, on its own line", "name: a\nsteps:\n- a: 1\n b: 2\n",
			"bad.yaml:4: did not find expected key"),
		Entry("a mapping value where none may be", "name: a\n  steps: 1\n",
			"bad.yaml:2: mapping values are not allowed in this context"),
		Entry("an unclosed {, on the line that opens it", "name: a\nsteps:\n  - phone: {op: push\n  - x: 1\n",
			"bad.yaml:3: did not find expected ',' or '}'"),
		Entry("an unclosed [, on the line that opens it", "name: a\nlabels: [x,\n  y\nsteps: []\n",
			"bad.yaml:2: did not find expected ',' or ']'"),
		Entry("an error on the first line", "name: a: b\n",
			"bad.yaml:1: mapping values are not allowed in this context"),
		// Where the text shows the place, it is exact.
		Entry("an alias with no anchor", "name: a\nsteps:\n  - *nope\n",
			`bad.yaml:3:5: unknown anchor "nope": no &nope before this alias`),
		Entry("a control character", "name: a\nsteps: [{check: {}}]\ndescription: x\x01y\n",
			"bad.yaml:3:15: control characters are not allowed"),
		Entry("invalid UTF-8", "name: a\ndescription: caf\xff\n",
			"bad.yaml:2:17: invalid leading UTF-8 octet"),
	)

	It("loads directories in name order and refuses two scenarios with one name", func() {
		dir := GinkgoT().TempDir()
		write := func(name, text string) {
			Expect(os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)).To(Succeed())
		}
		write("b.yaml", strings.Replace(minimal, "small", "second", 1))
		write("a.yaml", minimal)
		write("notes.txt", "not a scenario")
		scs, err := scenarios.Load(dir)
		Expect(err).NotTo(HaveOccurred())
		Expect([]string{scs[0].Name, scs[1].Name}).To(Equal([]string{"small", "second"}))
		Expect(scs[0].File).To(Equal(filepath.Join(dir, "a.yaml")))

		write("c.yaml", minimal)
		write("d.yaml", "name: broken\n")
		_, err = scenarios.Load(dir)
		Expect(err).To(MatchError(ContainSubstring(`c.yaml: the name "small" is already used by ` + filepath.Join(dir, "a.yaml"))))
		Expect(err).To(MatchError(ContainSubstring("d.yaml:1:1: a scenario needs steps")), "every bad file is named, not just the first")

		_, err = scenarios.Load(filepath.Join(dir, "missing.yaml"))
		Expect(err).To(MatchError(ContainSubstring("no such file")))
		_, err = scenarios.Load(GinkgoT().TempDir())
		Expect(err).To(MatchError(ContainSubstring("no scenario files")))
	})
})
