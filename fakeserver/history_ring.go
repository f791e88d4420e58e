package fakeserver

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// history is the server's record of events: the newest events within a count and a byte
// budget (older ones are dropped, and counted), and, when the server was given a writer, every
// event streamed to it as JSON Lines in sequence order.
//
// Most events are appended whole by the operation they record. A query whose filter is
// evaluated outside the server's lock reserves its place first, at the moment it takes its
// snapshot of the table, and completes the event when the evaluation is done: so the sequence
// stays the order in which the server applied things, and readers wait for reserved events
// below what they read (never for long: evaluation is time-limited).
type history struct {
	mu   sync.Mutex
	done sync.Cond // a reserved event was completed

	limit     int   // events kept
	budget    int64 // bytes kept (approximately)
	bodyBytes int   // the largest write body an event keeps

	kept  eventQueue // the events kept, oldest first
	bytes int64      // their approximate size

	seq     uint64   // the last sequence number given out
	dropped uint64   // events dropped from the ring since the last reset
	pending []uint64 // reserved events not completed yet, ascending
	epoch   uint64   // bumped by reset, so a reservation made before it cannot complete after

	out *historyStream
}

// historyStream writes events as JSON Lines, in sequence order, as soon as every event before
// them is complete.
type historyStream struct {
	w    *bufio.Writer
	enc  *json.Encoder
	next uint64 // the next sequence number to write
	err  error
}

// Defaults of the history's limits.
const (
	defaultHistoryLimit = 100_000
	defaultHistoryBytes = 64 << 20
	defaultHistoryBody  = 16 << 10
	// historyFieldBytes caps each string an event keeps (path, query, client, ids, error).
	historyFieldBytes = 2 << 10
	// eventOverhead is what an event costs besides its strings and body, roughly.
	eventOverhead = 400
)

func newHistory(cfg Config) *history {
	h := &history{limit: cfg.HistoryLimit, budget: cfg.HistoryBytes, bodyBytes: cfg.HistoryBodyBytes}
	h.done.L = &h.mu
	if cfg.HistoryWriter != nil {
		w := bufio.NewWriterSize(cfg.HistoryWriter, 64<<10)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		h.out = &historyStream{w: w, enc: enc, next: 1}
	}
	return h
}

// ticket names a reserved event.
type ticket struct {
	epoch, seq uint64
}

// append records ev, giving it the next sequence number (and the time now, if it has none).
func (h *history) append(ev *Event, now func() time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.add(ev, now)
	h.flush()
}

// reserve records ev as incomplete: its place in the sequence is taken now, its outcome is
// filled in by complete.
func (h *history) reserve(ev *Event, now func() time.Time) ticket {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.add(ev, now)
	h.pending = append(h.pending, ev.Seq)
	return ticket{epoch: h.epoch, seq: ev.Seq}
}

// complete fills in a reserved event with fill and releases readers waiting for it.
func (h *history) complete(t ticket, fill func(ev *Event)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t.epoch != h.epoch {
		return // a reset came in between: the event is gone with the rest
	}
	if i := slices.Index(h.pending, t.seq); i >= 0 {
		h.pending = slices.Delete(h.pending, i, i+1)
	}
	if first := h.firstSeq(); t.seq >= first && t.seq < first+uint64(h.kept.n) {
		e := h.kept.at(int(t.seq - first))
		fill(&e.Event)
		e.Ended = time.Now().UTC().Round(0) // the evaluation is over now
		h.capFields(&e.Event)
		size := eventSize(&e.Event)
		h.bytes += int64(size - e.size)
		e.size = size
		h.trim()
	}
	h.flush()
	h.done.Broadcast()
}

// add puts ev at the end of the ring and drops the oldest events beyond the limits.
func (h *history) add(ev *Event, now func() time.Time) {
	h.seq++
	ev.Seq = h.seq
	if ev.Time.IsZero() {
		ev.Time = now()
	}
	// Wall-clock times for timelines, without a monotonic reading: an event survives a JSON
	// round trip equal.
	ev.Ended = time.Now().UTC().Round(0)
	if ev.Began.IsZero() {
		ev.Began = ev.Ended
	}
	h.capFields(ev)
	e := h.kept.push()
	e.Event = *ev
	e.size = eventSize(ev)
	h.bytes += int64(e.size)
	h.trim()
}

// trim drops the oldest events while the history is over its limits, stopping at one that is
// reserved or not yet streamed.
func (h *history) trim() {
	for h.kept.n > 1 && (h.kept.n > h.limit || h.bytes > h.budget) {
		oldest := h.kept.at(0)
		if len(h.pending) > 0 && h.pending[0] <= oldest.Seq || h.out != nil && h.out.err == nil && h.out.next <= oldest.Seq {
			return
		}
		h.bytes -= int64(oldest.size)
		h.kept.pop()
		h.dropped++
	}
}

// firstSeq is the sequence number of the oldest event kept (seq+1 when none is).
func (h *history) firstSeq() uint64 { return h.seq - uint64(h.kept.n) + 1 }

// flush streams the events that are complete and have every event before them complete.
func (h *history) flush() {
	o := h.out
	if o == nil || o.err != nil {
		return
	}
	first := h.firstSeq()
	for o.next <= h.seq && (len(h.pending) == 0 || o.next < h.pending[0]) {
		if o.next < first {
			// Never happens: trim keeps what is not streamed. Say so rather than skip.
			o.err = fmt.Errorf("history events %d to %d were dropped before they were written", o.next, first-1)
			return
		}
		ev := &h.kept.at(int(o.next - first)).Event
		if err := o.enc.Encode(ev); err != nil {
			o.err = fmt.Errorf("history event %d: %w", ev.Seq, err)
			return
		}
		o.next++
	}
	h.trim()
}

// flushOut writes what the stream holds to its writer and returns the stream's first error.
func (h *history) flushOut() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	o := h.out
	if o == nil {
		return nil
	}
	if o.err == nil {
		if err := o.w.Flush(); err != nil {
			o.err = fmt.Errorf("writing the history: %w", err)
		}
	}
	return o.err
}

// since returns the events after seq that are still kept, in order, after waiting for the
// reserved events among those that exist now. When some of them were dropped, a marker event
// (Source "dropped") stands in their place first.
func (h *history) since(seq uint64) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	upTo, epoch := h.seq, h.epoch
	for len(h.pending) > 0 && h.pending[0] <= upTo && h.epoch == epoch {
		h.done.Wait()
	}
	if h.epoch != epoch {
		upTo = h.seq
	}
	first := h.firstSeq()
	var out []Event
	if seq+1 < first && seq < upTo {
		last := min(first-1, upTo)
		out = append(out, Event{Seq: last, Source: SourceDropped, Dropped: last - seq,
			Time:  time.Time{},
			Error: fmt.Sprintf("history events %d to %d were dropped: the server keeps the newest %d events (Config.HistoryLimit, serve --history-limit) within %d bytes; stream them with --history FILE to keep them all", seq+1, last, h.limit, h.budget)})
	}
	from := max(seq+1, first)
	for s := from; s <= upTo && s < first+uint64(h.kept.n); s++ {
		out = append(out, h.kept.at(int(s-first)).Event)
	}
	return out
}

// stats says what the history holds.
func (h *history) stats() HistoryStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return HistoryStats{LastSeq: h.seq, Kept: h.kept.n, Dropped: h.dropped, Limit: h.limit, Bytes: h.bytes, BytesLimit: h.budget}
}

func (h *history) last() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// reset empties the history, after the reserved events are complete (so the stream, if any,
// gets them first).
func (h *history) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(h.pending) > 0 {
		h.done.Wait()
	}
	h.flush()
	h.kept, h.bytes = eventQueue{}, 0
	h.seq, h.dropped = 0, 0
	h.epoch++
	if h.out != nil {
		h.out.next = 1
	}
	h.done.Broadcast()
}

// capFields keeps one event within its share of memory: every string to historyFieldBytes
// and the body to bodyBytes (a larger body is left out, and its size noted), marking the
// event Truncated. A history that keeps whatever clients send would let any client, even one
// refused at the door, fill the server's memory.
//
// Every string is copied, short ones too: strings cut from a request (its path, a header)
// share the memory of the whole request line or header, which a kept event would keep alive.
// They are copied into one allocation, which they share.
func (h *history) capFields(ev *Event) {
	var buf [12]*string
	fields := append(buf[:0], &ev.Path, &ev.Query, &ev.Client, &ev.Table, &ev.ItemID, &ev.Error)
	for i := range ev.Precondition {
		fields = append(fields, &ev.Precondition[i])
	}
	size := 0
	for _, f := range fields {
		if len(*f) > historyFieldBytes {
			*f = clipString(*f, historyFieldBytes) + "…"
			ev.Truncated = true
		}
		size += len(*f)
	}
	var b strings.Builder
	b.Grow(size)
	for _, f := range fields {
		b.WriteString(*f)
	}
	all, at := b.String(), 0
	for _, f := range fields {
		n := len(*f)
		*f, at = all[at:at+n], at+n
	}
	ev.Method = methodName(ev.Method)
	if ev.Body != nil {
		if n := bodySize(ev.Body); n > h.bodyBytes {
			ev.Body, ev.BodyBytes, ev.Truncated = nil, n, true
		}
	}
	ev.Time = encodableTime(ev.Time)
	ev.UpdatedAt = encodableTime(ev.UpdatedAt)
}

// methodName is the method without the request's memory: the usual ones are constants.
func methodName(m string) string {
	for _, k := range [...]string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut, http.MethodHead, http.MethodOptions} {
		if m == k {
			return k
		}
	}
	return strings.Clone(clipString(m, 64))
}

// clipString cuts s to at most n bytes without splitting a character.
func clipString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// bodySize is about what a body costs to keep or to encode.
func bodySize(body map[string]any) int {
	n := 2
	for k, v := range body {
		n += len(k) + 4
		switch x := v.(type) {
		case string:
			n += len(x) + 2
		default:
			n += 24
		}
	}
	return n
}

func eventSize(ev *Event) int {
	n := eventOverhead + len(ev.Path) + len(ev.Query) + len(ev.Client) + len(ev.Table) + len(ev.ItemID) +
		len(ev.Error) + len(ev.Source) + len(ev.Method) + len(ev.VersionBefore) + len(ev.VersionAfter) + 32*len(ev.Faults)
	for _, p := range ev.Precondition {
		n += len(p) + 16
	}
	if ev.Body != nil {
		n += 2 * bodySize(ev.Body)
	}
	return n
}

// encodableTime keeps t within the years encoding/json can write (0000–9999): the server's
// clocks stay there, but a Clock is an interface anyone can implement, and an event the admin
// API cannot encode would be an event silently lost.
func encodableTime(t time.Time) time.Time {
	switch {
	case t.IsZero():
		return t
	case t.After(MaxTime):
		return MaxTime
	case t.Before(MinTime):
		return MinTime
	}
	return t
}

// writeEvents encodes events as JSON Lines into w, stopping at the first event that cannot be
// encoded, which it names.
func writeEvents(w io.Writer, events []Event) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			return fmt.Errorf("history event %d cannot be encoded: %w", events[i].Seq, err)
		}
	}
	return nil
}

// eventQueue holds events in chunks: it grows and shrinks at either end without ever copying
// what it holds, and its memory follows what it holds.
type eventQueue struct {
	chunks [][]keptEvent
	head   int // the oldest event's place in chunks[0]
	n      int
	spare  []keptEvent // one emptied chunk, for the next one needed
}

type keptEvent struct {
	Event
	size int
}

const queueChunk = 512

func (q *eventQueue) at(i int) *keptEvent {
	i += q.head
	return &q.chunks[i/queueChunk][i%queueChunk]
}

// push makes room for one more event at the end and returns it.
func (q *eventQueue) push() *keptEvent {
	if q.head+q.n == len(q.chunks)*queueChunk {
		c := q.spare
		if c == nil {
			c = make([]keptEvent, queueChunk)
		}
		q.spare = nil
		q.chunks = append(q.chunks, c)
	}
	q.n++
	return q.at(q.n - 1)
}

// pop drops the oldest event.
func (q *eventQueue) pop() {
	*q.at(0) = keptEvent{}
	q.head++
	q.n--
	if q.head == queueChunk {
		q.spare = q.chunks[0]
		q.chunks[0] = nil
		q.chunks = q.chunks[1:]
		q.head = 0
		if cap(q.chunks) > 2*len(q.chunks)+16 {
			q.chunks = slices.Clone(q.chunks)
		}
	}
}
