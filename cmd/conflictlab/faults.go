package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/spf13/cobra"
)

// faultsClient talks to the admin API of a running `conflictlab serve`.
type faultsClient struct {
	base  string // the server's URL, without /_conflictlab
	token string
	http  *http.Client
}

type faultsOptions struct {
	server string
	token  string
}

func newFaultsCommand() *cobra.Command {
	o := &faultsOptions{}
	cmd := &cobra.Command{
		Use:   "faults",
		Short: "List, add, remove and heal the fault rules of a running conflictlab server",
		Long: `Manage the fault rules of a running ` + "`conflictlab serve`" + ` through its admin API, like
toxiproxy's CLI: list them with their counters, add one (from flags, or a list from a YAML or
JSON file), remove one by id, or heal them all.

--server is the server's URL (the table address, or --admin-addr when the admin API has its
own); it defaults to $CONFLICTLAB_SERVER, else http://127.0.0.1:8080.`,
		Example: `  conflictlab faults list
  conflictlab faults add --action status --param code=503 --op insert --times 1
  conflictlab faults add --id lost --action drop-response --method PATCH --client phone
  conflictlab faults add -f faults.yaml --server http://127.0.0.1:9000
  conflictlab faults remove lost
  conflictlab faults heal`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	pf := cmd.PersistentFlags()
	server := os.Getenv("CONFLICTLAB_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	pf.StringVar(&o.server, "server", server, "URL of the conflictlab server (default $CONFLICTLAB_SERVER)")
	pf.StringVar(&o.token, "admin-token", os.Getenv("CONFLICTLAB_ADMIN_TOKEN"), "the server's admin token, if it has one (default $CONFLICTLAB_ADMIN_TOKEN)")
	cmd.AddCommand(newFaultsListCommand(o), newFaultsAddCommand(o), newFaultsRemoveCommand(o), newFaultsHealCommand(o))
	return cmd
}

func (o *faultsOptions) client() (*faultsClient, error) {
	base := strings.TrimRight(strings.TrimSpace(o.server), "/")
	base = strings.TrimSuffix(base, "/_conflictlab")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("--server %q: give the server's URL, like http://127.0.0.1:8080", o.server)
	}
	return &faultsClient{base: base, token: o.token, http: &http.Client{Timeout: 10 * time.Second}}, nil
}

func newFaultsListCommand(o *faultsOptions) *cobra.Command {
	asJSON := false
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the fault rules in force, with how often each matched and fired",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			var rules []fakeserver.RuleStatus
			if err := c.call(cmd.Context(), http.MethodGet, "/faults", "", nil, http.StatusOK, &rules); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rules)
			}
			if len(rules) == 0 {
				fmt.Fprintln(out, "no fault rules in force")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tACTION\tPARAMS\tMATCH\tMATCHED\tFIRED")
			for _, st := range rules {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\n", st.Rule.ID, st.Rule.Action, compactJSON(st.Rule.Params, "-"),
					compactJSON(st.Rule.Match, "every request"), st.Matched, st.Fired)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rules and counters as JSON")
	return cmd
}

// ruleFlags is a rule given as flags.
type ruleFlags struct {
	file                        string
	id, action                  string
	params                      []string
	methods, ops                []string
	table, item, client         string
	after, times                int
	probability                 float64
	probabilitySet, anyRuleFlag bool
}

func newFaultsAddCommand(o *faultsOptions) *cobra.Command {
	rf := &ruleFlags{}
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Put a fault rule in force, given as flags, or the rules of a YAML or JSON file (-f)",
		Long: `Put a fault rule in force. Give it as flags (--action and its --param key=value pairs, and
--method, --op, --table, --item, --client, --after, --times, --probability to say which requests
it hits), or give -f FILE (- for stdin) holding a rule or a list of rules in YAML or JSON, as
` + "`conflictlab serve --faults`" + ` reads them. A list goes in all together or not at all.

Actions:
` + actionHelp(),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rf.probabilitySet = cmd.Flags().Changed("probability")
			for _, name := range []string{"id", "action", "param", "method", "op", "table", "item", "client", "after", "times", "probability"} {
				rf.anyRuleFlag = rf.anyRuleFlag || cmd.Flags().Changed(name)
			}
			body, contentType, err := rf.body(cmd.InOrStdin())
			if err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			var added []fakeserver.Rule
			if err := c.call(cmd.Context(), http.MethodPost, "/faults", contentType, body, http.StatusCreated, &added); err != nil {
				return err
			}
			for _, r := range added {
				fmt.Fprintf(cmd.OutOrStdout(), "added %s: %s\n", r.ID, describeRule(r))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&rf.file, "file", "f", "", "read the rule, or a list of rules, from this YAML or JSON file (- for stdin)")
	f.StringVar(&rf.id, "id", "", "the rule's id (default: the server assigns f1, f2…)")
	f.StringVar(&rf.action, "action", "", "what the rule does: "+actionNames())
	f.StringArrayVar(&rf.params, "param", nil, "a parameter of the action, key=value (the value read as JSON if it parses, else as a string); repeat for more")
	f.StringSliceVar(&rf.methods, "method", nil, "hit only these HTTP methods (GET, POST, PATCH, DELETE)")
	f.StringSliceVar(&rf.ops, "op", nil, "hit only these operations (query, lookup, insert, update, delete, undelete)")
	f.StringVar(&rf.table, "table", "", "hit only this table")
	f.StringVar(&rf.item, "item", "", "hit only this item id")
	f.StringVar(&rf.client, "client", "", `hit only this client (X-ZUMO-INSTALLATION-ID, else User-Agent; "server" for direct writes)`)
	f.IntVar(&rf.after, "after", 0, "skip the first N requests the rule matches")
	f.IntVar(&rf.times, "times", 0, "fire on this many requests, then stop (0: no limit)")
	f.Float64Var(&rf.probability, "probability", 1, "the chance, from the server's seed, that a matching request is hit")
	return cmd
}

// body is what add sends: the file as it is, or the rule the flags make, checked here first so
// that a mistake is named before anything is sent.
func (rf *ruleFlags) body(stdin io.Reader) ([]byte, string, error) {
	if rf.file != "" {
		if rf.anyRuleFlag {
			return nil, "", errors.New("give the rule as flags or with -f FILE, not both")
		}
		var data []byte
		var err error
		if rf.file == "-" {
			data, err = io.ReadAll(io.LimitReader(stdin, 1<<20))
		} else {
			data, err = os.ReadFile(rf.file)
		}
		if err != nil {
			return nil, "", fmt.Errorf("-f: %w", err)
		}
		rules, err := fakeserver.ParseRules(data)
		if err != nil {
			var re *fakeserver.RuleError
			if errors.As(err, &re) {
				re.File = rf.file
			}
			return nil, "", fmt.Errorf("-f: %w", err)
		}
		if len(rules) == 0 {
			return nil, "", fmt.Errorf("-f %s: no rules in the file", rf.file)
		}
		out, err := json.Marshal(rules)
		return out, "application/json", err
	}
	if rf.action == "" {
		return nil, "", errors.New("give the rule's --action (one of " + actionNames() + "), or -f FILE")
	}
	r := fakeserver.Rule{ID: rf.id, Action: rf.action, Match: fakeserver.Match{
		Method: rf.methods, Op: rf.ops, Table: rf.table, ID: rf.item, Client: rf.client, After: rf.after, Times: rf.times}}
	if rf.probabilitySet {
		r.Match.Probability = fakeserver.Prob(rf.probability)
	}
	for _, kv := range rf.params {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, "", fmt.Errorf("--param %q: want key=value", kv)
		}
		if r.Params == nil {
			r.Params = map[string]any{}
		}
		var parsed any
		if err := json.Unmarshal([]byte(v), &parsed); err != nil {
			parsed = v
		}
		r.Params[k] = parsed
	}
	if _, err := r.Validate(); err != nil {
		return nil, "", err
	}
	out, err := json.Marshal(r)
	return out, "application/json", err
}

func newFaultsRemoveCommand(o *faultsOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "remove ID...",
		Short: "Heal the fault rules with these ids",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			for _, id := range ids {
				if err := c.call(cmd.Context(), http.MethodDelete, "/faults/"+url.PathEscape(id), "", nil, http.StatusNoContent, nil); err != nil {
					return fmt.Errorf("remove %s: %w", id, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", id)
			}
			return nil
		},
	}
}

func newFaultsHealCommand(o *faultsOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "heal",
		Short: "Heal every fault rule, letting go of the requests they hold",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			var out struct {
				Healed int `json:"healed"`
			}
			if err := c.call(cmd.Context(), http.MethodDelete, "/faults", "", nil, http.StatusOK, &out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "healed %d fault rule(s)\n", out.Healed)
			return nil
		},
	}
}

// call makes one admin request and decodes its JSON answer into out. An answer that is not
// the admin API's turns into an error that says what the server seems to be.
func (c *faultsClient) call(ctx context.Context, method, path, contentType string, body []byte, want int, out any) error {
	res, raw, err := c.do(ctx, method, "/_conflictlab"+path, contentType, body)
	if err != nil {
		return err
	}
	if res.StatusCode == want && (isJSON(res) || want == http.StatusNoContent) {
		if out == nil || len(bytes.TrimSpace(raw)) == 0 {
			return nil
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s: the answer is not what a conflictlab server sends: %v", c.base, err)
		}
		return nil
	}
	var e struct {
		Error  string `json:"error"`
		Field  string `json:"field"`
		Line   int    `json:"line"`
		Column int    `json:"column"`
	}
	if isJSON(res) && json.Unmarshal(raw, &e) == nil && e.Error != "" {
		switch res.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("%s: %s (give it with --admin-token or $CONFLICTLAB_ADMIN_TOKEN)", c.base, e.Error)
		case http.StatusNotFound:
			if c.isConflictlab(ctx) {
				return errors.New(e.Error)
			}
		default:
			return errors.New(e.Error)
		}
	}
	return c.notConflictlab(ctx, res)
}

func (c *faultsClient) do(ctx context.Context, method, path, contentType string, body []byte) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("--server %s: %w", c.base, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach the conflictlab server at %s: %w", c.base, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer of %s: %w", c.base, err)
	}
	return res, raw, nil
}

// isConflictlab asks the admin API who it is: a conflictlab server or proxy says its kind.
func (c *faultsClient) isConflictlab(ctx context.Context) bool {
	res, raw, err := c.do(ctx, http.MethodGet, "/_conflictlab/info", "", nil)
	if err != nil || res.StatusCode != http.StatusOK || !isJSON(res) {
		return false
	}
	var info map[string]any
	if json.Unmarshal(raw, &info) != nil {
		return false
	}
	kind := info["kind"]
	return kind == "conflictlab" || kind == "proxy" // conflictlab serve, conflictlab proxy
}

func (c *faultsClient) notConflictlab(ctx context.Context, res *http.Response) error {
	if c.isConflictlab(ctx) {
		return fmt.Errorf("%s answered %s, which its admin API does not send", c.base, res.Status)
	}
	hint := ""
	if _, raw, err := c.do(ctx, http.MethodGet, "/", "", nil); err == nil && bytes.Contains(raw, []byte(`"conflictlab fakeserver"`)) {
		hint = " (it serves the table protocol there: is its admin API on another --admin-addr?)"
	}
	return fmt.Errorf("%s does not look like a conflictlab server: %s %s answered %s (%s)%s",
		c.base, res.Request.Method, res.Request.URL.Path, res.Status, contentTypeOf(res), hint)
}

func isJSON(res *http.Response) bool {
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	return mt == "application/json"
}

func contentTypeOf(res *http.Response) string {
	if ct := res.Header.Get("Content-Type"); ct != "" {
		return ct
	}
	return "no content type"
}

func compactJSON(v any, empty string) string {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "{}" || string(b) == "null" {
		return empty
	}
	return string(b)
}

// actionNames lists the fault actions, for flag help and errors.
func actionNames() string {
	var names []string
	for _, a := range fakeserver.Actions() {
		names = append(names, a[0])
	}
	return strings.Join(names, ", ")
}
