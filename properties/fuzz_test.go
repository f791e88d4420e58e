package properties_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/conflictlab/conflictlab/properties"
)

// FuzzMachine lets go test -fuzz drive the state machine: the fuzzer's bytes are rapid's
// choices (clients, strategy, actions), so coverage guides the interleavings.
// make fuzz runs it; a failure leaves its input in testdata/fuzz/FuzzMachine.
func FuzzMachine(f *testing.F) {
	f.Fuzz(rapid.MakeFuzz(properties.Run(properties.Config{Faults: true, InMemory: true,
		Out: "testdata/counterexamples", Name: "fuzz-counterexample"})))
}
