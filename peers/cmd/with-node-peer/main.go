// Command with-node-peer runs a command against the real Azure Mobile Apps Node backend
// (peers/node): it starts the peer on a free port, writes a target file for it, runs the
// command with every "{target}" in its arguments replaced by that file's path, and stops the
// peer. `make report` uses it to add the Node backend beside the embedded server:
//
//	go run ./peers/cmd/with-node-peer conflictlab run --target {target} --out reports/out/node scenarios/catalog
//
// Where the peer is not installed (make peers) it says why and exits 0 without running the
// command. Otherwise it exits with the command's status.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"go.yaml.in/yaml/v3"

	"github.com/conflictlab/conflictlab/peers/nodepeer"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: with-node-peer CMD [ARG…]   ({target} in an argument is the peer's target file)")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	peer, err := nodepeer.Start(ctx, nodepeer.Options{})
	if errors.Is(err, nodepeer.ErrNotInstalled) {
		fmt.Fprintf(os.Stderr, "with-node-peer: skipped %q: %v\n", strings.Join(args, " "), err)
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "with-node-peer:", err)
		return 1
	}
	defer peer.Stop()
	target, err := peer.Target(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "with-node-peer:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "conflictlab-node-peer-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "with-node-peer:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "target.yaml")
	data, err := yaml.Marshal(target)
	if err == nil {
		err = os.WriteFile(file, data, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "with-node-peer:", err)
		return 1
	}
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "{target}", file)
	}
	fmt.Fprintf(os.Stderr, "with-node-peer: the Node backend at %s\n", peer.URL)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintln(os.Stderr, "with-node-peer:", err)
		return 1
	}
	return 0
}
