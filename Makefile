# conflictlab: everything here needs only Go and what go.mod names (the ginkgo CLI is a go.mod
# tool, run with `go tool ginkgo`).

GO          ?= go
GINKGO      := $(GO) tool ginkgo
# Extra ginkgo flags, e.g. GINKGO_FLAGS=--no-color in CI logs.
GINKGO_FLAGS ?=
# How long each fuzz target runs: briefly in `make test`, longer in `make fuzz`.
TEST_FUZZTIME ?= 5s
FUZZTIME     ?= 2m
REPORT_DIR  ?= reports/out

# package:target for every go-fuzz target
FUZZ_TARGETS := ./internal/odata:FuzzParseFilter ./internal/odata:FuzzParseOrderBy ./fakeserver:FuzzRequests ./client:FuzzServerAnswers ./properties:FuzzMachine
# How long `make report` lets the property campaign explore.
REPORT_FUZZTIME ?= 20s

.PHONY: test report fuzz bench lint build

## test: vet, a pure-Go build (no cgo: the SQLite store must not need it), every suite and test
## with -race, then a short run of each fuzz target
test:
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) build ./...
	$(GINKGO) -r --race --randomize-all --keep-going --timeout=8m $(GINKGO_FLAGS)
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(TEST_FUZZTIME) FUZZ_RACE=-race

## report: the main job: play the scenario catalogue under every strategy against the embedded
## server and write results.json, report.md, report.html and junit.xml into reports/out/, then
## a bounded property campaign (a counterexample would land in reports/out/fuzz/)
report:
	@mkdir -p $(REPORT_DIR)
	$(GO) run ./cmd/conflictlab run --out $(REPORT_DIR) scenarios/catalog
	$(GO) run ./cmd/conflictlab fuzz --duration $(REPORT_FUZZTIME) --out $(REPORT_DIR)/fuzz

## fuzz: run each fuzz target for FUZZTIME (default 2m), then the property campaign as long
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz: $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test $(FUZZ_RACE) -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done
	$(GO) run ./cmd/conflictlab fuzz --duration $(FUZZTIME) --out $(REPORT_DIR)/fuzz

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
