package odata_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestOdata(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "odata")
}
