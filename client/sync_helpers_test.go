package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/client/store/memory"
	"github.com/conflictlab/conflictlab/fakeserver"
)

// syncT0 is the seed's first timestamp; the simulated clock stamps the first write with it.
var syncT0 = time.Date(2014, 6, 9, 23, 40, 4, 297e6, time.UTC)

// world is one fake server that devices sync with.
type world struct {
	srv       *fakeserver.Server
	ts        *httptest.Server
	url       string
	dialect   client.Dialect
	intercept atomic.Pointer[func(http.ResponseWriter, *http.Request) bool]
}

func newWorld(cfg fakeserver.Config) *world {
	if cfg.Clock == nil {
		cfg.Clock = fakeserver.SimClock(syncT0)
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	srv := fakeserver.New(cfg)
	w := &world{srv: srv}
	h := srv.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if f := w.intercept.Load(); f != nil && (*f)(rw, r) {
			return
		}
		h.ServeHTTP(rw, r)
	}))
	DeferCleanup(ts.Close)
	w.url, w.ts = ts.URL, ts
	w.dialect = client.V2
	if cfg.Dialect == fakeserver.V1 {
		w.dialect = client.V1
	}
	return w
}

// interceptWith puts f in front of the server: when f returns true it has answered the
// request itself. Tests use it to break the server on purpose (a 500, a bad body, a hang).
func (w *world) interceptWith(f func(http.ResponseWriter, *http.Request) bool) {
	w.intercept.Store(&f)
	DeferCleanup(func() { w.intercept.Store(nil) })
}

// device is one app install: a client, its own store, a sync context and the todoitem table.
type device struct {
	w     *world
	c     *client.Client
	store store.Store
	sc    *client.SyncContext
	todo  *client.SyncTable
}

func (w *world) device(h client.Handler, opts ...client.Option) *device {
	return w.deviceWith(nil, h, opts...)
}

// deviceWith makes a device whose client has extra options.
func (w *world) deviceWith(copts []client.ClientOption, h client.Handler, opts ...client.Option) *device {
	c, err := client.New(w.url, append([]client.ClientOption{client.WithDialect(w.dialect)}, copts...)...)
	Expect(err).NotTo(HaveOccurred())
	st := memory.New()
	DeferCleanup(st.Close)
	sc, err := client.NewSyncContext(c, st, h, opts...)
	Expect(err).NotTo(HaveOccurred())
	return &device{w: w, c: c, store: st, sc: sc, todo: sc.Table("todoitem")}
}

// queue describes the operation queue as "kind id" in push order.
func (d *device) queue() []string {
	ops, err := d.sc.PendingOperations(context.Background())
	Expect(err).NotTo(HaveOccurred())
	out := []string{}
	for _, op := range ops {
		out = append(out, fmt.Sprintf("%s %s", op.Kind, op.ItemID))
	}
	return out
}

func (d *device) op(id string) client.Operation {
	ops, err := d.sc.PendingOperations(context.Background())
	Expect(err).NotTo(HaveOccurred())
	for _, op := range ops {
		if op.ItemID == id {
			return op
		}
	}
	Fail("no operation for " + id)
	return client.Operation{}
}

func (d *device) errs() []*client.TableOperationError {
	errs, err := d.sc.OperationErrors(context.Background())
	Expect(err).NotTo(HaveOccurred())
	return errs
}

// row returns the local row, nil when missing.
func (d *device) row(id string) client.Item {
	it, err := d.todo.Lookup(context.Background(), id)
	if err != nil {
		Expect(err).To(MatchError(client.ErrNotFound))
		return nil
	}
	return it
}

// ids returns the local row ids, sorted.
func (d *device) ids() []string {
	rows, err := d.todo.Read(context.Background(), nil)
	Expect(err).NotTo(HaveOccurred())
	out := []string{}
	for _, r := range rows {
		out = append(out, r["id"].(string))
	}
	sort.Strings(out)
	return out
}

func (d *device) insert(item client.Item) client.Item {
	it, err := d.todo.Insert(context.Background(), item)
	Expect(err).NotTo(HaveOccurred())
	return it
}

func (d *device) update(item client.Item) client.Item {
	it, err := d.todo.Update(context.Background(), item)
	Expect(err).NotTo(HaveOccurred())
	return it
}

func (d *device) delete(item client.Item) {
	Expect(d.todo.Delete(context.Background(), item)).To(Succeed())
}

func (d *device) push() *client.PushResult {
	res, err := d.sc.Push(context.Background())
	Expect(err).NotTo(HaveOccurred())
	Expect(res.Status).To(Equal(client.Complete))
	return res
}

func (d *device) pushFails() (*client.PushResult, *client.PushFailedError) {
	res, err := d.sc.Push(context.Background())
	var pf *client.PushFailedError
	Expect(err).To(BeAssignableToTypeOf(pf))
	pf = err.(*client.PushFailedError)
	return res, pf
}

func (d *device) pull() {
	Expect(d.todo.Pull(context.Background(), nil, "")).To(Succeed())
}

// serverRow returns the server's row (tombstones included), nil when missing.
func (w *world) serverRow(id string) map[string]any {
	r, ok := w.srv.Row("todoitem", id)
	if !ok {
		return nil
	}
	return r
}

// requests returns the table requests recorded since seq as "METHOD path status".
func (w *world) requests(since uint64) []string {
	out := []string{}
	for _, ev := range w.srv.HistorySince(since) {
		if ev.Source != "http" {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %d", ev.Method, ev.Path, ev.Status))
	}
	return out
}

func (w *world) lastSeq() uint64 {
	h := w.srv.History()
	if len(h) == 0 {
		return 0
	}
	return h[len(h)-1].Seq
}

// seed writes a row on the server directly and pulls it into each device.
func (w *world) seed(id, text string, devices ...*device) map[string]any {
	row, err := w.srv.Insert("todoitem", map[string]any{"id": id, "text": text})
	Expect(err).NotTo(HaveOccurred())
	for _, d := range devices {
		d.pull()
	}
	return row
}
