package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/client/store/sqlite"
	"github.com/conflictlab/conflictlab/client/store/storetest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// TestMain lets the test binary be the child process of openElsewhere.
func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		openAsChild(path)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestSQLite(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "sqlite store")
}

// openFresh opens a new store in the spec's own temporary directory.
func openFresh() (store.Store, error) {
	return sqlite.Open(filepath.Join(GinkgoT().TempDir(), "store.db"))
}

var _ = Describe("sqlite store", func() {
	storetest.Specs(openFresh)
})
