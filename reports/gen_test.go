package reports_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/conflictlab/conflictlab/reports"
)

// genOptions shape a generated run.
type genOptions struct {
	Seed      uint64
	Scenarios int
	// FailEvery makes every n-th result fail (0: none fails).
	FailEvery int
	// Histories records a history for every result (else only for failed ones, as a
	// runner would under the default limits).
	Histories bool
	Target    reports.Target
	Client    reports.Client
	// Campaign adds a property campaign; CampaignFails makes it find a counterexample.
	Campaign      bool
	CampaignFails bool
	Shard         *reports.Shard
}

var (
	genLabels        = []string{"conflict", "faults", "purge", "pull", "push", "collapse", "durability", "clock", "paging"}
	genDevices       = []string{"phone", "tablet", "laptop"}
	genProps         = [][2]string{{"P1", "push before pull"}, {"P2", "purge"}, {"P4", "convergence"}, {"P5", "strategy"}, {"P7", "conditional writes"}}
	genCampaignProps = [][2]string{{"P1", "push before pull"}, {"P3", "queue"}, {"P4", "convergence"}, {"P5", "strategy"},
		{"P6", "no silent loss"}, {"P7", "conditional writes"}, {"P8", "durability"}, {"P9", "incremental completeness"}}
	genStart = time.Date(2024, 3, 5, 14, 30, 0, 0, time.UTC)
)

// genRun makes a realistic run: scenarios under several strategies (and some under none,
// whose devices keep their own), devices pushing and pulling with versions, conflicts,
// faults that drop answers, the server actor and another writer, failures on properties,
// skipped steps and results. The same options make the same run.
func genRun(o genOptions) *reports.Run {
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	if o.Target.Kind == "" {
		o.Target = reports.Target{Kind: "embedded", Dialect: "v2"}
	}
	if o.Client.Driver == "" {
		o.Client = reports.Client{Driver: "go", SDK: "conflictlab/client", Version: "(devel)"}
	}
	run := &reports.Run{Server: "embedded", Started: genStart, Duration: 0}
	if o.Target.URL != "" {
		run.Server = o.Target.URL
	}
	prov := &reports.Provenance{Version: "v0.3.0", Commit: "0123456789abcdef0123456789abcdef01234567", GoVersion: "go1.26.0",
		Platform: "linux/amd64", Date: genStart, Command: []string{"conflictlab", "run", "--out", "reports/out", "scenarios/catalog"}}
	prov.AddTarget(o.Target)
	prov.AddClient(o.Client)
	run.Provenance = prov
	if o.Histories {
		run.Limits = &reports.Limits{PassingHistories: true}
	}
	n := 0
	for i := range o.Scenarios {
		name := fmt.Sprintf("%s-%s-%02d", genLabels[i%len(genLabels)], []string{"update-update", "delete-update", "lost-answer", "stale-token", "retry"}[i%5], i)
		labels := []string{genLabels[i%len(genLabels)]}
		if i%3 == 0 {
			labels = append(labels, genLabels[(i+4)%len(genLabels)])
		}
		desc := fmt.Sprintf("Two devices edit the same row while the server actor writes it too. The %s device pushes after a "+
			"fault drops the answer to its first attempt, and the strategy decides which text survives.", genDevices[i%3])
		strategies := []string{"client-wins", "server-wins", "cancel"}
		own := i%4 == 3
		if own {
			strategies = []string{""}
		}
		ndev := 2 + i%2
		seed := uint64(1000 + i)
		prov.AddSeed(seed)
		for _, s := range strategies {
			n++
			res := reports.Result{Scenario: name, File: "scenarios/catalog/" + name + ".yaml", Description: desc, Labels: labels,
				Strategy: s, Status: reports.Passed, Steps: 6, Duration: time.Duration(20+rng.IntN(200)) * time.Millisecond,
				Target: &o.Target, Client: &o.Client}
			for d := range ndev {
				strategy := s
				if own {
					strategy = "manual"
					if i%8 == 7 && d == 1 {
						strategy = "client-wins"
					}
				}
				res.Devices = append(res.Devices, reports.Device{Name: genDevices[d], Strategy: strategy, Store: []string{"memory", "sqlite"}[d%2]})
			}
			failing := o.FailEvery > 0 && n%o.FailEvery == 0
			res.History = genHistory(rng, res.Devices, failing)
			failStep := 0
			if failing {
				res.Status = reports.Failed
				failStep = 4 + rng.IntN(2)
				res.Failure = &reports.Failure{Step: failStep, Line: 20 + failStep*3, What: res.Devices[0].Name + ": pull todoitem (queryId all)",
					Expectation: "phone's e1 has text \"Buy organic eggs\"", Got: "text \"Buy eggs\" (version AAAAAAAAAAY=)", Property: "P5",
					Requests: []string{"PATCH /tables/todoitem/e1 412", "GET /tables/todoitem 200"},
					Replay:   "conflictlab run --strategy " + s + " scenarios/catalog/" + name + ".yaml"}
			}
			if !failing && !o.Histories {
				res.History = nil
			}
			for _, p := range genProps {
				v := reports.PropertyResult{ID: p[0], Name: p[1], Verdict: reports.Holds, Checks: 1 + rng.IntN(3)}
				if failing && p[0] == "P5" {
					v.Verdict, v.Detail = reports.Violated, "server-wins kept the local text"
				}
				res.Properties = append(res.Properties, v)
			}
			if i%7 == 5 && !failing {
				res.SkippedSteps = []reports.SkippedStep{{Step: 3, What: "fault: drop-response", Reason: "faults need the embedded server or a proxy"}}
			}
			if i%11 == 10 {
				res.Status, res.Reason, res.History, res.Failure, res.Properties = reports.Skipped, "needs soft delete, which the target lacks", nil, nil, nil
			}
			run.Results = append(run.Results, res)
			run.Duration += res.Duration
		}
	}
	if o.Campaign {
		c := reports.Campaign{Name: "fuzz", Target: &o.Target, Client: &o.Client, Status: reports.Passed, Seed: 4242 + o.Seed,
			Interleavings: 1200, Actions: 48210, Duration: 20 * time.Second, Shard: o.Shard}
		for _, p := range genCampaignProps {
			c.Properties = append(c.Properties, reports.PropertyCount{ID: p[0], Name: p[1], Checks: 3000, Holds: 3000})
		}
		if o.CampaignFails {
			c.Status = reports.Failed
			c.Properties[4].Holds, c.Properties[4].Violated = 2999, 1
			c.Counterexamples = []reports.Counterexample{{Path: "reports/out/fuzz/counterexample.yaml", Seed: c.Seed + 3,
				Replay: "conflictlab run reports/out/fuzz/counterexample.yaml", Property: "P6", Steps: 7,
				Message: "P6: phone's update of todoitem/b was lost: not on the server, not queued, not dropped by a resolution",
				History: genHistory(rng, []reports.Device{{Name: "c0", Strategy: "client-wins"}, {Name: "c1", Strategy: "client-wins"}}, true)}}
		}
		prov.AddSeed(c.Seed)
		run.Campaigns = append(run.Campaigns, c)
	}
	return run
}

// genHistory makes the wire history of a six-step scenario: inserts and pushes with
// versions, a conflict answered 412, a fault that drops an answer, the server actor's
// write, another writer's concurrent write, pulls returning rows.
func genHistory(rng *rand.Rand, devices []reports.Device, failing bool) *reports.History {
	h := &reports.History{Started: genStart}
	var t time.Duration
	seq := 0
	version := 1
	ver := func(v int) string { // as the fake server writes them: 8 bytes in base64
		b := make([]byte, 8)
		b[7] = byte(v)
		return base64.StdEncoding.EncodeToString(b)
	}
	row := func(id, text string, v int) string {
		b, _ := json.Marshal(map[string]any{"id": id, "text": text, "version": ver(v), "deleted": false})
		return string(b)
	}
	add := func(e reports.Event) {
		seq++
		e.Seq = seq
		h.Events = append(h.Events, e)
	}
	steps := []string{"server: insert todoitem e1", "%s: pull todoitem (queryId all)", "fault: drop-response (lost)",
		"%s: update todoitem e1", "%s: push", "check"}
	for i, what := range steps {
		st := reports.StepSpan{Index: i + 1, Line: 12 + 3*i, Start: t}
		dev := devices[i%len(devices)].Name
		if i == 2 && rng.IntN(5) == 0 {
			st.Skipped = "faults need the embedded server"
		}
		switch i {
		case 0:
			add(reports.Event{Start: t, End: t, Actor: reports.ActorServer, Step: 1, Op: "insert", Table: "todoitem", ItemID: "e1",
				Status: 201, Version: ver(version), Applied: true, RowAfter: row("e1", "Buy eggs", version)})
			t += 200 * time.Microsecond
		case 1:
			for _, d := range devices {
				start := t
				t += time.Duration(300+rng.IntN(900)) * time.Microsecond
				add(reports.Event{Start: start, End: t, Actor: d.Name, Step: 2, Method: "GET", Path: "/tables/todoitem",
					Query: "$filter=(updatedAt ge datetimeoffset'1970-01-01T00:00:00.000Z')&$orderby=updatedAt&$top=50&__includeDeleted=true",
					Op:    "query", Table: "todoitem", Status: 200, Rows: 1, ResponseBody: "[" + row("e1", "Buy eggs", version) + "]"})
			}
		case 2:
			t += 100 * time.Microsecond
		case 3:
			// the update is local (not on the wire); another writer changes the row meanwhile
			version++
			add(reports.Event{Start: t, End: t + 300*time.Microsecond, Actor: reports.ActorWriter, Step: 4, Method: "PATCH", Path: "/tables/todoitem/e1",
				Op: "update", Table: "todoitem", ItemID: "e1", Status: 200, IfMatch: []string{ver(version - 1)}, VersionBefore: ver(version - 1),
				Version: ver(version), Applied: true, Faults: []reports.FaultHit{{ID: "cw", Action: "concurrent-write"}},
				RowBefore: row("e1", "Buy eggs", version-1), RowAfter: row("e1", "Buy eggs (6)", version)})
			t += 400 * time.Microsecond
		case 4:
			// the first device pushes: the fault drops its answer, the retry meets 412
			start := t
			t += 2 * time.Millisecond
			body := `{"id":"e1","text":"Buy organic eggs","version":"` + ver(1) + `"}`
			add(reports.Event{Start: start, End: t, Actor: dev, Step: 5, Method: "PATCH", Path: "/tables/todoitem/e1", Op: "update",
				Table: "todoitem", ItemID: "e1", Status: 0, Error: "EOF: the answer was dropped", IfMatch: []string{ver(1)},
				VersionBefore: ver(version), Faults: []reports.FaultHit{{ID: "lost", Action: "drop-response"}}, RequestBody: body,
				RowBefore: row("e1", "Buy eggs (6)", version)})
			start = t
			t += time.Duration(400+rng.IntN(600)) * time.Microsecond
			add(reports.Event{Start: start, End: t, Actor: dev, Step: 5, Method: "PATCH", Path: "/tables/todoitem/e1", Op: "update",
				Table: "todoitem", ItemID: "e1", Status: 412, Conflict: true, IfMatch: []string{ver(1)}, VersionBefore: ver(version),
				Version: ver(version), RequestBody: body, ResponseBody: row("e1", "Buy eggs (6)", version),
				RowBefore: row("e1", "Buy eggs (6)", version), RowAfter: row("e1", "Buy eggs (6)", version)})
			if devices[0].Strategy == "client-wins" || rng.IntN(2) == 0 {
				start = t
				t += 500 * time.Microsecond
				version++
				add(reports.Event{Start: start, End: t, Actor: dev, Step: 5, Method: "PATCH", Path: "/tables/todoitem/e1", Op: "update",
					Table: "todoitem", ItemID: "e1", Status: 200, IfMatch: []string{ver(version - 1)}, VersionBefore: ver(version - 1),
					Version: ver(version), Applied: true, Note: "client-wins retry with the server's version",
					RequestBody: body, ResponseBody: row("e1", "Buy organic eggs", version),
					RowBefore: row("e1", "Buy eggs (6)", version-1), RowAfter: row("e1", "Buy organic eggs", version)})
			}
			// the other device pulls meanwhile
			other := devices[(i+1)%len(devices)].Name
			add(reports.Event{Start: start - 200*time.Microsecond, End: t + 300*time.Microsecond, Actor: other, Step: 5, Method: "GET",
				Path: "/tables/todoitem", Query: "$filter=id eq 'e1'", Op: "query", Table: "todoitem", Status: 200, Rows: 1})
			t += 400 * time.Microsecond
		case 5:
			for _, d := range devices {
				start := t
				t += time.Duration(200+rng.IntN(400)) * time.Microsecond
				add(reports.Event{Start: start, End: t, Actor: d.Name, Step: 6, Method: "GET", Path: "/tables/todoitem/e1", Op: "lookup",
					Table: "todoitem", ItemID: "e1", Status: 200, Version: ver(version)})
			}
		}
		if st.Skipped == "" {
			st.End = t
		} else {
			st.End = st.Start
		}
		st.What = what
		if i == 1 || i == 3 || i == 4 {
			st.What = fmt.Sprintf(what, dev)
		}
		h.Steps = append(h.Steps, st)
		t += 150 * time.Microsecond
	}
	if failing { // what the runner saw at the failing check: a lookup that came back stale
		seq++
		h.Events = append(h.Events, reports.Event{Seq: seq, Start: t, End: t + 250*time.Microsecond, Actor: devices[0].Name, Method: "GET",
			Path: "/tables/todoitem/e1", Op: "lookup", Table: "todoitem", ItemID: "e1", Status: 200, Version: ver(version - 1),
			Note: "the end checks' lookup"})
	}
	return h
}
