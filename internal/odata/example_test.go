package odata_test

import (
	"fmt"
	"slices"
	"time"

	"github.com/conflictlab/conflictlab/internal/odata"
)

func ExampleParseFilter() {
	e, err := odata.ParseFilter("((complete eq false) and (__updatedAt ge datetimeoffset'2014-06-09T23:40:04.297Z'))")
	if err != nil {
		panic(err)
	}
	fmt.Println(odata.Format(e))
	fmt.Println(odata.Properties(e))

	_, err = odata.ParseFilter("startswith(text) and done")
	fmt.Println(err)
	// Output:
	// complete eq false and __updatedAt ge datetimeoffset'2014-06-09T23:40:04.297Z'
	// [__updatedAt complete]
	// $filter: startswith takes 2 arguments, got 1 at position 0: "startswith(text) and done"
}

func ExampleMatch() {
	e, err := odata.ParseFilter("substringof('eggs',tolower(text)) and updatedAt ge datetimeoffset'2014-06-09T23:40:04.297Z'")
	if err != nil {
		panic(err)
	}
	rows := []map[string]any{
		// A server row holds a time.Time; a client row holds the same instant as a string.
		{"id": "a", "text": "Green Eggs", "updatedAt": time.Date(2014, 6, 9, 23, 40, 4, 297e6, time.UTC)},
		{"id": "b", "text": "green eggs", "updatedAt": "2014-06-10T01:40:05.000+02:00"},
		{"id": "c", "text": "ham", "updatedAt": "2014-06-09T23:40:05.000Z"},
		{"id": "d", "text": "eggs"}, // no updatedAt: null, so the comparison is unknown
	}
	for _, row := range rows {
		fmt.Println(row["id"], odata.Match(e, row))
	}
	// Output:
	// a true
	// b true
	// c false
	// d false
}

func ExampleCompare() {
	values := []any{"b", nil, 2, time.Date(2014, 6, 9, 0, 0, 0, 0, time.UTC), "2014-06-08T00:00:00Z", true, "A", 1.5}
	slices.SortStableFunc(values, odata.Compare)
	fmt.Println(values...)
	// Output:
	// <nil> true 1.5 2 2014-06-08T00:00:00Z 2014-06-09 00:00:00 +0000 UTC A b
}

func ExampleParseOrderBy() {
	o, err := odata.ParseOrderBy("updatedAt desc, id")
	if err != nil {
		panic(err)
	}
	fmt.Println(len(o), o[0].Desc, odata.FormatOrderBy(o))
	// Output:
	// 2 true updatedAt desc,id
}
