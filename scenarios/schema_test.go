package scenarios_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/conflictlab/conflictlab/scenarios"
)

// schemaFile is the JSON Schema editors use for scenario files; the loader is the judge, and
// these specs keep the two in step: whatever the loader takes, the schema takes, and the
// schema refuses a table of documents the loader refuses.
const schemaFile = "../docs/scenario.schema.json"

// editorLine is the first line of every catalogue file: it points editors (the YAML language
// server) at the schema, relative to the file.
const editorLine = "# yaml-language-server: $schema=../../docs/scenario.schema.json"

// loadSchema compiles the schema file as a draft 2020-12 schema.
func loadSchema() (*jsonschema.Schema, error) {
	f, err := os.Open(schemaFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, err
	}
	if m, _ := doc.(map[string]any); m["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		return nil, fmt.Errorf("%s: $schema is not draft 2020-12", schemaFile)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("scenario.schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("scenario.schema.json")
}

// jsonValue turns a YAML document into the values a JSON document of the same content
// decodes to, as the schema sees them: the yaml package follows aliases and merge keys; keys
// that YAML reads as other types (1:, true:) become the text they are written as.
func jsonValue(text string) (any, error) {
	var v any
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
		return nil, err
	}
	return normalise(v), nil
}

func normalise(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = normalise(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = normalise(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalise(e)
		}
		return out
	}
	return v
}

// keysOfLoader reads the loader's source for the keys it takes: the string literals it passes
// to fields() after the description, and those of the op tables (clientOps, serverOps).
func keysOfLoader(file string) []string {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	Expect(err).NotTo(HaveOccurred())
	seen := map[string]bool{}
	add := func(e ast.Expr) {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, err := strconv.Unquote(lit.Value)
			Expect(err).NotTo(HaveOccurred())
			seen[strings.TrimSuffix(s, "!")] = true
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "fields" && len(n.Args) > 2 {
				for _, a := range n.Args[2:] {
					add(a)
				}
			}
		case *ast.ValueSpec:
			for i, name := range n.Names {
				if (name.Name == "clientOps" || name.Name == "serverOps") && i < len(n.Values) {
					ast.Inspect(n.Values[i], func(m ast.Node) bool {
						if kv, ok := m.(*ast.KeyValueExpr); ok {
							if list, ok := kv.Value.(*ast.CompositeLit); ok {
								for _, e := range list.Elts {
									add(e)
								}
							}
						}
						return true
					})
				}
			}
		}
		return true
	})
	return slices.Sorted(maps.Keys(seen))
}

// propertyNames collects the names every "properties" object of a schema declares.
func propertyNames(v any, into map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		if props, ok := v["properties"].(map[string]any); ok {
			for k := range props {
				into[k] = true
			}
		}
		for _, e := range v {
			propertyNames(e, into)
		}
	case []any:
		for _, e := range v {
			propertyNames(e, into)
		}
	}
}

var _ = Describe("the scenario schema", func() {
	sch, err := loadSchema()
	It("compiles", func() { Expect(err).NotTo(HaveOccurred()) })
	if err != nil {
		return
	}

	validate := func(text string) error {
		v, err := jsonValue(text)
		Expect(err).NotTo(HaveOccurred())
		return sch.Validate(v)
	}

	It("knows every key the loader knows", func() {
		loaderKeys := keysOfLoader("load.go")
		Expect(loaderKeys).To(ContainElements("name", "requires", "pushScope", "advanceMs", "queryId", "requests"),
			"the loader's keys are read from its source: if this fails, keysOfLoader no longer finds them")
		data, err := os.ReadFile(schemaFile)
		Expect(err).NotTo(HaveOccurred())
		var doc any
		Expect(json.Unmarshal(data, &doc)).To(Succeed())
		schemaKeys := map[string]bool{}
		propertyNames(doc, schemaKeys)
		for _, k := range loaderKeys {
			Expect(schemaKeys).To(HaveKey(k), "the loader takes the key %q; docs/scenario.schema.json does not describe it", k)
		}
	})

	It("takes every catalogue file, and each names it on its first line", func() {
		files, err := filepath.Glob(filepath.Join("catalog", "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(files).NotTo(BeEmpty())
		for _, file := range files {
			data, err := os.ReadFile(file)
			Expect(err).NotTo(HaveOccurred())
			first, _, _ := strings.Cut(string(data), "\n")
			Expect(first).To(Equal(editorLine), file)
			_, err = scenarios.Parse(data, file)
			Expect(err).NotTo(HaveOccurred(), file)
			Expect(validate(string(data))).To(Succeed(), file)
		}
	})

	It("takes every scenario conflictlab writes (a property test's counterexample)", func() {
		catalog, err := scenarios.Load("catalog")
		Expect(err).NotTo(HaveOccurred())
		for _, sc := range catalog {
			data, err := scenarios.Marshal(sc)
			Expect(err).NotTo(HaveOccurred(), sc.Name)
			Expect(validate(string(data))).To(Succeed(), "%s, written back:\n%s", sc.Name, data)
		}
	})

	It("takes every whole scenario shown in docs/scenario-format.md", func() {
		data, err := os.ReadFile("../docs/scenario-format.md")
		Expect(err).NotTo(HaveOccurred())
		blocks := regexp.MustCompile("(?s)```yaml\n((?:# yaml-language-server: [^\n]*\n)?name: .*?)```").FindAllStringSubmatch(string(data), -1)
		Expect(blocks).NotTo(BeEmpty())
		for _, b := range blocks {
			_, err := scenarios.Parse([]byte(b[1]), "scenario-format.md")
			Expect(err).NotTo(HaveOccurred(), b[1])
			Expect(validate(b[1])).To(Succeed(), b[1])
		}
	})

	// What the loader takes in ways the catalogue does not show, the schema takes too.
	DescribeTable("takes what the loader takes",
		func(text string) {
			_, err := scenarios.Parse([]byte(text), "good.yaml")
			Expect(err).NotTo(HaveOccurred())
			Expect(validate(text)).To(Succeed())
		},
		Entry("the least", "name: a\nsteps: [{check: {}}]\n"),
		Entry("one word for a list", "name: a\nlabels: x\nstrategies: cancel\nrequires: clock\nsteps: [{check: {properties: P4}}]\n"),
		Entry("requirements", "name: a\nrequires: [faults, clock, controlled]\nsteps: [{check: {}}]\n"),
		Entry("a client with no settings", minimal),
		Entry("null params and match in a fault", minimal+"  - fault: {match: null, action: reset, params: null}\n"),
		Entry("fault methods and ops in any case, with spaces", minimal+"  - fault: {match: {method: [' patch', Get], op: INSERT}, action: status, params: {code: 503}}\n"),
		Entry("a concurrent write's patch", minimal+"  - fault: {action: concurrent-write, params: {patch: {text: other, n: 1, createdAt: null}}}\n"),
		Entry("anchors, aliases and merge keys", "name: a\nclients: {p: &d {store: memory}, q: *d}\n"+
			"steps: [{p: {op: insert, table: t, item: &i {id: e1, n: 1}}}, {q: {op: update, table: t, item: {<<: *i, n: 2}}}]\n"),
		Entry("the smallest numbers", "name: a\nserver: {pageSize: 1, maxTop: 1, clockStepMs: 0, seed: -7}\n"+
			"clients: {p: {options: {pageSize: 1, maxTries: 1, timeoutMs: 1}}}\n"+
			"steps: [{p: {op: read, table: t, query: {top: 0, skip: 0}}}, {clock: {advanceMs: 0}}, {converge: {rounds: 1}},\n"+
			"  {fault: {action: latency, match: {after: 0, times: 0, probability: 0}, params: {ms: 0, jitterMs: 0}}},\n"+
			"  {fault: {action: truncate, params: {bytes: -1}}}, {fault: {action: page-shift, params: {rows: 1}}}, {fault: {action: status, params: {code: 400}}},\n"+
			"  {fault: {action: clock-skew, params: {ms: -1}}}, {check: {p: {pending: 0, errors: 0}}}]\n"),
		Entry("the largest numbers", "name: a\n"+
			"steps: [{fault: {action: latency, match: {probability: 1}, params: {ms: 3600000, jitterMs: 3600000}}}, {fault: {action: timeout, params: {ms: 3600000}}},\n"+
			"  {fault: {action: page-shift, params: {rows: 1000}}}, {fault: {action: status, params: {code: 599}}}, {fault: {action: clock-skew, params: {ms: 31536000000}}}]\n"),
		Entry("a client's driver", strings.Replace(minimal, "phone: {}", "phone: {client: node my-driver.js}", 1)),
		Entry("a converge with no settings", "name: a\nsteps: [{converge: }]\n"),
		Entry("expect on a server step", minimal+"  - server: {op: undelete, table: todoitem, id: e1}\n    expect: {error: not-found}\n"),
		Entry("a resolve with an item without id", minimal+"  - phone: {op: resolve, table: todoitem, id: e1, how: update-operation, item: {text: y}}\n"),
		Entry("a check with tables and counts", minimal+"  - check: {server: {todoitem: {e1: null, e2: {deleted: true}}}, phone: {pending: 0, errors: 1, todoitem: {e1: {text: x}}}, converged: false}\n"),
		Entry("requests with ...", minimal+"  - phone: {op: push}\n    expect: {requests: [..., POST /tables/todoitem, ...], status: complete, errors: []}\n"),
		Entry("two ops at once", minimal+"  - phone: {op: pull, table: todoitem}\n    while: {phone: {op: update, table: todoitem, item: {id: e1}}, expect: {error: any}}\n"+
			"    atPage: 2\n    expect: {status: complete}\n  - phone: {op: pull, table: todoitem}\n    while: {server: {op: delete, table: todoitem, id: e1}}\n"),
	)

	// The loader refuses more than a schema can say (a step's actor must be a client of the
	// scenario, when must name one of its strategies, a filter must parse); these are what
	// both refuse.
	DescribeTable("refuses what the loader refuses",
		func(text string) {
			_, err := scenarios.Parse([]byte(text), "bad.yaml")
			Expect(err).To(HaveOccurred(), "the loader takes it")
			Expect(validate(text)).NotTo(Succeed(), "the schema takes it; the loader said: %v", err)
		},
		Entry("no name", "steps: [{check: {}}]\n"),
		Entry("a name that is not kebab-case", strings.Replace(minimal, "name: small", "name: Small One", 1)),
		Entry("an unknown top-level key", minimal+"extra: 1\n"),
		Entry("no steps", "name: x\n"),
		Entry("an empty list of steps", "name: x\nsteps: []\n"),
		Entry("a number for a description", minimal+"description: 3\n"),
		Entry("an unknown strategy", minimal+"strategies: [client-wins, lazy]\n"),
		Entry("an unknown strategy, alone", minimal+"strategies: lazy\n"),
		Entry("a list in labels", minimal+"labels: [a, [b]]\n"),
		Entry("an unknown requirement", minimal+"requires: [faults, luck]\n"),
		Entry("an unknown requirement, alone", minimal+"requires: luck\n"),
		Entry("a bad dialect", minimal+"server: {dialect: v3}\n"),
		Entry("a page size of 0", minimal+"server: {pageSize: 0}\n"),
		Entry("a negative clock step", minimal+"server: {clockStepMs: -1}\n"),
		Entry("soft delete as a word", minimal+"server: {softDelete: maybe}\n"),
		Entry("an unknown server key", minimal+"server: {pages: 2}\n"),
		Entry("a row without an id", minimal+"server: {tables: {todoitem: [{text: x}]}}\n"),
		Entry("rows that are not a list", minimal+"server: {tables: {todoitem: {id: e1}}}\n"),
		Entry("clients as a list", "name: a\nclients: [phone]\nsteps: [{check: {}}]\n"),
		Entry("an unknown store", strings.Replace(minimal, "phone: {}", "phone: {store: disk}", 1)),
		Entry("a blank driver", strings.Replace(minimal, "phone: {}", "phone: {client: '  '}", 1)),
		Entry("an unknown option", strings.Replace(minimal, "phone: {}", "phone: {options: {retry: true}}", 1)),
		Entry("a bad push scope", strings.Replace(minimal, "phone: {}", "phone: {options: {pushScope: world}}", 1)),
		Entry("a max tries of 0", strings.Replace(minimal, "phone: {}", "phone: {options: {maxTries: 0}}", 1)),
		Entry("a reserved client name", strings.Replace(minimal, "phone: {}", "server: {}", 1)),
		Entry("a client name with a space", strings.Replace(minimal, "phone: {}", "my phone: {}", 1)),
		Entry("a step that is not a mapping", minimal+"  - push\n"),
		Entry("a step with no actor", minimal+"  - when: {strategy: cancel}\n"),
		Entry("two actors in a step", minimal+"  - {phone: {op: push}, heal: all}\n"),
		Entry("an unknown op", minimal+"  - phone: {op: sync}\n"),
		Entry("a missing op", minimal+"  - phone: {table: todoitem}\n"),
		Entry("a missing item", minimal+"  - phone: {op: insert, table: todoitem}\n"),
		Entry("a missing table", minimal+"  - phone: {op: pull}\n"),
		Entry("a delete with neither item nor id", minimal+"  - phone: {op: delete, table: todoitem}\n"),
		Entry("a key the op does not take", minimal+"  - phone: {op: push, force: true}\n"),
		Entry("an item without an id", minimal+"  - phone: {op: update, table: todoitem, item: {text: y}}\n"),
		Entry("an id that is a number", minimal+"  - phone: {op: update, table: todoitem, item: {id: 5}}\n"),
		Entry("a nested value", minimal+"  - phone: {op: update, table: todoitem, item: {id: e1, tags: [a]}}\n"),
		Entry("force as a word", minimal+"  - phone: {op: purge, table: todoitem, force: yes please}\n"),
		Entry("an unknown query key", minimal+"  - phone: {op: read, table: todoitem, query: {where: x}}\n"),
		Entry("a negative top", minimal+"  - phone: {op: read, table: todoitem, query: {top: -1}}\n"),
		Entry("a bad resolution", minimal+"  - phone: {op: resolve, table: todoitem, id: e1, how: ignore}\n"),
		Entry("a server op a client has", minimal+"  - server: {op: push}\n"),
		Entry("a server undelete with neither item nor id", minimal+"  - server: {op: undelete, table: todoitem}\n"),
		Entry("a fault with no action", minimal+"  - fault: {match: {client: phone}}\n"),
		Entry("an unknown fault action", minimal+"  - fault: {action: explode}\n"),
		Entry("an unknown fault key", minimal+"  - fault: {action: reset, when: later}\n"),
		Entry("an unknown match key", minimal+"  - fault: {action: reset, match: {user: phone}}\n"),
		Entry("an unknown method", minimal+"  - fault: {action: reset, match: {method: PUT}}\n"),
		Entry("an unknown fault op", minimal+"  - fault: {action: reset, match: {op: [query, upsert]}}\n"),
		Entry("a negative times", minimal+"  - fault: {action: reset, match: {times: -1}}\n"),
		Entry("a probability above 1", minimal+"  - fault: {action: reset, match: {probability: 1.5}}\n"),
		Entry("a bad table name in a match", minimal+"  - fault: {action: reset, match: {table: todo-item}}\n"),
		Entry("an id with a question mark in a match", minimal+"  - fault: {action: reset, match: {id: \"a?b\"}}\n"),
		Entry("a fault id with a space", minimal+"  - fault: {id: my fault, action: reset}\n"),
		Entry("a negative latency", minimal+"  - fault: {action: latency, params: {ms: -1}}\n"),
		Entry("a latency over an hour", minimal+"  - fault: {action: latency, params: {ms: 3600001}}\n"),
		Entry("a status that is not an error", minimal+"  - fault: {action: status, params: {code: 200}}\n"),
		Entry("a parameter the action does not take", minimal+"  - fault: {action: reset, params: {ms: 5}}\n"),
		Entry("a clock skew of nothing", minimal+"  - fault: {action: clock-skew}\n"),
		Entry("a clock skew of 0", minimal+"  - fault: {action: clock-skew, params: {ms: 0}}\n"),
		Entry("a page shift of 0 rows", minimal+"  - fault: {action: page-shift, params: {rows: 0}}\n"),
		Entry("a truncate below -1", minimal+"  - fault: {action: truncate, params: {bytes: -2}}\n"),
		Entry("a concurrent write of the id", minimal+"  - fault: {action: concurrent-write, params: {patch: {id: e2}}}\n"),
		Entry("a heal that is not a word", minimal+"  - heal: [a]\n"),
		Entry("converge with 0 rounds", minimal+"  - converge: {rounds: 0}\n"),
		Entry("an unknown converge key", minimal+"  - converge: {until: done}\n"),
		Entry("a clock without advanceMs", minimal+"  - clock: {}\n"),
		Entry("a clock going back", minimal+"  - clock: {advanceMs: -5}\n"),
		Entry("when without strategies", minimal+"    when: {strategy: cancel}\n"),
		Entry("when naming an unknown strategy", "strategies: [client-wins]\n"+minimal+"    when: {strategy: lazy}\n"),
		Entry("when without strategy", "strategies: [client-wins]\n"+minimal+"    when: {}\n"),
		Entry("an unknown error kind", minimal+"    expect: {error: boom}\n"),
		Entry("an unknown expect key", minimal+"    expect: {result: ok}\n"),
		Entry("an unknown push status", minimal+"  - phone: {op: push}\n    expect: {status: done}\n"),
		Entry("a status on an insert", minimal+"    expect: {status: complete}\n"),
		Entry("rows on a push", minimal+"  - phone: {op: push}\n    expect: {rows: [e1]}\n"),
		Entry("an item on a read", minimal+"  - phone: {op: read, table: todoitem}\n    expect: {item: null}\n"),
		Entry("errors on a server step", minimal+"  - server: {op: delete, table: todoitem, id: e1}\n    expect: {errors: []}\n"),
		Entry("an error on a check", minimal+"  - check: {}\n    expect: {error: any}\n"),
		Entry("an expected error without a status", minimal+"  - phone: {op: push}\n    expect: {errors: [{table: todoitem, id: e1}]}\n"),
		Entry("rows that are not ids", minimal+"  - phone: {op: read, table: todoitem}\n    expect: {rows: [1]}\n"),
		Entry("a malformed request", minimal+"    expect: {requests: [POST tables/todoitem]}\n"),
		Entry("a request with a query string", minimal+"    expect: {requests: [\"GET /tables/t?x=1\"]}\n"),
		Entry("a request with an unknown method", minimal+"    expect: {requests: [PUT /tables/t]}\n"),
		Entry("a check that is a list", minimal+"  - check: [server]\n"),
		Entry("a property scenarios do not check", minimal+"  - check: {properties: [P8]}\n"),
		Entry("a negative pending count", minimal+"  - check: {phone: {pending: -1}}\n"),
		Entry("converged as a word", minimal+"  - check: {converged: sure}\n"),
		Entry("a checked row that is a list", minimal+"  - check: {server: {todoitem: {e1: [x]}}}\n"),
		Entry("a checked table that is a list", minimal+"  - check: {phone: {todoitem: [e1]}}\n"),
		Entry("while on a push", minimal+"  - phone: {op: push}\n    while: {server: {op: delete, table: todoitem, id: e1}}\n"),
		Entry("atPage without while", minimal+"  - phone: {op: pull, table: todoitem}\n    atPage: 2\n"),
		Entry("page 0", minimal+"  - phone: {op: pull, table: todoitem}\n    while: {server: {op: delete, table: todoitem, id: e1}}\n    atPage: 0\n"),
		Entry("a fault inside while", minimal+"  - phone: {op: pull, table: todoitem}\n    while: {fault: {action: reset}}\n"),
		Entry("two actors inside while", minimal+"  - phone: {op: pull, table: todoitem}\n    while: {server: {op: delete, table: todoitem, id: e1}, phone: {op: read, table: todoitem}}\n"),
	)
})
