package odata_test

import (
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/internal/odata"
)

func BenchmarkParseFilter(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := odata.ParseFilter(incrementalV1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	e, err := odata.ParseFilter(incrementalV1)
	if err != nil {
		b.Fatal(err)
	}
	rows := map[string]map[string]any{
		// The server holds times; the client's store holds strings.
		"server": {"id": "1", "complete": false, "__updatedAt": token.Add(time.Second), "text": "eggs"},
		"client": {"id": "1", "complete": false, "__updatedAt": "2014-06-09T23:40:05.297Z", "text": "eggs"},
	}
	for name, row := range rows {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !odata.Match(e, row) {
					b.Fatal("no match")
				}
			}
		})
	}
}
