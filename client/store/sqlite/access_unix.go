//go:build unix

package sqlite

import "syscall"

// writable reports, as an error, why this process may not write path (a file, or a directory
// to create files in); nil when it may. access(2) answers for the real user, as SQLite's own
// open does, and knows about read-only mounts and immutable files.
func writable(path string) error {
	const wOK = 0x2
	return syscall.Access(path, wOK)
}
