package reports

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Set is one result set given to Merge: a run and the name the report gives it.
type Set struct {
	Name string // e.g. the directory it was read from
	Path string // where it was read from, for the provenance
	Run  *Run
}

// ErrDuplicateShard is returned by Merge when two sets hold the same shard of a campaign.
var ErrDuplicateShard = errors.New("reports: the same shard of a campaign twice")

// Merge puts several result sets into one run, to render them side by side: embedded
// against a real backend, one client against another, or the shards of a campaign.
//
// Results keep their Target and Client (a result without them takes its run's server as
// its target), and the report gives each distinct target × client its own columns. Sets
// that neither tells apart but that played the same scenario under the same strategy get
// their Name in Result.Set, so each still has its own columns. Campaign shards (same name,
// target, client, strategy, clients and shard count) become one campaign with every
// shard's counts added up, its Shards listed, and its duration the longest shard's.
// prov is the merged run's own provenance (the command that merged); the sets' targets,
// clients and seeds are added to it, and each set's provenance is kept in Inputs.
func Merge(prov *Provenance, sets ...Set) (*Run, error) {
	if len(sets) == 0 {
		return nil, errors.New("reports: nothing to merge")
	}
	out := &Run{Provenance: prov}
	if out.Provenance == nil {
		out.Provenance = &Provenance{}
	}
	names := map[string]int{}
	var end time.Time
	var servers []string
	type triple struct{ side, scenario, column string }
	played := make([]map[triple]bool, len(sets))
	for i, s := range sets {
		if s.Run == nil {
			return nil, fmt.Errorf("reports: set %d (%s) has no run", i+1, s.Name)
		}
		name := cmp.Or(s.Name, "set "+strconv.Itoa(i+1))
		if names[name]++; names[name] > 1 {
			name += " #" + strconv.Itoa(names[name])
		}
		sets[i].Name = name
		r := s.Run
		if !slices.Contains(servers, r.Server) {
			servers = append(servers, r.Server)
		}
		if !r.Started.IsZero() && (out.Started.IsZero() || r.Started.Before(out.Started)) {
			out.Started = r.Started
		}
		if e := r.Started.Add(r.Duration); e.After(end) {
			end = e
		}
		if r.Limits != nil {
			l := *r.Limits
			if out.Limits != nil {
				l.PassingHistories = l.PassingHistories || out.Limits.PassingHistories
			}
			out.Limits = &l
		}
		played[i] = map[triple]bool{}
		for _, res := range r.Results {
			played[i][triple{sideKey(r, &res), res.Scenario, columnOf(&res)}] = true
		}
		in := Input{Name: name, Path: s.Path, Provenance: r.Provenance, Counts: r.Counts(), Campaigns: len(r.Campaigns)}
		out.Inputs = append(out.Inputs, in)
		if p := r.Provenance; p != nil {
			for _, t := range p.Targets {
				out.Provenance.AddTarget(t)
			}
			for _, c := range p.Clients {
				out.Provenance.AddClient(c)
			}
			for _, seed := range p.Seeds {
				out.Provenance.AddSeed(seed)
			}
		}
	}
	if !out.Started.IsZero() {
		out.Duration = end.Sub(out.Started)
	}
	out.Server = servers[0]
	for _, s := range servers[1:] {
		out.Server += ", " + s
	}

	// Sets that played the same thing on the same side are told apart by name.
	labelled := make([]bool, len(sets))
	for i := range sets {
		for j := range i {
			for t := range played[i] {
				if played[j][t] {
					labelled[i], labelled[j] = true, true
					break
				}
			}
		}
	}
	for i, s := range sets {
		for _, res := range s.Run.Results {
			if res.Target == nil {
				res.Target = targetOfServer(s.Run.Server)
			}
			if labelled[i] {
				res.Set = sets[i].Name
			}
			out.Results = append(out.Results, res)
		}
	}

	var err error
	if out.Campaigns, err = mergeCampaigns(sets); err != nil {
		return nil, err
	}
	for _, c := range out.Campaigns {
		out.Provenance.AddSeed(c.Seed)
		if c.Target != nil {
			out.Provenance.AddTarget(*c.Target)
		}
		if c.Client != nil {
			out.Provenance.AddClient(*c.Client)
		}
	}
	return out, nil
}

// targetOfServer is the target of a result that names none: its run's server.
func targetOfServer(server string) *Target {
	if server == "" || server == "embedded" {
		return &Target{Kind: "embedded"}
	}
	return &Target{Kind: "other", URL: server}
}

// mergeCampaigns keeps unsharded campaigns as they are and puts shards of one campaign
// together, in the order each campaign first appears.
func mergeCampaigns(sets []Set) ([]Campaign, error) {
	var out []Campaign
	byKey := map[string]int{}   // campaign key → index in out
	from := map[string]string{} // shard key → the set it came from
	for _, s := range sets {
		for _, c := range s.Run.Campaigns {
			if c.Shard == nil {
				out = append(out, c)
				continue
			}
			key := fmt.Sprintf("%s|%s|%s|%s|%d|%d", c.Name, c.Target.String(), c.Client.String(), c.Strategy, c.Clients, c.Shard.Count)
			shardKey := key + "|" + strconv.Itoa(c.Shard.Index)
			if prev, ok := from[shardKey]; ok {
				return nil, fmt.Errorf("%w: %s shard %d/%d is in %s and in %s", ErrDuplicateShard, c.Name, c.Shard.Index, c.Shard.Count, prev, s.Name)
			}
			from[shardKey] = s.Name
			shard := *c.Shard
			shard.Seed, shard.Status, shard.Interleavings, shard.Actions, shard.Duration = c.Seed, c.Status, c.Interleavings, c.Actions, c.Duration
			i, ok := byKey[key]
			if !ok {
				merged := c
				merged.Shard = nil
				merged.Shards = []Shard{shard}
				merged.Properties = slices.Clone(c.Properties)
				merged.Counterexamples = nil
				out = append(out, merged)
				i = len(out) - 1
				byKey[key] = i
			} else {
				m := &out[i]
				m.Shards = append(m.Shards, shard)
				m.Seed = min(m.Seed, c.Seed)
				m.Interleavings += c.Interleavings
				m.Actions += c.Actions
				m.Duration = max(m.Duration, c.Duration)
				if c.Status == Failed {
					m.Status = Failed
				}
				m.Properties = addCounts(m.Properties, c.Properties)
			}
			for _, ce := range c.Counterexamples {
				if ce.Shard == nil {
					ce.Shard = &shard
				}
				out[i].Counterexamples = append(out[i].Counterexamples, ce)
			}
		}
	}
	for i := range out {
		slices.SortFunc(out[i].Shards, func(a, b Shard) int { return cmp.Compare(a.Index, b.Index) })
	}
	return out, nil
}

// addCounts adds b's property counts into a, by id.
func addCounts(a, b []PropertyCount) []PropertyCount {
	for _, p := range b {
		i := slices.IndexFunc(a, func(q PropertyCount) bool { return q.ID == p.ID })
		if i < 0 {
			a = append(a, p)
			continue
		}
		a[i].Name = cmp.Or(a[i].Name, p.Name)
		a[i].Checks += p.Checks
		a[i].Holds += p.Holds
		a[i].Violated += p.Violated
		a[i].Unknown += p.Unknown
	}
	slices.SortFunc(a, func(x, y PropertyCount) int { return CompareIDs(x.ID, y.ID) })
	return a
}

// MissingShards lists the shard indexes of a merged campaign that no set held. Shards
// count from 1 (--shard 1/4 … 4/4) unless one of them is numbered 0 (a Kubernetes
// JOB_COMPLETION_INDEX), and then from 0.
func (c *Campaign) MissingShards() []int {
	if len(c.Shards) == 0 {
		return nil
	}
	n := c.Shards[0].Count
	base := 1
	if slices.ContainsFunc(c.Shards, func(s Shard) bool { return s.Index == 0 }) {
		base = 0
	}
	var missing []int
	for i := base; i < base+n; i++ {
		if !slices.ContainsFunc(c.Shards, func(s Shard) bool { return s.Index == i }) {
			missing = append(missing, i)
		}
	}
	return missing
}
