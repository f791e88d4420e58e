package drivers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/drivers"
)

// The test binary is also every driver the tests start: with CONFLICTLAB_TEST_DRIVER set,
// it serves the protocol on stdin and stdout instead of running tests. "go" is the built-in
// client served as a process; the others are drivers broken in one way each.
func TestMain(m *testing.M) {
	if mode := os.Getenv("CONFLICTLAB_TEST_DRIVER"); mode != "" {
		os.Exit(serveTestDriver(mode))
	}
	os.Exit(m.Run())
}

func TestDrivers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "drivers")
}

// testDriver is the command that runs this binary as the driver of the given mode.
func testDriver(mode string) drivers.Command {
	return drivers.Command{Args: []string{os.Args[0]}, Env: []string{"CONFLICTLAB_TEST_DRIVER=" + mode}, Timeout: 3 * time.Second}
}

func serveTestDriver(mode string) int {
	ctx := context.Background()
	switch mode {
	case "go":
		if err := drivers.Serve(ctx, os.Stdin, os.Stdout, drivers.Go()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case "crash-on-pull":
		// A correct driver until the first pull, where it dies with a message on stderr.
		pr, pw, _ := os.Pipe()
		go func() {
			in := bufio.NewScanner(os.Stdin)
			in.Buffer(nil, 16<<20)
			for in.Scan() {
				var req map[string]any
				_ = json.Unmarshal(in.Bytes(), &req)
				if req["op"] == "pull" {
					fmt.Fprintln(os.Stderr, "driver: segmentation fault in the SDK (simulated)")
					os.Exit(3)
				}
				pw.Write(append(in.Bytes(), '\n'))
			}
			pw.Close()
		}()
		_ = drivers.Serve(ctx, pr, os.Stdout, drivers.Go())
		return 0
	}
	// The broken drivers answer hello (some of them wrongly) and then misbehave.
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(nil, 16<<20)
	out := json.NewEncoder(os.Stdout)
	hello := map[string]any{"protocol": 1, "driver": "broken-" + mode, "sdk": "none", "version": "0",
		"capabilities": map[string]any{"strategies": []string{"manual"}, "options": []string{}, "stores": []string{"memory"},
			"dialects": []string{"v2"}, "ops": []string{"insert", "lookup", "push", "pull"}}}
	for in.Scan() {
		var req map[string]any
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			return 2
		}
		id := req["id"]
		switch {
		case req["op"] == "hello" && mode == "old-protocol":
			hello["protocol"] = 0
			out.Encode(map[string]any{"id": id, "ok": true, "result": hello})
		case req["op"] == "hello" && mode == "unknown-capability":
			hello["capabilities"].(map[string]any)["strategies"] = []string{"last-writer-wins"}
			out.Encode(map[string]any{"id": id, "ok": true, "result": hello})
		case req["op"] == "hello":
			out.Encode(map[string]any{"id": id, "ok": true, "result": hello})
		case req["op"] == "shutdown":
			out.Encode(map[string]any{"id": id, "ok": true, "result": map[string]any{}})
			return 0
		case mode == "wrong-ids":
			out.Encode(map[string]any{"id": 1000, "ok": true, "result": map[string]any{}})
		case mode == "garbage":
			fmt.Println("loading the SDK… done")
		case mode == "hang":
			fmt.Fprintln(os.Stderr, "driver: waiting for something that never comes")
		case mode == "bad-kind":
			out.Encode(map[string]any{"id": id, "ok": false, "error": map[string]any{"kind": "oops", "message": "no"}})
		default:
			out.Encode(map[string]any{"id": id, "ok": true, "result": map[string]any{}})
		}
	}
	return 0
}
