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
TEST_FUZZTIME ?= 200x
FUZZTIME     ?= 2m
REPORT_DIR  ?= reports/out

# package:target for every go-fuzz target
FUZZ_TARGETS := ./internal/odata:FuzzParseFilter ./internal/odata:FuzzParseOrderBy ./fakeserver:FuzzRequests ./client:FuzzServerAnswers ./client:FuzzPageDecoding ./scenarios:FuzzParse ./properties:FuzzMachine
# How long `make report` lets the property campaign explore.
REPORT_FUZZTIME ?= 20s

.PHONY: test test-setup go-ready test-campaign test-mutants suites-a suites-b report fuzz fuzz-targets bench bench-mutants lint build chromium screenshot peers drivers test-js

## test: vet, a pure-Go build (no cgo: the SQLite store must not need it), every suite and test
## with -race (the report's browser specs in Chromium, required where it could be installed;
## the specs against the real Node backend where `make peers` could install it), then a short
## run of each fuzz target
test: test-setup
	@$(MAKE) --no-print-directory -j2 --output-sync=line suites-a suites-b
	@$(MAKE) --no-print-directory -j2 --output-sync=line fuzz-targets test-js test-campaign test-mutants FUZZTIME=$(TEST_FUZZTIME)

# The suites run as two Ginkgo runs side by side, one per core (a suite's specs mostly keep to
# one): SUITES_B holds these packages, and every other package goes in the first run.
SUITES_B    := fakeserver properties nodepeer store odata
GINKGO_RUN  := env $$([ -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && echo CONFLICTLAB_REQUIRE_CHROMIUM=1) \
	$(GINKGO) --race --tags=mutants --randomize-all --keep-going --timeout=14m $(GINKGO_FLAGS)

suites-a:
	$(GINKGO_RUN) -r --skip-package=$(subst $(space),$(comma),$(SUITES_B))

suites-b:
	$(GINKGO_RUN) -r ./fakeserver ./properties ./peers/nodepeer ./client/store ./internal/odata

comma := ,
space := $(subst ,, )

# test-campaign: a short property campaign through the CLI, as users run it
test-campaign:
	$(GO) run ./cmd/conflictlab fuzz --duration 5s --out $(REPORT_DIR)/fuzz

# test-mutants: every deliberate bug of internal/mutants must be found by a campaign as
# conflictlab fuzz plays one (properties/mutants_caught_test.go), without -race: the race
# detector would make the campaigns ten times slower, and the bounds are about their speed
test-mutants:
	@log=$$(mktemp); $(GO) test -tags mutants -run 'TestMutantsAreCaught' -timeout 12m -v ./properties > $$log 2>&1; status=$$?; \
		grep -E '^(--- |ok|FAIL|PASS)|caught by|survived|steps|not by' $$log; rm -f $$log; exit $$status

## test-setup: what the suites need, side by side: Chromium installs, the Node peer and the JS
## driver compile their sqlite modules, while Go vets, builds (pure Go: the SQLite store must
## not need cgo) and compiles the race-enabled test binaries
test-setup:
	@$(MAKE) --no-print-directory -j4 --output-sync=line chromium peers drivers go-ready

go-ready:
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) build ./...
	$(GO) test -race -tags mutants -run '^$$' ./... > /dev/null

## report: the main job: play the scenario catalogue under every strategy against the embedded
## server (reports/out/catalog/), then a bounded property campaign (reports/out/fuzz/, where a
## counterexample would land), and, where make peers installed it, the catalogue against the
## real Node backend (reports/out/node/); render them as one report, side by side:
## results.json, report.md, report.html and junit.xml in reports/out/
report:
	@mkdir -p $(REPORT_DIR)
	@rm -rf $(REPORT_DIR)/node
	$(GO) build -o $(REPORT_DIR)/conflictlab ./cmd/conflictlab
	$(REPORT_DIR)/conflictlab run --out $(REPORT_DIR)/catalog scenarios/catalog
	$(REPORT_DIR)/conflictlab fuzz --duration $(REPORT_FUZZTIME) --out $(REPORT_DIR)/fuzz
	@# The real Node backend beside it, where make peers could install it: its failures are
	@# its own deviations from the protocol (exit 1), not the report's.
	@$(GO) run ./peers/cmd/with-node-peer $(REPORT_DIR)/conflictlab run --target {target} --out $(REPORT_DIR)/node \
		scenarios/catalog > $(REPORT_DIR)/node.log; status=$$?; tail -1 $(REPORT_DIR)/node.log; [ $$status -le 1 ]
	$(REPORT_DIR)/conflictlab report --in embedded=$(REPORT_DIR)/catalog \
		$$([ -f $(REPORT_DIR)/node/results.json ] && echo --in node=$(REPORT_DIR)/node) \
		--in $(REPORT_DIR)/fuzz --out $(REPORT_DIR)

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

## bench-mutants: how long conflictlab fuzz, with its default settings, takes to find each
## deliberate bug (BENCHMARKS.md's mutant table; MUTANT_SECONDS per mutant, default 60)
MUTANT_SECONDS ?= 60
bench-mutants:
	GO=$(GO) scripts/mutant-table $(MUTANT_SECONDS)

## lint: gofmt, go vet, and go.mod as go mod tidy would write it
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff

## chromium: Debian's Chromium for the report's browser specs (reports/browser_test.go),
## installed with apt-get when /usr/bin/chromium is missing and we are root; otherwise the
## specs skip and say why
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "chromium: installing Debian's chromium for the report's browser specs"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "chromium: /usr/bin/chromium is missing and we are not root with apt-get: the report's browser specs will skip"; \
	fi

## screenshot: docs/report.png and docs/report-timeline.png, the README's pictures of the
## report, taken by the browser specs from generated results
screenshot: chromium
	CONFLICTLAB_SCREENSHOT=$(CURDIR)/docs/report.png $(GINKGO) --label-filter=browser --focus='two targets' ./reports

## build: the conflictlab binary
build:
	$(GO) build -o conflictlab ./cmd/conflictlab

## peers: install the real Azure Mobile Apps Node backend into peers/node/node_modules with
## npm ci (Node >= 18 and npm; skipped with the reason printed where they are missing); the
## tests that run against it skip with the same reason
peers:
	@scripts/install-node-peer peers/node

# scenarios the JS SDK passes: a check that the driver plays the catalogue end to end (the
# whole catalogue through it, with its FAILs, is `conflictlab run --client js scenarios/catalog`)
JS_SCENARIOS := read-and-lookup sqlite-restart-keeps-queue manual-resolve-update-update conflict-update-update timeout-aborts-push push-abort-offline

## drivers: install the JavaScript SDK's driver into drivers/js/node_modules with npm ci (Node
## >= 20, npm and a C++ toolchain; skipped with the reason printed where they are missing)
drivers:
	@scripts/install-js-driver drivers/js

## test-js: the JS driver's tests (node:test, against conflictlab serve), then a part of the
## catalogue through it; skipped with the reason where the driver could not be installed
test-js: drivers
	@if [ ! -f drivers/js/node_modules/.conflictlab-installed ]; then \
		echo "test-js: skipped: the JS driver is not installed (see the line above)"; exit 0; fi; \
	bin=$$(mktemp -d)/conflictlab && $(GO) build -o $$bin ./cmd/conflictlab && \
		(cd drivers/js && CONFLICTLAB_BIN=$$bin node --test test/*.test.js) && \
		$$bin run --client js $(addprefix scenarios/catalog/,$(addsuffix .yaml,$(JS_SCENARIOS)))
