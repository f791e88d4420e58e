package drivers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A Factory starts a driver: once per scenario run.
type Factory func(ctx context.Context) (Driver, error)

// ErrNoDriver is returned by Lookup for a client it cannot find.
var ErrNoDriver = errors.New("no such client driver")

// Lookup finds a client's driver by the name a user gives (--client, a scenario's client):
//
//   - "go": the built-in driver, conflictlab's own client;
//   - "js": the JavaScript SDK's driver, drivers/js/driver.js of a conflictlab checkout
//     (found from the working directory up, or under $CONFLICTLAB_DRIVERS), run with node;
//   - anything else: a command line, split on spaces (quote with ' or " to keep spaces),
//     run as a driver process.
func Lookup(name string) (Factory, error) {
	switch strings.TrimSpace(name) {
	case "", "go":
		return func(context.Context) (Driver, error) { return Go(), nil }, nil
	case "js":
		script, err := findJS()
		if err != nil {
			return nil, err
		}
		return CommandFactory(Command{Args: []string{"node", script}}), nil
	}
	args, err := SplitCommand(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDriver, err)
	}
	return CommandFactory(Command{Args: args}), nil
}

// CommandFactory starts the command as a driver for every run.
func CommandFactory(c Command) Factory {
	return func(ctx context.Context) (Driver, error) { return Start(ctx, c) }
}

// findJS finds drivers/js/driver.js, installed (node_modules present).
func findJS() (string, error) {
	var tried []string
	try := func(dir string) (string, bool) {
		script := filepath.Join(dir, "js", "driver.js")
		tried = append(tried, script)
		if _, err := os.Stat(script); err != nil {
			return "", false
		}
		return script, true
	}
	if dir := os.Getenv("CONFLICTLAB_DRIVERS"); dir != "" {
		if s, ok := try(dir); ok {
			return installed(s)
		}
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if s, ok := try(filepath.Join(dir, "drivers")); ok {
				return installed(s)
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return "", fmt.Errorf("%w: js: drivers/js/driver.js is not here (looked at %s); run from a conflictlab checkout or set CONFLICTLAB_DRIVERS to its drivers folder",
		ErrNoDriver, strings.Join(tried, ", "))
}

func installed(script string) (string, error) {
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules")); err != nil {
		return "", fmt.Errorf("%w: js: %s is not installed: run `make drivers` (npm ci in %s)", ErrNoDriver, script, filepath.Dir(script))
	}
	return script, nil
}

// SplitCommand splits a command line on spaces, keeping what ' or " quote together.
func SplitCommand(line string) ([]string, error) {
	var args []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, c := range line {
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(c)
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				args = append(args, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed %c in %q", quote, line)
	}
	if in {
		args = append(args, cur.String())
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("empty command")
	}
	return args, nil
}
