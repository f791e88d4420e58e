# conflictlab: everything here needs only Go and what go.mod names (the ginkgo CLI is a go.mod
# tool, run with `go tool ginkgo`).

GO          ?= go
GINKGO      := $(GO) tool ginkgo
# Extra ginkgo flags, e.g. GINKGO_FLAGS=--no-color in CI logs.
GINKGO_FLAGS ?=
# How long each fuzz target runs. `make test` gives each a count of inputs (Nx): a count
# budget does not meet the race in Go's fuzz coordinator at a -fuzztime deadline
# (golang/go#75804), and scripts/fuzz-target fails a run only on a real failure. `make fuzz`
# runs each for a duration.
TEST_FUZZTIME ?= 300x
FUZZTIME     ?= 2m
REPORT_DIR  ?= reports/out

# package:target for every go-fuzz target
FUZZ_TARGETS := ./internal/odata:FuzzParseFilter ./internal/odata:FuzzParseOrderBy ./fakeserver:FuzzRequests ./client:FuzzServerAnswers ./properties:FuzzMachine
# How long `make report` lets the property campaign explore.
REPORT_FUZZTIME ?= 20s

.PHONY: test report fuzz fuzz-targets bench lint build

## test: vet, a pure-Go build (no cgo: the SQLite store must not need it), every suite and test
## with -race, then a short run of each fuzz target
test:
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) build ./...
	$(GINKGO) -r --race --tags=mutants --randomize-all --keep-going --timeout=8m $(GINKGO_FLAGS)
	@$(MAKE) --no-print-directory fuzz-targets FUZZTIME=$(TEST_FUZZTIME)
	$(GO) run ./cmd/conflictlab fuzz --duration 5s --out $(REPORT_DIR)/fuzz

## report: the main job: play the scenario catalogue under every strategy against the embedded
## server and write results.json, report.md, report.html and junit.xml into reports/out/, then
## a bounded property campaign (a counterexample would land in reports/out/fuzz/)
report:
	@mkdir -p $(REPORT_DIR)
	$(GO) run ./cmd/conflictlab run --out $(REPORT_DIR) scenarios/catalog
	$(GO) run ./cmd/conflictlab fuzz --duration $(REPORT_FUZZTIME) --out $(REPORT_DIR)/fuzz

## fuzz: run each fuzz target for FUZZTIME (default 2m), then the property campaign as long
fuzz: fuzz-targets
	$(GO) run ./cmd/conflictlab fuzz --duration $(FUZZTIME) --out $(REPORT_DIR)/fuzz

# fuzz-targets: each go-fuzz target for FUZZTIME, without -race (the race detector slows the
# fuzzer tenfold and the suites already run under it)
fuzz-targets:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz: $$name in $$pkg for $(FUZZTIME)"; \
		GO=$(GO) scripts/fuzz-target $$pkg $$name $(FUZZTIME); \
	done

## bench: every benchmark, with allocations
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## build: the conflictlab binary
build:
	$(GO) build -o conflictlab ./cmd/conflictlab
