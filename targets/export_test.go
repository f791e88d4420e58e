package targets

// SetReadLimits changes the limits of the runner's reads for a test, and puts them back.
func SetReadLimits(body int64, rows int) (restore func()) {
	oldBody, oldRows := maxReadBody, maxReadRows
	maxReadBody, maxReadRows = body, rows
	return func() { maxReadBody, maxReadRows = oldBody, oldRows }
}
