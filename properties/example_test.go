package properties_test

import (
	"context"
	"fmt"
	"time"

	"github.com/conflictlab/conflictlab/properties"
)

// A campaign plays random interleavings for a while and checks every property after the
// actions it is about; a failure comes back shrunk, with the scenario file that replays it.
func ExampleCampaign() {
	out := properties.Campaign{
		Config:   properties.Config{Strategy: "client-wins", Clients: 2, InMemory: true, Faults: true},
		Duration: 300 * time.Millisecond,
		Seed:     1,
	}.Run(context.Background())
	fmt.Println("violated:", out.Failed, "explored:", out.Stats.Runs > 0)
	// Output: violated: false explored: true
}
