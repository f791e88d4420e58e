//go:build !unix

package fakeserver_test

import "time"

// cpuTime is not measured here: the CPU figures of the load benchmarks read 0.
func cpuTime() time.Duration { return 0 }
