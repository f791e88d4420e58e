package yamldoc_test

import (
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.yaml.in/yaml/v3"

	"github.com/conflictlab/conflictlab/internal/yamldoc"
)

// walk visits every node of a tree.
func walk(n *yaml.Node, visit func(*yaml.Node)) {
	visit(n)
	for _, c := range n.Content {
		walk(c, visit)
	}
}

var _ = Describe("Parse", func() {
	DescribeTable("gives the tree a YAML decoder sees: no aliases, no merge keys",
		func(text string) {
			var want any
			Expect(yaml.Unmarshal([]byte(text), &want)).To(Succeed())
			root, err := yamldoc.Parse([]byte(text))
			Expect(err).NotTo(HaveOccurred())
			walk(root, func(n *yaml.Node) {
				Expect(n.Kind).NotTo(Equal(yaml.AliasNode), "line %d", n.Line)
				Expect(n.Tag).NotTo(Equal("!!merge"), "line %d", n.Line)
			})
			var got any
			Expect(root.Decode(&got)).To(Succeed())
			Expect(got).To(Equal(want))
		},
		Entry("a scalar alias", "a: &x 1\nb: *x\n"),
		Entry("a mapping alias", "a: &x {k: 1}\nb: *x\n"),
		Entry("a sequence alias", "a: &x [1, 2]\nb: [*x, *x]\n"),
		Entry("an alias used as a key", "a: &k key\nb: {*k : 1}\n"),
		Entry("an anchor named again: the latest wins", "a: &x 1\nb: &x 2\nc: *x\n"),
		Entry("a merge", "base: &b {x: 1, y: 2}\nc: {<<: *b, y: 3}\n"),
		Entry("a merge of a list: the earlier wins", "p: &p {x: 1}\nq: &q {x: 2, y: 2}\nc: {<<: [*p, *q]}\n"),
		Entry("a merge of an inline mapping", "c: {<<: {x: 1}, y: 2}\n"),
		Entry("a merge inside a merged mapping", "p: &p {x: 1}\nq: &q {<<: *p, y: 2}\nc: {<<: *q, z: 3}\n"),
		Entry("a key written after the merge still wins", "p: &p {x: 1}\nc: {<<: *p, x: 2}\n"),
		Entry("an alias to a mapping that merges", "p: &p {x: 1}\nq: &q {<<: *p}\nc: *q\nd: *q\n"),
		Entry("no shorthand at all", "a: 1\nb: [x, {y: z}]\n"),
	)

	It("places an alias's copy where the alias is, and keeps the named node's children", func() {
		root, err := yamldoc.Parse([]byte("a: &x {k: 1}\nb:   *x\n"))
		Expect(err).NotTo(HaveOccurred())
		b := root.Content[3]
		Expect([]int{b.Line, b.Column}).To(Equal([]int{2, 6}))
		Expect(b.Content[0].Line).To(Equal(1), "the children are the anchored node's own")
	})

	It("resolves a node many aliases share once, so the tree grows with the text", func() {
		text := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		text += "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		text += "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		text += "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		text += "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		root, err := yamldoc.Parse([]byte(text))
		Expect(err).NotTo(HaveOccurred())
		seen := map[*yaml.Node]bool{}
		var count func(n *yaml.Node)
		count = func(n *yaml.Node) {
			if seen[n] {
				return
			}
			seen[n] = true
			for _, c := range n.Content {
				count(c)
			}
		}
		count(root)
		Expect(len(seen)).To(BeNumerically("<", 100), "100,000 leaves if the aliases were copied")
	})

	It("returns nil for a document with no content", func() {
		for _, text := range []string{"", "# only a comment\n"} {
			root, err := yamldoc.Parse([]byte(text))
			Expect(err).NotTo(HaveOccurred())
			Expect(root).To(BeNil(), "%q", text)
		}
	})

	DescribeTable("refuses what cannot be resolved, with a position",
		func(text string, line, column int, message string) {
			_, err := yamldoc.Parse([]byte(text))
			var e *yamldoc.Error
			Expect(errors.As(err, &e)).To(BeTrue(), "%v", err)
			Expect(*e).To(Equal(yamldoc.Error{Line: line, Column: column, Message: message}))
		},
		Entry("an alias inside its own anchor", "a: &a [1, *a]\n", 1, 11, "the alias *a is inside the value it names (anchor &a on line 1)"),
		Entry("a merge of a list holding a scalar", "p: &p {x: 1}\nc: {<<: [*p, 2]}\n", 2, 14, "<< merges a mapping or a list of mappings (<<: *a, or <<: [*a, *b])"),
		Entry("an unknown anchor", "a: [1,\n  *b]\n", 2, 3, `unknown anchor "b": no &b before this alias`),
		Entry("a parser error, one line on from the yaml package's", "a:\n- x: 1\n y: 2\n", 3, 0, "did not find expected key"),
	)

	It("prints the position it has", func() {
		Expect((&yamldoc.Error{Line: 2, Column: 3, Message: "m"}).Error()).To(Equal("2:3: m"))
		Expect((&yamldoc.Error{Line: 2, Message: "m"}).Error()).To(Equal("2: m"))
		Expect((&yamldoc.Error{Message: "m"}).Error()).To(Equal("m"))
	})
})
