# Onramp: `make run` to try it, `make test` to check everything. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := run
CARGO ?= cargo
APP_BIN := target/debug/onramp-app
BINS := -p onramp-app -p onramp-cli -p onramp-floor --locked

.PHONY: run test deps deps-test deps-fuzz fuzz ui ui-test relay-test bins check fmt clippy bindings rust-test contract-test crash-test e2e package package-test bench bench-smoke clean

## Install what is missing, build, and open Onramp (Sandbox environment unless onramp.toml says otherwise).
run: deps bins
	$(APP_BIN)

## Everything CI checks: formatting, lints, fresh bindings, Rust, UI and real-window tests.
test: deps-test ui check ui-test relay-test rust-test contract-test bench-smoke crash-test e2e package-test
	@echo "make test: all checks passed"

deps:
	scripts/install-deps.sh run

deps-test:
	scripts/install-deps.sh test

ui:
	cd ui && npm run build --silent

ui-test:
	cd ui && npm run check --silent && npm test --silent

## The https relay page in a real browser engine (WebKitGTK under Xvfb): it hands answers on.
relay-test:
	timeout 120 xvfb-run -a python3 tests/relay/relay_page.py

# The app, the CLI and the benchmark's floor app are always built together: building one alone
# unifies other features and rebuilds most dependencies.
bins: ui
	$(CARGO) build $(BINS)

check: fmt clippy

fmt:
	$(CARGO) fmt --all --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

## Regenerate ui/src/lib/bindings.ts (and the UI fixture providers.json) from the Rust types.
bindings:
	UPDATE_BINDINGS=1 $(CARGO) test -p onramp-core --lib bindings

## Rust unit and flow tests, against the sandbox, with the real Secret Service.
rust-test: bins
	scripts/with-keyring.sh $(CARGO) test --workspace --locked

## Clients Onramp did not write (soliscloud-api, tesla-fleet-api, Derapi's SDK; pinned in
## tests/contract/requirements.txt) against the sandbox, as they would talk to the vendors.
contract-test: bins
	timeout 120 tests/contract/.venv/bin/python tests/contract/run.py --onramp target/debug/onramp

## SIGKILL at random moments of `onramp refresh --all`, 200 times each way (ONRAMP_KILL_ROUNDS):
## no grant lost silently.
crash-test: bins
	CARGO=$(CARGO) scripts/crash-test.sh

## The real app in a real window (Xvfb + tauri-driver + WebKitWebDriver).
e2e: bins
	timeout 900 scripts/with-keyring.sh python3 tests/e2e/run_e2e.py

## The Debian package (Tauri bundler); its desktop entry registers the onramp:// scheme.
## `make package` builds a debug package for testing; `make package PROFILE=release` the real one.
PROFILE ?= debug
# The Tauri CLI (a prebuilt binary from the npm registry), run on demand rather than kept in ui/.
TAURI_CLI := 2.12.5
package: bins
	npx --yes @tauri-apps/cli@$(TAURI_CLI) build $(if $(filter debug,$(PROFILE)),--debug,) --bundles deb --ci

package-test: package
	python3 tests/package/check_deb.py

## Coverage-guided fuzzing of every parser target (libFuzzer, stable toolchain): FUZZ_SECONDS
## per target (60), or FUZZ_RUNS executions each; `make fuzz FUZZ_TARGETS="espi callback"` for
## some. Prints executions, exec/s, coverage and corpus size per target; a crash fails it.
## `make test` runs the same targets' corpus and mutants in tests (fuzz/tests/replay.rs).
FUZZ_TARGETS ?=
fuzz: deps-fuzz
	CARGO=$(CARGO) nice -n $(or $(FUZZ_NICE),19) scripts/fuzz.sh $(FUZZ_TARGETS)

deps-fuzz:
	scripts/install-deps.sh fuzz

## Benchmarks (release build, real keyring in a private session) and the kill tests at 1,000
## kills each way: results into BENCHMARKS.md.
bench: deps-test ui
	$(CARGO) build --release --locked -p onramp-bench -p onramp-app -p onramp-floor -p onramp-cli
	$(MAKE) package PROFILE=release
	scripts/with-keyring.sh scripts/bench.sh

## Every benchmark at tiny sizes: they keep compiling and running (measures nothing).
bench-smoke: bins
	scripts/with-keyring.sh $(CARGO) run -q --locked -p onramp-bench -- all --smoke > /dev/null
	$(CARGO) run -q --locked -p onramp-bench -- espi --smoke > /dev/null
	scripts/with-keyring.sh $(CARGO) run -q --locked -p onramp-bench -- startup --app $(APP_BIN) \
		--floor target/debug/onramp-floor --connections 30 --runs 1 --idle-secs 0 > /dev/null

clean:
	$(CARGO) clean
	rm -rf ui/dist ui/node_modules
