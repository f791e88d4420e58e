// Package nodepeer runs the real Azure Mobile Apps Node backend (peers/node: azure-mobile-apps
// 4.0.2 on express 4 with its sqlite provider, dynamic schema and soft delete) as a peer for
// tests: Start launches it on a free port of 127.0.0.1, Reset empties it between runs, Stop
// ends it. The Node app must have been installed first (`make peers`, which runs `npm ci` in
// peers/node); where it was not, or node is missing, Start returns an error that matches
// ErrNotInstalled and says why, so a test can skip with that reason:
//
//	p, err := nodepeer.Start(ctx, nodepeer.Options{PageSize: 5})
//	if errors.Is(err, nodepeer.ErrNotInstalled) {
//		t.Skip(err)
//	}
//
// The process never outlives its Peer: Stop, the end of Start's context and the exit of the
// test process (Node watches its stdin, which closes then) each end it, with its whole
// process group.
package nodepeer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/conflictlab/conflictlab/internal/tailbuf"
	"github.com/conflictlab/conflictlab/targets"
)

// ErrNotInstalled is matched (errors.Is) by the error Start and Installed return when the
// Node peer cannot run here: node is missing, or peers/node was never installed.
var ErrNotInstalled = errors.New("the Node peer is not installed")

// NotInstalledError says why the Node peer cannot run.
type NotInstalledError struct {
	Reason string
}

func (e *NotInstalledError) Error() string { return "the Node peer is not installed: " + e.Reason }

// Is makes errors.Is(err, ErrNotInstalled) true.
func (e *NotInstalledError) Is(target error) bool { return target == ErrNotInstalled }

// Options configure a peer. The zero value runs the app found by walking up from the working
// directory, with azure-mobile-apps' defaults (pages of 50, $top at most 1000) and the tables
// the catalogue, the conformance suite and the property tests use.
type Options struct {
	// Dir is the Node app's folder (peers/node). Empty: $CONFLICTLAB_NODE_PEER_DIR, else the
	// first peers/node found walking up from the working directory.
	Dir string
	// Node is the node binary; empty: "node" on the PATH.
	Node string
	// PageSize is the default $top (azure-mobile-apps' pageSize); 0 means 50.
	PageSize int
	// MaxTop is the largest $top accepted; 0 means 1000.
	MaxTop int
	// Tables are the tables to declare; empty means the app's own list.
	Tables []string
	// DBFile is the sqlite file; empty means a new file in a temporary folder of its own,
	// removed when the peer stops.
	DBFile string
	// Log receives what Node writes on stderr (azure-mobile-apps' log at LogLevel). Nil keeps
	// the last lines to explain a failed start.
	Log io.Writer
	// LogLevel is azure-mobile-apps' log level; empty means "error".
	LogLevel string
	// StartTimeout bounds the wait for Node to listen; 0 means 60 s.
	StartTimeout time.Duration
}

// Peer is a running Node backend.
type Peer struct {
	// URL is the base URL, http://127.0.0.1:PORT, with no trailing slash.
	URL string

	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stderr   *tailbuf.Buffer
	done     chan struct{} // closed when the process has exited
	waitErr  error
	stopOnce sync.Once
	stopped  chan struct{} // closed by Stop, ends the context watcher
	client   *http.Client
}

// Info is what the peer says about itself at /_peer/info.
type Info struct {
	Server        string   `json:"server"`
	Version       string   `json:"version"`
	Node          string   `json:"node"`
	Provider      string   `json:"provider"`
	DynamicSchema bool     `json:"dynamicSchema"`
	SoftDelete    bool     `json:"softDelete"`
	PageSize      int      `json:"pageSize"`
	MaxTop        int      `json:"maxTop"`
	Tables        []string `json:"tables"`
}

// urlLine is the line app.js prints when it listens; keep it in step with app.js.
const urlLine = "conflictlab-node-peer listening on "

// Installed reports whether the Node peer can run with opts (node found, peers/node
// installed); the error matches ErrNotInstalled and says what is missing.
func Installed(opts Options) error {
	_, _, err := locate(opts)
	return err
}

// locate finds node and the app folder, and checks the install.
func locate(opts Options) (node, dir string, err error) {
	node = opts.Node
	if node == "" {
		node = "node"
	}
	if node, err = exec.LookPath(node); err != nil {
		return "", "", &NotInstalledError{Reason: fmt.Sprintf("node not found (%v); the Node peer needs Node >= 18 and npm", err)}
	}
	dir = opts.Dir
	if dir == "" {
		dir = os.Getenv("CONFLICTLAB_NODE_PEER_DIR")
	}
	if dir == "" {
		if dir, err = findApp(); err != nil {
			return "", "", err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "app.js")); err != nil {
		return "", "", &NotInstalledError{Reason: fmt.Sprintf("no app.js in %s", dir)}
	}
	for _, need := range []string{
		filepath.Join("node_modules", "azure-mobile-apps", "package.json"),
		filepath.Join("node_modules", "express", "package.json"),
		filepath.Join("node_modules", "sqlite3", "build", "Release", "node_sqlite3.node"),
	} {
		if _, err := os.Stat(filepath.Join(dir, need)); err != nil {
			return "", "", &NotInstalledError{Reason: fmt.Sprintf("%s is missing: run `make peers` (npm ci in %s)", need, dir)}
		}
	}
	return node, dir, nil
}

// findApp walks up from the working directory to the first peers/node/app.js.
func findApp() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", &NotInstalledError{Reason: fmt.Sprintf("cannot find peers/node: %v", err)}
	}
	for d := wd; ; d = filepath.Dir(d) {
		cand := filepath.Join(d, "peers", "node")
		if _, err := os.Stat(filepath.Join(cand, "app.js")); err == nil {
			return cand, nil
		}
		if filepath.Dir(d) == d {
			return "", &NotInstalledError{Reason: fmt.Sprintf("no peers/node/app.js above %s; set CONFLICTLAB_NODE_PEER_DIR", wd)}
		}
	}
}

// Start runs the Node peer and waits until it listens. The peer stops when ctx ends, or at
// Stop, whichever is first; a failed Start leaves nothing running.
func Start(ctx context.Context, opts Options) (*Peer, error) {
	node, dir, err := locate(opts)
	if err != nil {
		return nil, err
	}
	if opts.PageSize < 0 || opts.MaxTop < 0 {
		return nil, errors.New("nodepeer: PageSize and MaxTop must not be negative")
	}
	for _, t := range opts.Tables {
		if !validTable(t) {
			return nil, fmt.Errorf("nodepeer: table name %q: want a letter, then letters, digits and _", t)
		}
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}

	cmd := exec.Command(node, "app.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CONFLICTLAB_PEER_PORT=0", "CONFLICTLAB_PEER_STDIN_EXIT=1")
	if opts.PageSize > 0 {
		cmd.Env = append(cmd.Env, "CONFLICTLAB_PEER_PAGE_SIZE="+strconv.Itoa(opts.PageSize))
	}
	if opts.MaxTop > 0 {
		cmd.Env = append(cmd.Env, "CONFLICTLAB_PEER_MAX_TOP="+strconv.Itoa(opts.MaxTop))
	}
	if len(opts.Tables) > 0 {
		cmd.Env = append(cmd.Env, "CONFLICTLAB_PEER_TABLES="+strings.Join(opts.Tables, ","))
	}
	if opts.DBFile != "" {
		cmd.Env = append(cmd.Env, "CONFLICTLAB_PEER_DB="+opts.DBFile)
	}
	if opts.LogLevel != "" {
		cmd.Env = append(cmd.Env, "CONFLICTLAB_PEER_LOG="+opts.LogLevel)
	}
	ownGroup(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("nodepeer: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("nodepeer: %w", err)
	}
	p := &Peer{cmd: cmd, stdin: stdin, stderr: &tailbuf.Buffer{Max: 8 << 10}, done: make(chan struct{}),
		stopped: make(chan struct{}), client: &http.Client{Timeout: 30 * time.Second}}
	if opts.Log != nil {
		cmd.Stderr = io.MultiWriter(opts.Log, p.stderr)
	} else {
		cmd.Stderr = p.stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("nodepeer: start %s: %w", node, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()

	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), urlLine); ok && !sent {
				urls <- strings.TrimRight(strings.TrimSpace(u), "/")
				sent = true
			}
		}
		// Keep draining until exit, so Node never blocks on a full stdout pipe.
		_, _ = io.Copy(io.Discard, stdout)
	}()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case p.URL = <-urls:
	case <-p.done:
		return nil, fmt.Errorf("nodepeer: node exited before listening (%v): %s", p.waitErr, p.stderr.String())
	case <-timer.C:
		p.Stop()
		return nil, fmt.Errorf("nodepeer: node did not listen within %v: %s", timeout, p.stderr.String())
	case <-ctx.Done():
		p.Stop()
		return nil, fmt.Errorf("nodepeer: %w", ctx.Err())
	}
	go func() {
		select {
		case <-ctx.Done():
			p.Stop()
		case <-p.stopped:
		case <-p.done:
		}
	}()
	return p, nil
}

// Stop ends the peer and its process group and waits for it to exit. It is safe to call more
// than once and from several goroutines. It returns nil when Node exited on the signal.
func (p *Peer) Stop() error {
	p.stopOnce.Do(func() {
		close(p.stopped)
		_ = p.stdin.Close()
		signalGroup(p.cmd, false)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			signalGroup(p.cmd, true)
			<-p.done
		}
	})
	<-p.done
	return nil
}

// Exited is closed when the Node process has exited, for whatever reason.
func (p *Peer) Exited() <-chan struct{} { return p.done }

// Stderr is the last of what Node wrote on stderr.
func (p *Peer) Stderr() string { return p.stderr.String() }

// Reset empties every table: rows, the columns dynamic schema added, and azure-mobile-apps'
// cache of them, so the next run meets the schema of a fresh database.
func (p *Peer) Reset(ctx context.Context) error {
	var out struct {
		Error string `json:"error"`
	}
	return p.call(ctx, http.MethodPost, "/_peer/reset", &out)
}

// Info asks the peer what it offers.
func (p *Peer) Info(ctx context.Context) (Info, error) {
	var info Info
	err := p.call(ctx, http.MethodGet, "/_peer/info", &info)
	return info, err
}

func (p *Peer) call(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, p.URL+path, nil)
	if err != nil {
		return fmt.Errorf("nodepeer: %w", err)
	}
	res, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("nodepeer: %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("nodepeer: %s %s: %w", method, path, err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("nodepeer: %s %s: %s: %s", method, path, res.Status, bytes.TrimSpace(raw))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("nodepeer: %s %s: %w", method, path, err)
	}
	return nil
}

func validTable(t string) bool {
	if t == "" {
		return false
	}
	for i, c := range t {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !(letter || i > 0 && (c == '_' || c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

// Target is the peer as a server under test: a Node backend emptied by its reset route, with
// its tables, soft delete, and a page size that is only the default $top.
func (p *Peer) Target(ctx context.Context) (*targets.Target, error) {
	info, err := p.Info(ctx)
	if err != nil {
		return nil, err
	}
	soft, caps := info.SoftDelete, false
	t := &targets.Target{URL: p.URL, Kind: targets.KindNode, Dialect: "v2",
		Personality: info.Server + " " + info.Version + ", " + info.Provider,
		Reset:       targets.Reset{URL: p.URL + "/_peer/reset"}, Tables: map[string]targets.Table{}}
	for _, name := range info.Tables {
		t.Tables[name] = targets.Table{SoftDelete: &soft, PageSize: info.PageSize, PageSizeCapsTop: &caps, MaxTop: info.MaxTop}
	}
	return t, nil
}
