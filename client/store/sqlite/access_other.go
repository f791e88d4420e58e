//go:build !unix

package sqlite

// writable cannot ask the OS beforehand here; SQLite reports a file it cannot write
// (SQLITE_READONLY, mapped to ErrReadOnly) at the first write instead.
func writable(string) error { return nil }
