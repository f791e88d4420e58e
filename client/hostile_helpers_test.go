package client_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/client/store/memory"
)

// memoryStore is a memory store that closes with the spec.
func memoryStore() store.Store {
	st := memory.New()
	DeferCleanup(st.Close)
	return st
}

// hostileNodePaging puts Node's azure-mobile-apps paging in front of the world's server: a
// query without $top gets $top=pageSize (Node's default page), and a page exactly $top rows
// long, the last one included, carries Node's Link: no <...>, no port, no table path
// ("http://127.0.0.1/?%24skip=2&%24top=2; rel=next"). The server's own Link is dropped.
// It returns how many links it sent.
func hostileNodePaging(w *world, pageSize int) *atomic.Int32 {
	var links atomic.Int32
	h := w.srv.Handler()
	w.interceptWith(func(rw http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || r.URL.Path != "/tables/todoitem" {
			return false
		}
		q := r.URL.Query()
		if !q.Has("$top") {
			q.Set("$top", strconv.Itoa(pageSize))
			r.URL.RawQuery = q.Encode()
		}
		take, _ := strconv.Atoi(q.Get("$top"))
		skip, _ := strconv.Atoi(q.Get("$skip"))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			if k != "Link" && k != "Content-Length" {
				rw.Header()[k] = v
			}
		}
		if rec.Code == http.StatusOK {
			if n := hostileRowCount(rec.Body.Bytes()); n == take {
				q.Set("$top", strconv.Itoa(take))
				q.Set("$skip", strconv.Itoa(skip+n))
				rw.Header().Set("Link", "http://127.0.0.1/?"+q.Encode()+"; rel=next")
				links.Add(1)
			}
		}
		rw.WriteHeader(rec.Code)
		_, _ = rw.Write(rec.Body.Bytes())
		return true
	})
	return &links
}

// hostileRowCount counts the rows of a query answer, an array or an envelope.
func hostileRowCount(body []byte) int {
	var rows []json.RawMessage
	if json.Unmarshal(body, &rows) == nil {
		return len(rows)
	}
	var env struct{ Results []json.RawMessage }
	Expect(json.Unmarshal(body, &env)).To(Succeed())
	return len(env.Results)
}

// hostileNodeConflicts makes the world's server answer as Node's azure-mobile-apps does where
// it differs on conflicts: an insert of an id that exists gets 409 with the item it was sent
// as its body and express's weak ETag (a hash of that body, not a version); a lookup by id of
// a deleted row is 404 even with __includeDeleted=true. It returns how many echoes it sent.
func hostileNodeConflicts(w *world) *atomic.Int32 {
	var echoes atomic.Int32
	h := w.srv.Handler()
	w.interceptWith(func(rw http.ResponseWriter, r *http.Request) bool {
		_, id, byID := strings.Cut(r.URL.Path, "/tables/todoitem/")
		switch {
		case r.Method == http.MethodGet && byID:
			if row := w.serverRow(id); row != nil && row["deleted"] == true {
				rw.Header().Set("Content-Type", "application/json; charset=utf-8")
				rw.WriteHeader(http.StatusNotFound)
				_, _ = io.WriteString(rw, `{"error":"The item does not exist"}`)
				return true
			}
			return false
		case r.Method == http.MethodPost && r.URL.Path == "/tables/todoitem":
			sent, err := io.ReadAll(r.Body)
			Expect(err).NotTo(HaveOccurred())
			r.Body = io.NopCloser(bytes.NewReader(sent))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != http.StatusConflict {
				for k, v := range rec.Header() {
					rw.Header()[k] = v
				}
				rw.WriteHeader(rec.Code)
				_, _ = rw.Write(rec.Body.Bytes())
				return true
			}
			var item map[string]any
			Expect(json.Unmarshal(sent, &item)).To(Succeed())
			echo, err := json.Marshal(item)
			Expect(err).NotTo(HaveOccurred())
			sum := sha1.Sum(echo)
			rw.Header().Set("Content-Type", "application/json; charset=utf-8")
			rw.Header().Set("ETag", fmt.Sprintf(`W/"%x-%s"`, len(echo), base64.RawStdEncoding.EncodeToString(sum[:])[:27]))
			rw.WriteHeader(http.StatusConflict)
			_, _ = rw.Write(echo)
			echoes.Add(1)
			return true
		}
		return false
	})
	return &echoes
}

// hostileRows is a JSON array of n rows r0000000, r0000001, ... as one block of bytes.
func hostileRows(from, n int) []byte {
	var b bytes.Buffer
	b.Grow(n * 40)
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"r%07d","text":"x"}`, from+i)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// hostileAllocated runs f and returns how many bytes the process allocated meanwhile.
func hostileAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// hostileSkip is the $skip of a request, 0 when it has none.
func hostileSkip(r *http.Request) int {
	n, _ := strconv.Atoi(r.URL.Query().Get("$skip"))
	return n
}

// hostileSelf is the absolute URL of the request r, as a client would have sent it.
func hostileSelf(r *http.Request) string {
	return (&url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: r.URL.RawQuery}).String()
}
