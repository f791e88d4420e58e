package nodepeer

// PidOf exposes the process id to the tests, which check that Stop really ends the process.
func PidOf(p *Peer) int { return p.cmd.Process.Pid }
