//go:build !unix

package properties_test

import "time"

// processCPU is not measured here: cpus-2w reads 0.
func processCPU() time.Duration { return 0 }
