# Unhidra — the two commands: `make run` and `make test`.
GO      ?= go
BIN     := bin/unhidra
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/unhidra/unhidra.Version=$(VERSION)

.PHONY: run build test bench fuzz services vet clean release

## run: build and start the server with the embedded defaults (./data, :8080)
run: build
	./$(BIN) serve $(ARGS)

## build: build the web client (npm ci and Vite when its sources changed), then compile
## the unhidra binary with the client embedded into bin/
build:
	./scripts/web.sh
	CGO_ENABLED=0 $(GO) build -tags webui -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/unhidra

## test: start the services the tests need, then vet and run every test
test:
	./scripts/test.sh

## bench: run the benchmarks (figures are machine-relative; compare runs from one session),
## then search over 10,000,000 messages on SQLite (the first run loads them: minutes, and
## about 7 GB under ~/.cache/unhidra/bench; UNHIDRA_BENCH_CACHE=off loads afresh)
bench:
	./scripts/services.sh
	$(GO) test -run '^$$' -bench . -benchmem -count 1 -timeout 30m ./...
	$(GO) run ./cmd/unhidra bench cluster --nodes 1,2,3 --members 500 --rate 20 --procs 3
	./scripts/web.sh && ./scripts/chromium.sh && cd web && npm run --silent bench
	UNHIDRA_BENCH_SEARCH_MESSAGES=10000000 $(GO) test -run '^$$' -bench 'Search/sqlite' -benchtime 100x -count 1 -v -timeout 3h ./store/chatstore

## release: cross-compile linux/darwin/windows on amd64/arm64 (web client embedded) into dist/
## with SHA256SUMS; VERSION defaults to git describe
release:
	./scripts/release.sh $(VERSION)

## fuzz: run each fuzz target for FUZZTIME (default 30s)
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

## services: make sure PostgreSQL, NATS and Redis are up (Mosquitto joins with devices)
services:
	./scripts/services.sh

vet:
	$(GO) vet ./...

clean:
	rm -rf bin
