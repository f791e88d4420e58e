// Package version says which conflictlab this is: the module version and the VCS commit Go
// stamped into the binary, for --version and for the provenance of reports.
package version

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Build is what the binary knows of itself.
type Build struct {
	// Module is the module's version: "v1.2.3" when installed with go install …@version,
	// "(devel)" when built from a checkout.
	Module string
	// Commit and Modified come from the VCS stamp of a build in a checkout.
	Commit   string
	Modified bool
	Go       string
}

var read = sync.OnceValue(func() Build {
	b := Build{Module: "(devel)", Go: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if v := info.Main.Version; v != "" {
		b.Module = v
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
})

// Get returns the build information.
func Get() Build { return read() }

// String is the version as one word: the module version, with the short commit for a build
// from a checkout ("(devel)+1a2b3c4d5e6f", "+dirty" when it had local changes).
func String() string {
	b := Get()
	s := b.Module
	if b.Commit != "" {
		c := b.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += "+" + c
		if b.Modified {
			s += "-dirty"
		}
	}
	return s
}
