package storetest_test

import (
	"fmt"
	"strings"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/client/store/memory"
	"github.com/conflictlab/conflictlab/client/store/storetest"
)

// A store's own suite registers every check with storetest.Specs inside a Ginkgo container.
// Outside Ginkgo, Verify runs one check and says what failed, if anything.
func ExampleVerify() {
	open := func() (store.Store, error) { return memory.New(), nil }
	for _, c := range storetest.Checks() {
		if !strings.HasPrefix(c.Name, "config: ") {
			continue
		}
		failure := storetest.Verify(open, c)
		fmt.Printf("%s: passed=%v\n", c.Name, failure == "")
	}
	// Output:
	// config: a value is set, overwritten and deleted: passed=true
	// config: ConfigKeys lists the keys with a prefix, sorted, case-sensitively: passed=true
}
