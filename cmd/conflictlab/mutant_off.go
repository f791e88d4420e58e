//go:build !mutants

package main

import "github.com/spf13/pflag"

// addMutantFlag adds nothing: only a build with the tag "mutants" has deliberate bugs to put
// in force (see mutant_on.go).
func addMutantFlag(*pflag.FlagSet) {}

func enableMutant() (restore func(), err error) { return func() {}, nil }
