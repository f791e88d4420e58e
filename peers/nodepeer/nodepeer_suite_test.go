package nodepeer_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestNodepeer(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "nodepeer")
}
