# Portcullis — Envoy external-authorization sidecar.
# `make run` installs, generates, builds and serves the example policies; `make test` runs the suite.

SHELL := /bin/bash
NODE_BIN := node_modules/.bin
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
DEPS := node_modules/@grpc/grpc-js-xds/deps
PROTO_DEPS := proto/.deps

.PHONY: install generate build run test check lint typecheck bench fuzz soak clean docs

install: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

GEN_STAMP := src/gen/.generated
PROTO_SRC := proto/buf.yaml proto/buf.gen.yaml $(wildcard proto/portcullis/v1/*.proto)

# Links the third-party protos from npm packages into proto/.deps (git-ignored) and runs buf.
generate: install
	@mkdir -p $(PROTO_DEPS)
	@for d in envoy-api xds googleapis protoc-gen-validate; do ln -sfn ../../$(DEPS)/$$d $(PROTO_DEPS)/$$d; done
	@ln -sfn ../../node_modules/grpc-health-check/proto $(PROTO_DEPS)/grpc-health
	$(NODE_BIN)/buf generate --template proto/buf.gen.yaml proto \
	  --path $(PROTO_DEPS)/envoy-api/envoy/service/auth/v3/external_auth.proto \
	  --path $(PROTO_DEPS)/grpc-health/health/v1/health.proto \
	  --path proto/portcullis
	@touch $(GEN_STAMP)

$(GEN_STAMP): $(PROTO_SRC) package-lock.json
	$(MAKE) generate

build: install $(GEN_STAMP)
	$(NODE_BIN)/tsc -p tsconfig.json

# NODE_FLAGS: V8 heap flags for the sidecar, e.g. NODE_FLAGS=--max-semi-space-size=4 (docs/memory.md).
run: build
	node $(NODE_FLAGS) dist/cli/main.js serve --policies policies $(ARGS)

typecheck: install $(GEN_STAMP)
	$(NODE_BIN)/tsc -p tsconfig.check.json

lint: install
	$(NODE_BIN)/biome check .

test: build
	$(NODE_BIN)/vitest run $(ARGS)

check: typecheck lint test

docs: build
	node dist/cli/main.js docs generate

bench: build
	$(NODE_BIN)/tsx bench/run.ts $(ARGS)

# The long fuzz run: >= 1,000,000 mutated CheckRequests through the real gRPC server (bounded by
# FUZZ_SECONDS, default 1800) and 20x the property-test runs. `make test` runs a small version.
fuzz: build
	FUZZ_RUNS=$${FUZZ_RUNS:-1000000} $(NODE_BIN)/vitest run test/fuzz $(ARGS)

# The long soak (default 10 minutes at 2,000 req/s with bundle swaps); CI runs a 60-second version.
soak: build
	$(NODE_BIN)/tsx bench/soak.ts $(ARGS)

clean:
	rm -rf dist src/gen $(PROTO_DEPS) node_modules/.installed
