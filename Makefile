# HX-MLOps developer entry points. `make demo` and `make test` run `make setup` first.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export HX_TOOLS_DIR ?= $(HOME)/.cache/hx-mlops/tools
export PATH := $(CURDIR)/.venv/bin:$(HX_TOOLS_DIR)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export HX_TIMINGS ?= $(CURDIR)/tests/output/timings.txt
INVENTORY ?= inventories/local
TIMED := hack/timed.sh
PYTEST := python -m pytest -p no:cacheprovider

.PHONY: help setup demo test lint sanity unit molecule integration bench clean distclean build sharing-image kubeconfig

help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## Install everything (apt, .venv, Go-built tools, Docker, images); fast when done
	@$(TIMED) setup hack/setup.sh

demo: setup ## Bring up three local domains and run the whole flow on them
	@$(TIMED) demo ansible-playbook site.yml -i $(INVENTORY)

test: setup ## Run every check and test: lint, sanity, unit, molecule, integration
	@$(TIMED) lint $(MAKE) --no-print-directory lint
	@$(TIMED) sanity $(MAKE) --no-print-directory sanity
	@$(TIMED) unit $(MAKE) --no-print-directory unit
	@$(TIMED) molecule $(MAKE) --no-print-directory molecule
	@$(TIMED) integration $(MAKE) --no-print-directory integration

lint: ## yamllint, ansible-lint (production profile), ruff
	yamllint --strict .
	ansible-lint --profile production
	ruff check .

sanity: ## ansible-test sanity on a copy of the collection
	hack/sanity.sh

unit: ## Unit tests of pure logic and component tests on real files and services
	$(PYTEST) tests/unit $(wildcard tests/stages) $(wildcard tests/sharing)

molecule: ## Every Molecule scenario (Docker, unprivileged, amd64 + arm64 under qemu)
	hack/molecule.sh

integration: ## Integration tests against the local clusters (brings them up)
	ansible-playbook playbooks/cluster.yml -i inventories/local
	$(PYTEST) tests/integration

bench: setup ## Benchmarks; each prints ratios against a baseline from the same run
	@for b in bench/*.py; do echo "== $$b"; python "$$b"; done

sharing-image: setup ## Build the sharing services' image (ARCH=amd64|arm64) from the local base image
	hack/sharing-image.sh $(or $(ARCH),amd64)

build: ## Build the collection tarball
	ansible-galaxy collection build --force --output-path tests/output

kubeconfig: ## Print the export line for the local domains' kubeconfig
	@echo "export KUBECONFIG=$(CURDIR)/inventories/local/.state/kubeconfig"

clean: ## Tear down the local domains and remove test output
	-ansible-playbook playbooks/teardown.yml -i inventories/local
	rm -rf tests/output

distclean: clean ## Also remove .venv (the Go tools cache in $(HX_TOOLS_DIR) is kept)
	rm -rf .venv
