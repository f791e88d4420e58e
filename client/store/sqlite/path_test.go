package sqlite

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("the JSON path of a filter's property name", func() {
	type result struct {
		Path string
		OK   bool
	}
	DescribeTable("is exact only when the table's spellings leave SQL no choice",
		func(spellings []string, name string, want result) {
			path, ok := pathFunc(spellings)(name)
			Expect(result{path, ok}).To(Equal(want))
		},
		Entry("the one spelling, named as spelled", []string{"id", "text"}, "text", result{`$."text"`, true}),
		Entry("the one spelling, named in another case", []string{"id", "Text"}, "TEXT", result{`$."Text"`, true}),
		Entry("no spelling: no row has it, any path finds nothing", []string{"id"}, "Missing", result{`$."Missing"`, true}),
		Entry("several spellings: a row may hold two and odata picks by name", []string{"text", "Text"}, "text", result{"", false}),
		Entry("several spellings, named in a third case", []string{"text", "Text"}, "TEXT", result{"", false}),
		Entry("a name SQLite's path syntax cannot quote", []string{"id"}, `a"b`, result{"", false}),
		Entry("a name encoding/json escapes", []string{"id"}, "a<b", result{"", false}),
		Entry("a control character", []string{"id"}, "a\nb", result{"", false}),
		Entry("invalid UTF-8", []string{"id"}, "a\xffb", result{"", false}),
	)
})
