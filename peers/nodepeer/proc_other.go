//go:build !unix

package nodepeer

import "os/exec"

func ownGroup(*exec.Cmd) {}

// signalGroup ends the process itself: without process groups, there is nothing wider.
func signalGroup(cmd *exec.Cmd, _ bool) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
