# coldint Makefile. `make help` lists the targets. Each component adds its
# setup and bench steps from mk/*.mk through the TEST_SETUP and BENCH variables.

SHELL := /bin/bash
.DEFAULT_GOAL := help

export GOFLAGS := -trimpath
export OMP_NUM_THREADS ?= $(shell nproc)
export CGO_ENABLED := 1

BUILD := .build
TEST_SETUP :=
BENCH :=

include $(sort $(wildcard mk/*.mk))

.PHONY: help build test bench demo lint vet fmt setup

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | sort -u | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-18s %s\n", $$1, $$2}'

setup: $(TEST_SETUP) ## install everything the tests need (apt, npm, gotch adaptation)

build: setup-native ## build bin/coldint and bin/libcoldint_torch.so (LIBTORCH=DIR: against another libtorch)
	go build -ldflags "-X github.com/coldint/coldint/commands.Version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o bin/coldint .
	cp $(NATIVE_LIB) bin/libcoldint_torch.so.tmp
	mv bin/libcoldint_torch.so.tmp bin/libcoldint_torch.so

test: setup ## install what is needed, then run every test (engine included)
	go vet ./...
	COLDINT_TEST_REQUIRE_DEPS=1 go test -count=1 -timeout 40m ./...

bench: setup build $(BENCH) ## run the benchmarks and print ratios against the named peers

demo: build setup-data ## run a whole local competition on embedded defaults into ./demo (then: bin/coldint serve)
	./bin/coldint demo

lint: vet ## run the linters that are installed
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)

vet: setup-torch ## go vet every package
	go vet ./...

fmt: ## gofmt every file
	gofmt -w $$(git ls-files '*.go')
