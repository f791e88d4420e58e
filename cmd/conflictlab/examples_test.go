package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.yaml.in/yaml/v3"

	"github.com/conflictlab/conflictlab/reports"
)

// The campaign examples of docs/examples (docs/campaigns.md) are played here as their
// machines would play them: the Indexed Job's pods with the environment Kubernetes gives them,
// the CI matrix's shards with the values GitHub gives, then each one's report command in a
// shell, with this test binary standing in for the conflictlab binary.
var _ = Describe("the campaign examples in docs/examples", func() {
	const examples = "../../docs/examples"

	// yamlDocs reads every document of a YAML file.
	yamlDocs := func(name string) []map[string]any {
		GinkgoHelper()
		f, err := os.Open(filepath.Join(examples, name))
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		var docs []map[string]any
		dec := yaml.NewDecoder(f)
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				Expect(err.Error()).To(Equal("EOF"))
				return docs
			}
			docs = append(docs, doc)
		}
	}
	// at walks a YAML document: map keys and list indexes.
	at := func(doc any, path ...any) any {
		GinkgoHelper()
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, ok := doc.(map[string]any)
				Expect(ok).To(BeTrue(), "no map at %v", p)
				doc = m[k]
			case int:
				l, ok := doc.([]any)
				Expect(ok).To(BeTrue(), "no list at %v", p)
				Expect(len(l)).To(BeNumerically(">", k))
				doc = l[k]
			}
		}
		return doc
	}
	strs := func(v any) []string {
		var out []string
		for _, x := range v.([]any) {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	// shell runs a command line in dir with a conflictlab that is this test binary, and
	// returns its output and exit status.
	shell := func(dir, sh, line string) (string, int) {
		GinkgoHelper()
		bin := GinkgoT().TempDir()
		wrapper := "#!/bin/sh\nCONFLICTLAB_BE_MAIN=1 CONFLICTLAB_ARGS=\"$*\" exec " + os.Args[0] + "\n"
		Expect(os.WriteFile(filepath.Join(bin, "conflictlab"), []byte(wrapper), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, "conflictlab"), []byte(wrapper), 0o755)).To(Succeed())
		cmd := exec.Command(sh, "-c", line)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if exit := (*exec.ExitError)(nil); err != nil {
			Expect(err).To(BeAssignableToTypeOf(exit), string(out))
			return string(out), err.(*exec.ExitError).ExitCode()
		}
		return string(out), 0
	}
	merged := func(dir string) reports.Campaign {
		GinkgoHelper()
		run, err := readResults(filepath.Join(dir, "results.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(run.Campaigns).To(HaveLen(1))
		return run.Campaigns[0]
	}

	It("runs the Kubernetes Indexed Job: each pod its shard, then one report of them all", func() {
		docs := yamlDocs("fuzz-indexed-job.yaml")
		Expect(docs).To(HaveLen(2))
		Expect(docs[0]["kind"]).To(Equal("PersistentVolumeClaim"))
		job := docs[1]
		Expect(job["kind"]).To(Equal("Job"))
		Expect(at(job, "spec", "completionMode")).To(Equal("Indexed"))
		completions := at(job, "spec", "completions").(int)
		Expect(at(job, "spec", "parallelism")).To(Equal(completions))
		rule := at(job, "spec", "podFailurePolicy", "rules", 0)
		Expect(at(rule, "action")).To(Equal("FailIndex"))
		Expect(strs(at(rule, "onExitCodes", "values"))).To(Equal([]string{strconv.Itoa(exitFailed)}), "exit 1 is a counterexample")
		Expect(at(job, "spec", "template", "spec", "restartPolicy")).To(Equal("Never"))
		container := at(job, "spec", "template", "spec", "containers", 0)
		Expect(at(rule, "onExitCodes", "containerName")).To(Equal(at(container, "name")))
		env := map[string]any{}
		for _, e := range at(container, "env").([]any) {
			env[at(e, "name").(string)] = e
		}
		Expect(at(env["JOB_COMPLETIONS"], "value")).To(Equal(strconv.Itoa(completions)))
		Expect(at(env["JOB_INDEX"], "valueFrom", "fieldRef", "fieldPath")).To(Equal("metadata.annotations['batch.kubernetes.io/job-completion-index']"))
		args := strs(at(container, "args"))
		Expect(args[0]).To(Equal("fuzz"))
		Expect(args).To(ContainElement(HavePrefix("--seed=")))
		Expect(args).NotTo(ContainElement(HavePrefix("--shard")), "the shard comes from the Job")
		Expect(at(container, "volumeMounts", 0, "mountPath")).To(Equal("/results"))

		results := GinkgoT().TempDir()
		for index := range completions {
			GinkgoT().Setenv("JOB_COMPLETION_INDEX", strconv.Itoa(index))
			GinkgoT().Setenv("JOB_COMPLETIONS", at(env["JOB_COMPLETIONS"], "value").(string))
			var pod []string
			for _, a := range args[1:] {
				a = strings.ReplaceAll(a, "$(JOB_INDEX)", strconv.Itoa(index))
				pod = append(pod, strings.ReplaceAll(a, "/results", results))
			}
			// A count as well as the duration: one interleaving per pod.
			_, progress, err := fuzz(append(pod, "--interleavings="+strconv.Itoa(completions))...)
			Expect(err).NotTo(HaveOccurred())
			Expect(progress).To(ContainSubstring(fmt.Sprintf(", shard %d/%d\n", index+1, completions)))
		}

		report := yamlDocs("fuzz-report-job.yaml")
		Expect(report).To(HaveLen(1))
		rc := at(report[0], "spec", "template", "spec", "containers", 0)
		Expect(at(rc, "image")).To(Equal(at(container, "image")))
		cmd := strs(at(rc, "command"))
		Expect(cmd[:2]).To(Equal([]string{"/bin/sh", "-c"}))
		out, status := shell(results, "sh", strings.ReplaceAll(cmd[2], "/results", results))
		Expect(status).To(Equal(0), out)
		c := merged(filepath.Join(results, "report"))
		Expect(c.Shards).To(HaveLen(completions))
		Expect(c.MissingShards()).To(BeEmpty())
		Expect(c.Interleavings).To(Equal(completions))

		By("naming a shard whose pod left no results")
		Expect(os.RemoveAll(filepath.Join(results, "index-3"))).To(Succeed())
		out, status = shell(results, "sh", strings.ReplaceAll(cmd[2], "/results", results))
		Expect(status).To(Equal(0), out)
		c = merged(filepath.Join(results, "report"))
		Expect(c.MissingShards()).To(Equal([]int{4}), "index 3 is shard 4")
	})

	It("runs the GitHub Actions matrix: each job its shard, then one report", func() {
		docs := yamlDocs("github-actions-fuzz.yml")
		Expect(docs).To(HaveLen(1))
		fuzzJob := at(docs[0], "jobs", "fuzz")
		shards := strs(at(fuzzJob, "strategy", "matrix", "shard"))
		for i, s := range shards {
			Expect(s).To(Equal(strconv.Itoa(i+1)), "shards count from 1")
		}
		Expect(at(fuzzJob, "strategy", "fail-fast")).To(BeFalse())
		step := func(job any, name string) string {
			GinkgoHelper()
			for _, st := range at(job, "steps").([]any) {
				if m := st.(map[string]any); m["name"] == name {
					return m["run"].(string)
				}
			}
			Fail("no step " + name)
			return ""
		}
		campaign := step(fuzzJob, "campaign")
		Expect(campaign).To(ContainSubstring(fmt.Sprintf("--shard ${{ matrix.shard }}/%d ", len(shards))))
		Expect(campaign).To(ContainSubstring("--seed ${{ github.run_id }} "))
		reportJob := at(docs[0], "jobs", "report")
		Expect(at(reportJob, "needs")).To(Equal("fuzz"))
		Expect(at(reportJob, "if")).To(Equal("always()"))

		work := GinkgoT().TempDir()
		for _, s := range shards {
			line := strings.NewReplacer("${{ github.run_id }}", "4242", "${{ matrix.shard }}", s).Replace(campaign)
			out, status := shell(work, "bash", line+" --interleavings "+strconv.Itoa(2*len(shards)))
			Expect(status).To(Equal(0), out)
			// download-artifact with a pattern puts each artifact in a directory of its name.
			Expect(os.MkdirAll(filepath.Join(work, "shards"), 0o755)).To(Succeed())
			Expect(os.Rename(filepath.Join(work, "fuzz-"+s), filepath.Join(work, "shards", "fuzz-"+s))).To(Succeed())
		}
		out, status := shell(work, "bash", step(reportJob, "report"))
		Expect(status).To(Equal(0), out)
		c := merged(filepath.Join(work, "report"))
		Expect(c.Shards).To(HaveLen(len(shards)))
		Expect(c.MissingShards()).To(BeEmpty())
		Expect(c.Seed).To(BeEquivalentTo(4242))
		Expect(c.Interleavings).To(Equal(2 * len(shards)))
	})
})
