package odata_test

import (
	"encoding/json"
	"math"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/internal/odata"
)

var _ = Describe("Compare", func() {
	DescribeTable("orders values of every kind",
		func(a, b any, want int) {
			Expect(odata.Compare(a, b)).To(Equal(want))
			Expect(odata.Compare(b, a)).To(Equal(-want), "antisymmetric")
		},
		Entry("null = null", nil, nil, 0),
		Entry("null < false", nil, false, -1),
		Entry("false < true", false, true, -1),
		Entry("true = true", true, true, 0),
		Entry("true < any number", true, -1e300, -1),
		Entry("numbers by value", 1, 2.5, -1),
		Entry("int = float64", 2, 2.0, 0),
		Entry("json.Number > int", json.Number("3"), int8(2), 1),
		Entry("-0 = 0", math.Copysign(0, -1), 0.0, 0),
		Entry("number < string", 1e300, "", -1),
		Entry("number < time", 1e300, token, -1),
		Entry("time < non-date string", token, "a", -1),
		Entry("date string < non-date string", "2014-06-09T23:40:04.297Z", "0", -1),
		Entry("times by instant", token, token.Add(time.Millisecond), -1),
		Entry("times at millisecond precision", token, token.Add(999*time.Microsecond), 0),
		Entry("times in different zones", token, token.In(time.FixedZone("X", 3600)), 0),
		Entry("time before a date string of the same instant", token, "2014-06-09T23:40:04.297Z", -1),
		Entry("time vs earlier date string", token, "2014-06-09T23:40:04.296Z", 1),
		Entry("date strings by instant, not text", "2014-06-10T00:40:04.297+01:00", "2014-06-09T23:40:04.298Z", -1),
		Entry("date strings of one instant by text", "2014-06-09T23:40:04.297+00:00", "2014-06-09T23:40:04.297Z", -1),
		Entry("date strings with and without a fraction", "2014-06-09T23:40:04Z", "2014-06-09T23:40:04.5Z", -1),
		Entry("strings ordinally", "B", "a", -1),
		Entry("equal strings", "x", "x", 0),
		Entry("string < unknown type", "zzz", map[string]any{}, -1),
		Entry("unknown types are equal", map[string]any{"a": 1}, []int{2}, 0),
		Entry("NaN is null", math.NaN(), nil, 0),
		Entry("infinity is null", math.Inf(1), nil, 0),
		Entry("unparsable json.Number is null", json.Number("x"), nil, 0),
		Entry("json.Number Infinity is null", json.Number("Infinity"), nil, 0),
	)
})
