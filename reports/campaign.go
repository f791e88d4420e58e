package reports

import (
	"time"
)

// Campaign is a property campaign (conflictlab fuzz): random interleavings of clients,
// another writer, faults and restarts, each checked against every property. A campaign run
// as shards (--shard i/n) is one Campaign per shard until Merge puts them together.
type Campaign struct {
	// Name tells campaigns of one run apart ("fuzz" when there is one).
	Name   string  `json:"name"`
	Target *Target `json:"target,omitempty"`
	Client *Client `json:"client,omitempty"`
	// Strategy is the only strategy played, "" when each interleaving drew one; Clients
	// is how many clients each interleaving had, 0 when each drew it.
	Strategy string `json:"strategy,omitempty"`
	Clients  int    `json:"clients,omitempty"`
	// Status is Passed when no property was violated, Failed when one was.
	Status Status `json:"status"`
	// Seed is the campaign's seed; interleaving i used Seed+i.
	Seed uint64 `json:"seed"`
	// Shard is set when this campaign is one shard of several (--shard i/n); a merged
	// campaign has it nil and lists its shards under Shards.
	Shard  *Shard  `json:"shard,omitempty"`
	Shards []Shard `json:"shards,omitempty"`

	Interleavings int           `json:"interleavings"`
	Actions       int           `json:"actions"`
	Duration      time.Duration `json:"durationNs"`
	// Properties are the verdict counts of every property the campaign checked, by id
	// (P1…P11; P3, P6, P8 and P9 are checked only here).
	Properties []PropertyCount `json:"properties,omitempty"`
	// Counterexamples are the shrunk failures, one per failed shard.
	Counterexamples []Counterexample `json:"counterexamples,omitempty"`
}

// Shard is one part of a campaign split across processes or machines.
type Shard struct {
	// Index and Count are as --shard i/n gave them.
	Index int `json:"index"`
	Count int `json:"count"`
	// Seed and the counts are the shard's own.
	Seed          uint64        `json:"seed"`
	Status        Status        `json:"status"`
	Interleavings int           `json:"interleavings"`
	Actions       int           `json:"actions"`
	Duration      time.Duration `json:"durationNs"`
}

// PropertyCount is how a property fared over a campaign: how many times it was checked,
// and how many times it held, was violated or could not be decided.
type PropertyCount struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Checks   int    `json:"checks"`
	Holds    int    `json:"holds"`
	Violated int    `json:"violated"`
	Unknown  int    `json:"unknown"`
}

// Counterexample is a campaign's shrunk failure, written as a scenario file.
type Counterexample struct {
	// Path is the scenario file it was written to; Replay the command that plays it.
	Path   string `json:"path,omitempty"`
	Replay string `json:"replay,omitempty"`
	// Seed is the failing round's seed; Shard the shard that found it (nil: unsharded).
	Seed  uint64 `json:"seed"`
	Shard *Shard `json:"shard,omitempty"`
	// Property is the violated property's id, Message the checker's (or rapid's) report.
	Property string `json:"property,omitempty"`
	Message  string `json:"message,omitempty"`
	// Steps is how many actions the shrunk interleaving has.
	Steps int `json:"steps,omitempty"`
	// History is the counterexample's timeline (its replay), when recorded.
	History *History `json:"history,omitempty"`
}
