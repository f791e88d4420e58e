package drivers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Serve speaks the driver protocol on r and w for d, until a shutdown request or the end of
// r: the other side of Start. `conflictlab driver serve` serves the built-in Go client this
// way, which makes it a driver like any other: the reference implementation of the protocol,
// and the proof (in this package's tests) that a run through a process gives the same
// verdicts as one in process.
func Serve(ctx context.Context, r io.Reader, w io.Writer, d Driver) error {
	s := &server{d: d, w: w, devices: map[string]*served{}}
	in := bufio.NewReaderSize(r, 64<<10)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		line, err := readLine(in)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var req request
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&req); err != nil || req.ID == nil {
			return fmt.Errorf("not a request: %.200q", line)
		}
		if req.Op == "shutdown" {
			wg.Wait()
			s.closeAll(ctx)
			s.reply(*req.ID, struct{}{}, nil)
			return nil
		}
		// Requests run concurrently (a write while a pull runs), each answered when done.
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.handle(ctx, &req)
			s.reply(*req.ID, res, err)
		}()
	}
}

type request struct {
	ID             *int64      `json:"id"`
	Op             string      `json:"op"`
	Protocol       int         `json:"protocol"`
	Device         string      `json:"device"`
	URL            string      `json:"url"`
	Dialect        string      `json:"dialect"`
	InstallationID string      `json:"installationId"`
	Store          StoreConfig `json:"store"`
	Strategy       string      `json:"strategy"`
	Options        Options     `json:"options"`
	TimeoutMs      int64       `json:"timeoutMs"`
	Table          string      `json:"table"`
	Tables         []string    `json:"tables"`
	Item           Item        `json:"item"`
	// ItemID is the item of lookup and resolve ("id" is the request's own).
	ItemID  string `json:"itemId"`
	Query   *Query `json:"query"`
	QueryID string `json:"queryId"`
	Force   bool   `json:"force"`
	How     string `json:"how"`
}

type served struct {
	cfg DeviceConfig
	dev Device
}

type server struct {
	d  Driver
	wm sync.Mutex
	w  io.Writer

	mu      sync.Mutex
	devices map[string]*served
}

func (s *server) reply(id int64, result any, err error) {
	msg := map[string]any{"id": id, "ok": err == nil}
	if err != nil {
		var de *Error
		if !errors.As(err, &de) {
			de = &Error{Kind: KindInternal, Message: err.Error()}
		}
		msg["error"] = de
	} else {
		msg["result"] = result
	}
	line, merr := json.Marshal(msg)
	if merr != nil {
		line, _ = json.Marshal(map[string]any{"id": id, "ok": false, "error": &Error{Kind: KindInternal, Message: "cannot encode the answer: " + merr.Error()}})
	}
	s.wm.Lock()
	defer s.wm.Unlock()
	_, _ = s.w.Write(append(line, '\n'))
}

func (s *server) device(name string) (Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[name]
	if !ok {
		return nil, &Error{Kind: KindInternal, Message: fmt.Sprintf("no open device %q", name)}
	}
	return d.dev, nil
}

func (s *server) closeAll(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, d := range s.devices {
		_ = d.dev.Close(ctx)
		delete(s.devices, name)
	}
	_ = s.d.Close()
}

func (s *server) handle(ctx context.Context, q *request) (any, error) {
	empty := struct{}{}
	switch q.Op {
	case "hello":
		if q.Protocol != ProtocolVersion {
			return nil, &Error{Kind: KindUnsupported, Message: fmt.Sprintf("protocol %d; this driver speaks %d", q.Protocol, ProtocolVersion)}
		}
		// store-fault is no op of the protocol: a device served over it cannot be armed.
		info := s.d.Info()
		info.Capabilities.Ops = slices.DeleteFunc(slices.Clone(info.Capabilities.Ops), func(op string) bool { return op == "store-fault" })
		return info, nil
	case "open":
		cfg := DeviceConfig{Name: q.Device, URL: q.URL, Dialect: q.Dialect, InstallationID: q.InstallationID, Store: q.Store,
			Strategy: q.Strategy, Options: q.Options, Timeout: time.Duration(q.TimeoutMs) * time.Millisecond}
		s.mu.Lock()
		_, open := s.devices[q.Device]
		s.mu.Unlock()
		if open || q.Device == "" {
			return nil, &Error{Kind: KindInternal, Message: fmt.Sprintf("device %q: empty or open already", q.Device)}
		}
		dev, err := s.d.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.devices[q.Device] = &served{cfg: cfg, dev: dev}
		s.mu.Unlock()
		return empty, nil
	}
	dev, err := s.device(q.Device)
	if err != nil {
		return nil, err
	}
	switch q.Op {
	case "close":
		s.mu.Lock()
		delete(s.devices, q.Device)
		s.mu.Unlock()
		return empty, dev.Close(ctx)
	case "insert", "update":
		write := dev.Insert
		if q.Op == "update" {
			write = dev.Update
		}
		item, err := write(ctx, q.Table, q.Item)
		return map[string]any{"item": item}, err
	case "delete":
		return empty, dev.Delete(ctx, q.Table, q.Item)
	case "lookup":
		item, err := dev.Lookup(ctx, q.Table, q.ItemID)
		return map[string]any{"item": item}, err
	case "read", "query":
		read := dev.Read
		if q.Op == "query" {
			read = dev.Query
		}
		items, err := read(ctx, q.Table, q.Query)
		if items == nil {
			items = []Item{}
		}
		return map[string]any{"items": items}, err
	case "push":
		res, err := dev.Push(ctx, q.Tables...)
		if res.Errors == nil {
			res.Errors = []OpError{}
		}
		return res, err
	case "pull":
		return empty, dev.Pull(ctx, q.Table, q.Query, q.QueryID)
	case "purge":
		return empty, dev.Purge(ctx, q.Table, q.Query, q.QueryID, q.Force)
	case "pending":
		snap, err := dev.Snapshot(ctx, nil)
		ops := make([]wireOp, 0, len(snap.Ops))
		for _, o := range snap.Ops {
			ops = append(ops, wireOp{ID: o.ID, Kind: string(o.Kind), State: string(o.State), Table: o.Table, ItemID: o.ItemID,
				Item: o.Item, Sequence: o.Sequence, Version: o.Version})
		}
		return map[string]any{"operations": ops}, err
	case "errors":
		errs, err := dev.Errors(ctx)
		if errs == nil {
			errs = []OpError{}
		}
		return map[string]any{"errors": errs}, err
	case "resolve":
		return empty, dev.Resolve(ctx, q.Table, q.ItemID, q.How, q.Item)
	case "snapshot":
		snap, err := dev.Snapshot(ctx, q.Tables)
		rows := map[string][]Item{}
		for t, byID := range snap.Rows {
			list := make([]Item, 0, len(byID))
			for _, row := range byID {
				list = append(list, row)
			}
			rows[t] = list
		}
		ops := make([]wireOp, 0, len(snap.Ops))
		for _, o := range snap.Ops {
			ops = append(ops, wireOp{ID: o.ID, Kind: string(o.Kind), State: string(o.State), Table: o.Table, ItemID: o.ItemID,
				Item: o.Item, Sequence: o.Sequence, Version: o.Version})
		}
		errs := make([]OpError, 0, len(snap.Errors))
		for _, e := range snap.Errors {
			errs = append(errs, OpError{Table: e.Table, ItemID: e.ItemID, Kind: string(e.Kind), Status: e.Status, Message: e.Message,
				Item: e.Item, ServerItem: e.ServerItem})
		}
		return map[string]any{"rows": rows, "operations": ops, "errors": errs, "config": snap.Config}, err
	}
	return nil, &Error{Kind: KindUnsupported, Message: fmt.Sprintf("unknown op %q", strings.TrimSpace(q.Op))}
}
