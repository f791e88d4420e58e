package drivers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/conflictlab/conflictlab/check"
	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/internal/tailbuf"
)

// Command is a driver that runs as a child process and speaks the JSON Lines protocol of
// docs/drivers.md.
type Command struct {
	// Args is the command and its arguments.
	Args []string
	// Dir is its working directory ("": conflictlab's).
	Dir string
	// Env is added to conflictlab's environment.
	Env []string
	// Timeout bounds every request (default 60 s).
	Timeout time.Duration
}

// Limits of the protocol.
const (
	maxLine      = 16 << 20
	stderrKept   = 64 << 10
	defaultWait  = 60 * time.Second
	shutdownWait = 5 * time.Second
)

// Start starts the driver process and says hello. The process ends with Close, or when ctx
// ends.
func Start(ctx context.Context, c Command) (Driver, error) {
	if len(c.Args) == 0 {
		return nil, &Error{Kind: KindDriver, Message: "no driver command"}
	}
	if c.Timeout <= 0 {
		c.Timeout = defaultWait
	}
	cmd := exec.Command(c.Args[0], c.Args[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	// Its own process group, so that Close kills whatever the driver started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, &Error{Kind: KindDriver, Message: err.Error()}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, &Error{Kind: KindDriver, Message: err.Error()}
	}
	p := &process{args: c.Args, timeout: c.Timeout, stdin: stdin, pending: map[int64]chan response{},
		dead: make(chan struct{}), stderr: &tailbuf.Buffer{Max: stderrKept}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, &Error{Kind: KindDriver, Message: fmt.Sprintf("cannot start %s: %v", strings.Join(c.Args, " "), err)}
	}
	p.cmd = cmd
	go p.read(stdout)
	go func() {
		err := cmd.Wait()
		msg := "the driver exited"
		if err != nil {
			msg += " (" + err.Error() + ")"
		} else {
			msg += " (status 0)"
		}
		p.die(msg)
	}()
	stop := context.AfterFunc(ctx, func() { p.kill() })
	p.stopCtx = stop
	var info Info
	if err := p.call(ctx, "hello", map[string]any{"protocol": ProtocolVersion}, &info); err != nil {
		p.kill()
		return nil, err
	}
	if problem := checkInfo(info); problem != "" {
		p.kill()
		return nil, p.fatalError("hello: " + problem)
	}
	p.info = info
	return p, nil
}

// checkInfo says what is wrong with a hello's answer, "" when nothing is.
func checkInfo(info Info) string {
	switch {
	case info.Protocol != ProtocolVersion:
		return fmt.Sprintf("protocol %d; conflictlab speaks %d", info.Protocol, ProtocolVersion)
	case info.Driver == "" || info.SDK == "" || info.Version == "":
		return "driver, sdk and version must be named"
	}
	known := map[string][]string{"strategy": {"client-wins", "server-wins", "cancel", "manual"},
		"store": {"memory", "sqlite"}, "dialect": {"v2", "v1"},
		"op":     {"insert", "update", "delete", "lookup", "read", "query", "push", "pull", "purge", "resolve"},
		"option": {"pushScope", "collapseUpdateDeleteToTail", "purgePushesFirst", "treatIdenticalAsSuccess", "skippedRowsMoveToken", "pageSize", "maxTries"}}
	c := info.Capabilities
	for what, list := range map[string][]string{"strategy": c.Strategies, "store": c.Stores, "dialect": c.Dialects, "op": c.Ops, "option": c.Options} {
		for _, v := range list {
			if !slices.Contains(known[what], v) {
				return fmt.Sprintf("capabilities: unknown %s %q (known: %s)", what, v, strings.Join(known[what], ", "))
			}
		}
	}
	if len(c.Stores) == 0 || len(c.Dialects) == 0 || len(c.Strategies) == 0 {
		return "capabilities: at least one store, dialect and strategy"
	}
	return ""
}

// process is a running driver.
type process struct {
	args    []string
	timeout time.Duration
	cmd     *exec.Cmd
	info    Info
	stderr  *tailbuf.Buffer
	stopCtx func() bool

	wmu   sync.Mutex // one line at a time on stdin
	stdin io.WriteCloser

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan response
	dead    chan struct{}
	why     string // why it died
	devices map[string]bool
}

type response struct {
	ID     *int64          `json:"id"`
	OK     *bool           `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
}

func (p *process) Info() Info { return p.info }

// read dispatches the driver's answers; a line that is not one kills the driver.
func (p *process) read(stdout io.Reader) {
	r := bufio.NewReaderSize(stdout, 64<<10)
	for {
		line, err := readLine(r)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				p.die(err.Error())
				p.kill()
			}
			return
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var res response
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&res); err != nil || res.ID == nil || res.OK == nil {
			p.die(fmt.Sprintf("the driver wrote a line that is not a response (want {\"id\": N, \"ok\": …}): %.200q", line))
			p.kill()
			return
		}
		p.mu.Lock()
		ch, ok := p.pending[*res.ID]
		delete(p.pending, *res.ID)
		p.mu.Unlock()
		if ok && ch == nil {
			continue // its caller gave up waiting
		}
		if !ok {
			p.die(fmt.Sprintf("the driver answered id %d, which no request has (or which was answered already)", *res.ID))
			p.kill()
			return
		}
		ch <- res
	}
}

// readLine reads one line of at most maxLine bytes.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLine {
			return nil, fmt.Errorf("the driver wrote a line longer than %d MiB", maxLine>>20)
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return line, nil
		default:
			return nil, err
		}
	}
}

// die marks the driver dead (once) and fails every request still waiting.
func (p *process) die(why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.dead:
		return
	default:
	}
	p.why = why
	close(p.dead)
}

// alive reports whether the driver is still there to answer.
func (p *process) alive() bool {
	select {
	case <-p.dead:
		return false
	default:
		return true
	}
}

func (p *process) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
}

func (p *process) fatalError(msg string) *Error {
	return &Error{Kind: KindDriver, Message: fmt.Sprintf("%s: %s", strings.Join(p.args, " "), msg), Stderr: p.stderr.String()}
}

// call sends one request and decodes its result into out (nil: ignored).
func (p *process) call(ctx context.Context, op string, args map[string]any, out any) error {
	p.mu.Lock()
	select {
	case <-p.dead:
		why := p.why
		p.mu.Unlock()
		return p.fatalError(why)
	default:
	}
	p.nextID++
	id := p.nextID
	ch := make(chan response, 1)
	p.pending[id] = ch
	p.mu.Unlock()
	req := map[string]any{"id": id, "op": op}
	for k, v := range args {
		req[k] = v
	}
	line, err := json.Marshal(req)
	if err != nil {
		return &Error{Kind: KindInternal, Message: fmt.Sprintf("%s: cannot encode the request: %v", op, err)}
	}
	p.wmu.Lock()
	_, err = p.stdin.Write(append(line, '\n'))
	p.wmu.Unlock()
	if err != nil {
		p.die("cannot write to the driver: " + err.Error())
		p.kill()
	}
	timer := time.NewTimer(p.timeout)
	defer timer.Stop()
	select {
	case res := <-ch:
		if !*res.OK {
			if res.Error == nil || res.Error.Kind == "" || res.Error.Message == "" {
				return p.fatalError(fmt.Sprintf("%s: an error answer needs error.kind and error.message", op))
			}
			if !slices.Contains(Kinds, res.Error.Kind) {
				return p.fatalError(fmt.Sprintf("%s: unknown error kind %q", op, res.Error.Kind))
			}
			res.Error.Errors = normalizeOpErrors(res.Error.Errors)
			return res.Error
		}
		if out == nil {
			return nil
		}
		if len(res.Result) == 0 || string(res.Result) == "null" {
			return p.fatalError(fmt.Sprintf("%s: an ok answer needs a result object", op))
		}
		dec := json.NewDecoder(bytes.NewReader(res.Result))
		dec.UseNumber()
		if err := dec.Decode(out); err != nil {
			return p.fatalError(fmt.Sprintf("%s: the result does not fit the protocol: %v", op, err))
		}
		return nil
	case <-p.dead:
		p.mu.Lock()
		why := p.why
		delete(p.pending, id)
		p.mu.Unlock()
		return p.fatalError(fmt.Sprintf("%s: %s", op, why))
	case <-timer.C:
		p.die(fmt.Sprintf("the driver did not answer %s within %s", op, p.timeout))
		p.kill()
		return p.fatalError(fmt.Sprintf("the driver did not answer %s within %s", op, p.timeout))
	case <-ctx.Done():
		p.mu.Lock()
		if _, waiting := p.pending[id]; waiting {
			p.pending[id] = nil // the answer may still come: it is dropped
		}
		p.mu.Unlock()
		return &Error{Kind: KindInternal, Message: op + ": " + ctx.Err().Error(), cause: ctx.Err()}
	}
}

// Close asks the driver to shut down, and kills it when it does not within 5 s.
func (p *process) Close() error {
	defer p.stopCtx()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	err := p.call(ctx, "shutdown", nil, nil)
	_ = p.stdin.Close()
	select {
	case <-p.dead:
	case <-ctx.Done():
		p.kill()
		<-p.dead
	}
	if err != nil && KindOf(err) != KindDriver {
		return err
	}
	return nil
}

func (p *process) Open(ctx context.Context, cfg DeviceConfig) (Device, error) {
	p.mu.Lock()
	if p.devices == nil {
		p.devices = map[string]bool{}
	}
	if p.devices[cfg.Name] {
		p.mu.Unlock()
		return nil, &Error{Kind: KindInternal, Message: "device " + cfg.Name + " is open already"}
	}
	p.mu.Unlock()
	st := cfg.Store
	if st.Kind == "" {
		st.Kind = "memory"
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	err := p.call(ctx, "open", map[string]any{"device": cfg.Name, "url": cfg.URL, "dialect": cfg.Dialect,
		"installationId": cfg.InstallationID, "store": st, "strategy": cfg.Strategy, "options": cfg.Options,
		"timeoutMs": timeout.Milliseconds()}, &struct{}{})
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.devices[cfg.Name] = true
	p.mu.Unlock()
	return &processDevice{p: p, name: cfg.Name}, nil
}

// processDevice is a device in a driver process.
type processDevice struct {
	p    *process
	name string
}

func (d *processDevice) call(ctx context.Context, op string, args map[string]any, out any) error {
	if args == nil {
		args = map[string]any{}
	}
	args["device"] = d.name
	return d.p.call(ctx, op, args, out)
}

type itemResult struct {
	Item Item `json:"item"`
}

type itemsResult struct {
	Items []Item `json:"items"`
}

func (d *processDevice) write(ctx context.Context, op, table string, item Item) (Item, error) {
	var res itemResult
	if err := d.call(ctx, op, map[string]any{"table": table, "item": item}, &res); err != nil {
		return nil, err
	}
	return normalizeNumbers(res.Item), nil
}

func (d *processDevice) Insert(ctx context.Context, table string, item Item) (Item, error) {
	return d.write(ctx, "insert", table, item)
}

func (d *processDevice) Update(ctx context.Context, table string, item Item) (Item, error) {
	return d.write(ctx, "update", table, item)
}

func (d *processDevice) Delete(ctx context.Context, table string, item Item) error {
	_, err := d.write(ctx, "delete", table, item)
	return err
}

func (d *processDevice) Lookup(ctx context.Context, table, id string) (Item, error) {
	var res itemResult
	if err := d.call(ctx, "lookup", map[string]any{"table": table, "itemId": id}, &res); err != nil {
		return nil, err
	}
	if res.Item == nil {
		return nil, d.p.fatalError("lookup: an ok answer needs an item (a missing row is the error not-found)")
	}
	return normalizeNumbers(res.Item), nil
}

func (d *processDevice) rows(ctx context.Context, op, table string, q *Query) ([]Item, error) {
	args := map[string]any{"table": table}
	if q != nil {
		args["query"] = q
	}
	var res itemsResult
	if err := d.call(ctx, op, args, &res); err != nil {
		return nil, err
	}
	for i := range res.Items {
		res.Items[i] = normalizeNumbers(res.Items[i])
	}
	return res.Items, nil
}

func (d *processDevice) Read(ctx context.Context, table string, q *Query) ([]Item, error) {
	return d.rows(ctx, "read", table, q)
}

func (d *processDevice) Query(ctx context.Context, table string, q *Query) ([]Item, error) {
	return d.rows(ctx, "query", table, q)
}

func (d *processDevice) Push(ctx context.Context, tables ...string) (PushResult, error) {
	args := map[string]any{}
	if len(tables) > 0 {
		args["tables"] = tables
	}
	var res PushResult
	if err := d.call(ctx, "push", args, &res); err != nil {
		return res, err
	}
	if !slices.Contains(PushStatuses, res.Status) {
		return res, d.p.fatalError(fmt.Sprintf("push: unknown status %q (want one of %s)", res.Status, strings.Join(PushStatuses, ", ")))
	}
	res.Errors = normalizeOpErrors(res.Errors)
	return res, nil
}

func (d *processDevice) Pull(ctx context.Context, table string, q *Query, queryID string) error {
	args := map[string]any{"table": table}
	if q != nil {
		args["query"] = q
	}
	if queryID != "" {
		args["queryId"] = queryID
	}
	return d.call(ctx, "pull", args, &struct{}{})
}

func (d *processDevice) Purge(ctx context.Context, table string, q *Query, queryID string, force bool) error {
	args := map[string]any{"table": table, "force": force}
	if q != nil {
		args["query"] = q
	}
	if queryID != "" {
		args["queryId"] = queryID
	}
	return d.call(ctx, "purge", args, &struct{}{})
}

func (d *processDevice) Errors(ctx context.Context) ([]OpError, error) {
	var res struct {
		Errors []OpError `json:"errors"`
	}
	if err := d.call(ctx, "errors", nil, &res); err != nil {
		return nil, err
	}
	return normalizeOpErrors(res.Errors), nil
}

func (d *processDevice) Resolve(ctx context.Context, table, id, how string, item Item) error {
	args := map[string]any{"table": table, "itemId": id, "how": how}
	if item != nil {
		args["item"] = item
	}
	return d.call(ctx, "resolve", args, &struct{}{})
}

// wireOp is an operation as the protocol writes it.
type wireOp struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	State    string `json:"state"`
	Table    string `json:"table"`
	ItemID   string `json:"itemId"`
	Item     Item   `json:"item"`
	Sequence int64  `json:"sequence"`
	Version  int64  `json:"version"`
}

func (d *processDevice) Snapshot(ctx context.Context, tables []string) (check.Snapshot, error) {
	var res struct {
		Rows       map[string][]Item `json:"rows"`
		Operations []wireOp          `json:"operations"`
		Errors     []OpError         `json:"errors"`
		Config     map[string]string `json:"config"`
	}
	snap := check.Snapshot{Rows: map[string]map[string]map[string]any{}, Config: map[string]string{}}
	if err := d.call(ctx, "snapshot", map[string]any{"tables": tables}, &res); err != nil {
		return snap, err
	}
	for _, t := range tables {
		snap.Rows[strings.ToLower(t)] = map[string]map[string]any{}
	}
	for t, rows := range res.Rows {
		m := map[string]map[string]any{}
		for _, row := range rows {
			id, ok := row["id"].(string)
			if !ok {
				return snap, d.p.fatalError(fmt.Sprintf("snapshot: a row of %s has no string id", t))
			}
			m[strings.ToLower(id)] = normalizeNumbers(row)
		}
		snap.Rows[strings.ToLower(t)] = m
	}
	for _, o := range res.Operations {
		kind, state := store.OpKind(o.Kind), store.OpState(o.State)
		if !slices.Contains([]store.OpKind{store.Insert, store.Update, store.Delete}, kind) {
			return snap, d.p.fatalError(fmt.Sprintf("snapshot: operation %s has kind %q (want insert, update or delete)", o.ID, o.Kind))
		}
		if !slices.Contains([]store.OpState{store.Pending, store.Attempted, store.Failed}, state) {
			return snap, d.p.fatalError(fmt.Sprintf("snapshot: operation %s has state %q (want pending, attempted or failed)", o.ID, o.State))
		}
		snap.Ops = append(snap.Ops, store.Operation{ID: o.ID, Kind: kind, State: state, Table: o.Table, ItemID: o.ItemID,
			Item: normalizeNumbers(o.Item), Sequence: o.Sequence, Version: o.Version})
	}
	for _, e := range normalizeOpErrors(res.Errors) {
		snap.Errors = append(snap.Errors, store.OperationError{Kind: store.OpKind(e.Kind), Table: e.Table, ItemID: e.ItemID,
			Status: e.Status, Message: e.Message, Item: e.Item, ServerItem: e.ServerItem})
	}
	for k, v := range res.Config {
		snap.Config[k] = v
	}
	return snap, nil
}

func (d *processDevice) Close(ctx context.Context) error {
	err := d.call(ctx, "close", nil, &struct{}{})
	d.p.mu.Lock()
	delete(d.p.devices, d.name)
	d.p.mu.Unlock()
	return err
}

// normalizeNumbers turns the json.Numbers of a decoded row into float64, as the rest of
// conflictlab reads JSON numbers.
func normalizeNumbers(row Item) Item {
	for k, v := range row {
		row[k] = plain(v)
	}
	return row
}

func plain(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case map[string]any:
		return normalizeNumbers(x)
	case []any:
		for i := range x {
			x[i] = plain(x[i])
		}
	}
	return v
}

func normalizeOpErrors(errs []OpError) []OpError {
	for i := range errs {
		errs[i].Item = normalizeNumbers(errs[i].Item)
		errs[i].ServerItem = normalizeNumbers(errs[i].ServerItem)
	}
	return errs
}
