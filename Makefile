# InteraRec developer entry points. `make run` and `make test` install whatever is missing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VAR := var

.PHONY: help setup system-deps venv kafka catalog proto lint test test-unit test-reliability run kafka-start kafka-stop clean

help:
	@echo "make run        start Kafka, the services, the demo shop and a scripted shopper (Ctrl-C stops)"
	@echo "make test       lint + unit, integration (real Kafka) and end-to-end (real Chromium) tests"
	@echo "make test-unit  the fast unit tests only"
	@echo "make test-reliability  only the fault tests (broker restart/freeze, killed services, poison)"
	@echo "make proto      regenerate Python code from proto/interarec/v1/*.proto"
	@echo "make catalog    generate the demo catalog into $(VAR)/catalog/"

setup: system-deps venv kafka

system-deps:
	@bash infra/setup/system-deps.sh

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "python dependencies: installing into $(VENV) (first time takes a few minutes)"
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed

kafka: venv
	@$(PY) infra/kafka/broker.py install

catalog: venv
	@$(PY) -m services.common.demo_catalog

proto: venv
	@$(PY) -m grpc_tools.protoc -I proto --python_out=proto --pyi_out=proto proto/interarec/v1/*.proto
	@echo "regenerated proto/interarec/v1/*_pb2.py"

lint: venv
	@$(PY) -m ruff check .

test-unit: venv
	@$(PY) -m pytest tests/unit -q

test: setup lint
	@$(PY) -m pytest tests -q -ra

test-reliability: setup
	@$(PY) -m pytest tests/reliability -q -ra -s

run: setup
	@$(PY) -m infra.local.run $(ARGS)

kafka-start: kafka
	@$(PY) infra/kafka/broker.py start

kafka-stop:
	@$(PY) infra/kafka/broker.py stop

clean:
	rm -rf $(VAR)/run $(VAR)/faust $(VAR)/kafka/data
