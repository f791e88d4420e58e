package reports

import (
	"cmp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// Target is a server under test as a result saw it.
type Target struct {
	// Kind is what the server is, as package targets names it: "embedded" (the fake server
	// in the same process), "conflictlab" (conflictlab serve, reached by URL), "node"
	// (azure-mobile-apps-node) or "other"; a proxy in front of it does not change its kind.
	Kind string `json:"kind"`
	// URL is where it was reached ("" for the embedded server).
	URL string `json:"url,omitempty"`
	// Dialect is the protocol flavour it speaks: "v2" or "v1" (docs/protocol.md).
	Dialect string `json:"dialect,omitempty"`
	// Personality is the real server a conflictlab server imitates ("node"), as its info
	// says, or what else is known of the server, e.g. "azure-mobile-apps 4.0.2, sqlite".
	Personality string `json:"personality,omitempty"`
	// Name, when set, is how the report names the target (else Kind, then URL).
	Name string `json:"name,omitempty"`
}

// Label is the target's short name in a report: Name, else Kind (with the dialect when it
// is not the default v2).
func (t *Target) Label() string {
	if t == nil {
		return ""
	}
	if t.Name != "" {
		return t.Name
	}
	s := cmp.Or(t.Kind, t.URL, "server")
	if t.Dialect != "" && t.Dialect != "v2" {
		s += " " + t.Dialect
	}
	return s
}

// String is the target in full, for provenance: kind, URL, dialect and personality.
func (t *Target) String() string {
	if t == nil {
		return ""
	}
	parts := []string{cmp.Or(t.Name, t.Kind)}
	if t.Name != "" && t.Kind != "" {
		parts[0] += " (" + t.Kind + ")"
	}
	for _, p := range []string{t.URL, dialectText(t.Dialect), t.Personality} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

func dialectText(d string) string {
	if d == "" {
		return ""
	}
	return "dialect " + d
}

// Client is a client under test: the driver that played the devices, and the SDK behind it.
type Client struct {
	// Driver is the driver's name: "go" for conflictlab's own client, else what the driver
	// said in its hello (docs/drivers.md).
	Driver string `json:"driver"`
	// SDK and Version are the SDK the driver wraps and its version, e.g.
	// "azure-mobile-apps-client" "2.0.1".
	SDK     string `json:"sdk,omitempty"`
	Version string `json:"version,omitempty"`
}

// Label is the client's short name in a report: the driver, with the SDK's version.
func (c *Client) Label() string {
	if c == nil {
		return ""
	}
	s := c.Driver
	if c.Version != "" {
		s += " " + c.Version
	}
	return s
}

// String is the client in full, for provenance.
func (c *Client) String() string {
	if c == nil {
		return ""
	}
	s := c.Driver
	if c.SDK != "" {
		s += " (" + strings.TrimSpace(c.SDK+" "+c.Version) + ")"
	} else if c.Version != "" {
		s += " " + c.Version
	}
	return s
}

// Device is one of a scenario's clients as it ran.
type Device struct {
	Name string `json:"name"`
	// Strategy is the strategy the device resolved conflicts with: the scenario's for the
	// run, else the device's own, else "manual".
	Strategy string `json:"strategy"`
	// Store is where it kept its rows: "memory" or "sqlite".
	Store string `json:"store,omitempty"`
	// Client is the device's client when it is not the result's (a scenario that mixes SDKs).
	Client *Client `json:"client,omitempty"`
}

// Provenance is what made a run, so a report can be traced and made again.
type Provenance struct {
	// Version is conflictlab's module version ("(devel)" for a build from a work tree), and
	// Commit and Modified what version control stamped into the binary.
	Version  string `json:"version,omitempty"`
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	// GoVersion and Platform are the toolchain and GOOS/GOARCH of the binary.
	GoVersion string `json:"goVersion,omitempty"`
	Platform  string `json:"platform,omitempty"`
	// Date is when the run started.
	Date time.Time `json:"date,omitzero"`
	// Command is the command line, as typed (arguments in order).
	Command []string `json:"command,omitempty"`
	// Targets, Clients and Seeds are every target, client and seed the run used (the
	// scenarios' server seeds, the campaigns' first seeds).
	Targets []Target `json:"targets,omitempty"`
	Clients []Client `json:"clients,omitempty"`
	Seeds   []uint64 `json:"seeds,omitempty"`
}

// NewProvenance fills what the binary knows of itself (version, commit, Go, platform) and
// the date and command line; the runner adds targets, clients and seeds.
func NewProvenance(command []string, date time.Time) *Provenance {
	p := &Provenance{GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		Date: date, Command: slices.Clone(command)}
	if bi, ok := debug.ReadBuildInfo(); ok {
		p.Version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				p.Commit = s.Value
			case "vcs.modified":
				p.Modified = s.Value == "true"
			}
		}
	}
	return p
}

// AddTarget records t unless an equal target is there already.
func (p *Provenance) AddTarget(t Target) {
	if !slices.Contains(p.Targets, t) {
		p.Targets = append(p.Targets, t)
	}
}

// AddClient records c unless an equal client is there already.
func (p *Provenance) AddClient(c Client) {
	if !slices.Contains(p.Clients, c) {
		p.Clients = append(p.Clients, c)
	}
}

// AddSeed records seed unless it is there already.
func (p *Provenance) AddSeed(seed uint64) {
	if !slices.Contains(p.Seeds, seed) {
		p.Seeds = append(p.Seeds, seed)
	}
}

// Input is one result set of a merged run: where it was read from and what made it.
type Input struct {
	// Name is how the report names the set (its directory, or --in DIR=NAME).
	Name       string      `json:"name"`
	Path       string      `json:"path,omitempty"`
	Provenance *Provenance `json:"provenance,omitempty"`
	Counts     Counts      `json:"counts"`
	Campaigns  int         `json:"campaigns,omitempty"`
}
