# lightrank: `make run` (set up, generate the sample data, run the pipeline) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
LIGHTRANK := $(VENV)/bin/lightrank
BENCH := $(VENV)/bin/lightrank-bench
STAMP := $(VENV)/.installed
SAMPLE_DATA ?= data/sample
CONFIG ?= pipeline/configs/sample.yaml
PYTEST_ARGS ?=

# TFT and TFMA need Keras 2 (tf_keras): every process we start gets this.
export TF_USE_LEGACY_KERAS := 1

.PHONY: help setup run test test-unit test-e2e lint format lock clean image bench

help:
	@echo "make run    set up, generate the sample data, run the whole pipeline locally"
	@echo "make test   set up, run the test suite (unit + end-to-end on tiny data)"
	@echo "make lint   ruff check, format check and the import layers (import-linter)"
	@echo "make bench  measure serving, training, quality and the pipeline; rewrite BENCHMARKS.md (~30 min)"
	@echo "make lock   re-resolve requirements.lock (runtime, the image) and requirements-dev.lock (tests, lint, bench); slow, rarely needed"
	@echo "make image  build the pipeline image for Vertex AI / Kubeflow (IMAGE=registry/name:tag)"

# The venv is (re)built only when a lock, pyproject.toml or the interpreter finder change. It gets
# the runtime lock (all the image has), then what tests, lint and benchmarks add (requirements-dev.lock).
$(STAMP): requirements.lock requirements-dev.lock pyproject.toml bench/pyproject.toml scripts/find-python310
	@set -e; python=$$(scripts/find-python310); \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then \
	  rm -rf $(VENV); echo "Creating $(VENV) with $$python"; "$$python" -m venv $(VENV); fi
	@echo "Installing the pinned stack from requirements.lock and requirements-dev.lock (first time: about 3 minutes, 3.4 GB) ..."
	@set -o pipefail; $(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock 2>&1 \
	  | { grep -v "^WARNING: Location '" || true; }
	@set -o pipefail; $(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-dev.lock 2>&1 \
	  | { grep -v "^WARNING: Location '" || true; }
	@set -o pipefail; $(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
	  -e . -e bench 2>&1 | { grep -v "^WARNING: Location '" || true; }
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	@$(LIGHTRANK) data generate --out $(SAMPLE_DATA) --if-missing
	@$(LIGHTRANK) run --config $(CONFIG)

test: setup
	@$(PY) -m pytest $(PYTEST_ARGS)

test-unit: setup
	@$(PY) -m pytest -m "not e2e" $(PYTEST_ARGS)

test-e2e: setup
	@$(PY) -m pytest -m e2e $(PYTEST_ARGS)

lint: setup
	@$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	@$(PY) scripts/lint_imports.py --no-logo

format: setup
	@$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

# Runtime: resolve requirements.in in a fresh venv and freeze it, keeping only what requirements.in
# needs once each '#!exclude NAME' of requirements.in is cut off (LOCK_RUNTIME_FILTER, run in that
# venv: declared requirements, markers, extras; it names what it leaves out). Dev: add
# requirements-dev.in to that venv, constrained by the new runtime lock, and keep only the packages
# the runtime lock lacks (names compared PEP 503-normalised), so the excluded ones land there.
define LOCK_RUNTIME_FILTER
import re
import sys
from importlib import metadata
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name as norm

spec = open("requirements.in").read()
excluded = {norm(name) for name in re.findall(r"^#!exclude +([\w.-]+)", spec, re.MULTILINE)}
lines = (line.split("#", 1)[0].strip() for line in spec.splitlines())
pending = [Requirement(line) for line in lines if line and not line.startswith("-")]
dists = {norm(dist.metadata["Name"]): dist for dist in metadata.distributions()}
needed = {}
while pending:
    requirement = pending.pop()
    name, wanted = norm(requirement.name), {norm(extra) for extra in requirement.extras}
    if name in excluded or (name in needed and wanted <= needed[name]):
        continue
    needed.setdefault(name, set()).update(wanted)
    for text in dists[name].requires or []:
        dep = Requirement(text)
        if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in {"", *needed[name]}):
            pending.append(dep)
frozen = [line for line in sys.stdin.read().splitlines() if line.strip()]
kept = [line for line in frozen if norm(line.split("==")[0]) in needed]
left_out = sorted(line.split("==")[0] for line in frozen if line not in kept)
print("\n".join(kept))
print(f"requirements.lock leaves out {len(left_out)}, needed only through #!exclude: {' '.join(left_out)}", file=sys.stderr)
endef

lock: export LOCK_RUNTIME_FILTER := $(LOCK_RUNTIME_FILTER)
lock:
	@set -e; python=$$(scripts/find-python310); rm -rf build/lock-venv; "$$python" -m venv build/lock-venv; \
	build/lock-venv/bin/pip install --quiet --upgrade pip==24.2; \
	build/lock-venv/bin/pip install --quiet -r requirements.in; \
	{ sed -n '1,3p' requirements.lock; build/lock-venv/bin/pip freeze --all --exclude-editable | grep -v -E '^(lightrank|pip)=' \
	  | build/lock-venv/bin/python -c "$$LOCK_RUNTIME_FILTER"; } > requirements.lock.new; \
	mv requirements.lock.new requirements.lock; echo "requirements.lock updated"; \
	build/lock-venv/bin/pip install --quiet -r requirements-dev.in; \
	{ sed -n '1,3p' requirements-dev.lock; build/lock-venv/bin/pip freeze --all --exclude-editable | grep -v -E '^(lightrank|pip)=' \
	  | awk -F'==' 'function n(s) { s = tolower(s); gsub(/[-_.]+/, "-", s); return s } \
	    NR == FNR { if ($$0 !~ /^#/) runtime[n($$1)]; next } !(n($$1) in runtime)' requirements.lock -; } > requirements-dev.lock.new; \
	mv requirements-dev.lock.new requirements-dev.lock; rm -rf build/lock-venv; echo "requirements-dev.lock updated"

# Benchmarks (bench/, a distribution of its own with the `lightrank-bench` command): each command appends its table, with machine, packages and
# command, to a part file; the last step assembles BENCHMARKS.md from them. The sample run's pushed
# model and Transform output feed the serving, comparison, training and quality benchmarks; the
# quality table's fair LightGBM finds the run's raw examples in ML Metadata (<root>/metadata.db).
BENCH_PARTS ?= build/bench
BENCH_SAMPLE := runs/bench/sample
BENCH_CATALOG := runs/bench/catalog
BENCH_LARGE_REQUESTS ?= 4300
# The quality tables' catalog: about the size of a real ranking data set's, so that the paired
# bootstrap over its eval requests can tell models apart (800 eval requests, not 48).
BENCH_CATALOG_LARGE := runs/bench/catalog-large
BENCH_CATALOG_LARGE_REQUESTS ?= 4000
BENCH_SECONDS ?= 3
# The search `make bench` runs with the Tuner on both data sets (docs/configuration.md, tuning).
BENCH_TUNING ?= {trials: 8, steps_per_trial: 1500, seed: 0, space: {learning_rate: {min: 0.03, max: 0.3, log: true}, dropout: [0.0, 0.1, 0.2], sparse_embedding_size: [4, 8, 16], mlp_neuron_scale: [3, 4, 5]}}
bench: setup
	@rm -rf $(BENCH_PARTS) && mkdir -p $(BENCH_PARTS)
	$(BENCH) pipeline --requests 430 --root $(BENCH_SAMPLE) --out $(BENCH_PARTS)/pipeline-sample.md
	$(BENCH) serving --model $(BENCH_SAMPLE)/serving --data $(BENCH_SAMPLE)/data \
	  --seconds $(BENCH_SECONDS) --out $(BENCH_PARTS)/serving.md
	$(BENCH) comparators --model $(BENCH_SAMPLE)/serving --data $(BENCH_SAMPLE)/data \
	  --seconds $(BENCH_SECONDS) --out $(BENCH_PARTS)/comparators.md
	$(BENCH) training --transform $(BENCH_SAMPLE)/pipeline/Transform --out $(BENCH_PARTS)/training.md
	$(BENCH) training --transform $(BENCH_SAMPLE)/pipeline/Transform --set model.preset=original \
	  --out $(BENCH_PARTS)/training.md
	# The quality tables on data large enough to tell models apart: the sample at ten times its size
	# (its pipeline run is a benchmark of its own), then the catalog data set at 4,000 requests.
	# Each row is the mean of 3 seeds: one seed moves recall (10, 3) as much as the gaps read here.
	# Both train splits are past the default preset's threshold for its settings for large data
	# (docs/model.md, "Wider ids for large data"); one row turns them off.
	$(BENCH) pipeline --requests $(BENCH_LARGE_REQUESTS) --root runs/bench/large \
	  --out $(BENCH_PARTS)/pipeline-large.md
	$(BENCH) quality --transform runs/bench/large/pipeline/Transform --set metadata.sqlite=runs/bench/large/metadata.db \
	  --variant 'without the settings for large data:model.scale_with_data=false' \
	  --variant 'stop on RCE:model.training.early_stop_metric=rce' --seeds 3 --out $(BENCH_PARTS)/quality.md
	# The catalog data set (docs/sample_data.md), whose signal is mostly in its ids: the data, the
	# config `schema infer` writes for it, one pipeline run, its quality table; first at 4,000
	# requests, then at its default 240 for the one-change-at-a-time and Tuner tables below.
	$(LIGHTRANK) data generate --profile catalog --requests $(BENCH_CATALOG_LARGE_REQUESTS) \
	  --out $(BENCH_CATALOG_LARGE)/data --overwrite
	$(LIGHTRANK) schema infer --data 'train=$(BENCH_CATALOG_LARGE)/data/train/*.gz' \
	  --data 'eval=$(BENCH_CATALOG_LARGE)/data/eval/*.gz' --out $(BENCH_CATALOG_LARGE)/config --name catalog --overwrite
	rm -rf $(BENCH_CATALOG_LARGE)/pipeline $(BENCH_CATALOG_LARGE)/serving $(BENCH_CATALOG_LARGE)/metadata.db
	$(LIGHTRANK) run --config $(BENCH_CATALOG_LARGE)/config/config.yaml --set root=$(BENCH_CATALOG_LARGE)/pipeline \
	  --set serving_dir=$(BENCH_CATALOG_LARGE)/serving --set metadata.sqlite=$(BENCH_CATALOG_LARGE)/metadata.db
	$(BENCH) quality --transform $(BENCH_CATALOG_LARGE)/pipeline/Transform \
	  --config $(BENCH_CATALOG_LARGE)/config/config.yaml --set metadata.sqlite=$(BENCH_CATALOG_LARGE)/metadata.db \
	  --models deepnorm-default lightgbm lightgbm-continuous logistic random \
	  --variant 'without the settings for large data:model.scale_with_data=false' \
	  --variant 'stop on RCE:model.training.early_stop_metric=rce' \
	  --seeds 3 --out $(BENCH_PARTS)/quality-catalog.md
	$(LIGHTRANK) data generate --profile catalog --out $(BENCH_CATALOG)/data --overwrite
	$(LIGHTRANK) schema infer --data 'train=$(BENCH_CATALOG)/data/train/*.gz' \
	  --data 'eval=$(BENCH_CATALOG)/data/eval/*.gz' --out $(BENCH_CATALOG)/config --name catalog --overwrite
	rm -rf $(BENCH_CATALOG)/pipeline $(BENCH_CATALOG)/serving $(BENCH_CATALOG)/metadata.db
	$(LIGHTRANK) run --config $(BENCH_CATALOG)/config/config.yaml --set root=$(BENCH_CATALOG)/pipeline \
	  --set serving_dir=$(BENCH_CATALOG)/serving --set metadata.sqlite=$(BENCH_CATALOG)/metadata.db
	# One change at a time from the default preset (Adagrad 0.1, batch 256, missing sub-branch on,
	# momentum 0.99, at most 6,000 steps): the evidence behind the preset.
	$(BENCH) quality --transform $(BENCH_SAMPLE)/pipeline/Transform \
	  --models deepnorm-default deepnorm-original \
	  --variant 'plain SGD lr 0.1:model.training.optimizer=sgd' \
	  --variant 'Adagrad lr 0.05:model.training.learning_rate=0.05' \
	  --variant 'Adagrad lr 0.2:model.training.learning_rate=0.2' \
	  --variant 'batch 1024:model.training.batch_size=1024' \
	  --variant 'missing sub-branch off:model.deepnorm.use_missing_sub_branch=false' \
	  --variant 'momentum 0.999:model.deepnorm.momentum=0.999' \
	  --variant '3000 steps:model.training.max_steps=3000' \
	  --out $(BENCH_PARTS)/presets.md
	# Early stopping on NRCE against RCE, three seeds each: a seed whose level drifts is what tells them apart.
	$(BENCH) quality --transform $(BENCH_SAMPLE)/pipeline/Transform --set metadata.sqlite=$(BENCH_SAMPLE)/metadata.db \
	  --models deepnorm-default lightgbm --variant 'stop on RCE:model.training.early_stop_metric=rce' \
	  --seeds 3 --out $(BENCH_PARTS)/presets.md
	# The ids one change at a time from the default preset, with each Keras model's serving cost: the
	# evidence behind the default's per-feature bags, FM term and log-scaled floats, on both data sets;
	# the last row is the preset's settings for large data on these small splits, which do not reach them.
	$(BENCH) quality --transform $(BENCH_SAMPLE)/pipeline/Transform --serving-data $(BENCH_SAMPLE)/data \
	  --set metadata.sqlite=$(BENCH_SAMPLE)/metadata.db --models deepnorm-default deepnorm-original lightgbm logistic \
	  --variant 'FM over all pairs:model.deepnorm.fm_all_pairs=true' --variant 'no FM term:model.deepnorm.pairwise=none' \
	  --variant 'one summed bag of 50 (no FM):model.deepnorm.sparse_bags=one,model.deepnorm.sparse_embedding_size=50,model.deepnorm.pairwise=none' \
	  --variant 'raw floats (no log):model.deepnorm.continuous_log=false' \
	  --variant 'embedding 128:model.deepnorm.dense_embedding_size=128' --variant 'dropout 0.2:model.deepnorm.dropout=0.2' \
	  --variant 'one_bag preset:model.preset=one_bag' \
	  --variant 'settings for large data:model.deepnorm.sparse_embedding_size=16,model.deepnorm.fm_embedding_size=16,model.deepnorm.dense_embedding_size=48,model.training.early_stop_patience=5' \
	  --out $(BENCH_PARTS)/ids-sample.md
	$(BENCH) quality --transform $(BENCH_CATALOG)/pipeline/Transform --serving-data $(BENCH_CATALOG)/data/eval \
	  --config $(BENCH_CATALOG)/config/config.yaml --set metadata.sqlite=$(BENCH_CATALOG)/metadata.db \
	  --models deepnorm-default deepnorm-original lightgbm logistic \
	  --variant 'FM user x candidate:model.deepnorm.fm_user_features=viewer_.*,model.deepnorm.fm_candidate_features=item_.*' \
	  --variant 'no FM term:model.deepnorm.pairwise=none' \
	  --variant 'one summed bag of 50 (no FM):model.deepnorm.sparse_bags=one,model.deepnorm.sparse_embedding_size=50,model.deepnorm.pairwise=none' \
	  --variant 'raw floats (no log):model.deepnorm.continuous_log=false' \
	  --variant 'embedding 128:model.deepnorm.dense_embedding_size=128' --variant 'dropout 0.2:model.deepnorm.dropout=0.2' \
	  --variant 'one_bag preset:model.preset=one_bag' \
	  --variant 'settings for large data:model.deepnorm.sparse_embedding_size=16,model.deepnorm.fm_embedding_size=16,model.deepnorm.dense_embedding_size=48,model.training.early_stop_patience=5' \
	  --out $(BENCH_PARTS)/ids-catalog.md
	# The Tuner on both data sets: a run with a tuning section on each root (the data steps from the
	# cache; the tuned model goes to serving-tuned/), then the tuned default beside the untuned one.
	$(LIGHTRANK) run --config pipeline/configs/sample.yaml --set root=$(BENCH_SAMPLE)/pipeline \
	  --set serving_dir=$(BENCH_SAMPLE)/serving-tuned --set metadata.sqlite=$(BENCH_SAMPLE)/metadata.db \
	  --set data.path=$(BENCH_SAMPLE)/data --set 'tuning=$(BENCH_TUNING)'
	$(BENCH) quality --transform $(BENCH_SAMPLE)/pipeline/Transform --set metadata.sqlite=$(BENCH_SAMPLE)/metadata.db \
	  --models deepnorm-default lightgbm logistic \
	  --tuned 'tuned default:$(BENCH_SAMPLE)/pipeline/Tuner/best_hyperparameters' --out $(BENCH_PARTS)/tuning.md
	$(LIGHTRANK) run --config $(BENCH_CATALOG)/config/config.yaml --set root=$(BENCH_CATALOG)/pipeline \
	  --set serving_dir=$(BENCH_CATALOG)/serving-tuned --set metadata.sqlite=$(BENCH_CATALOG)/metadata.db \
	  --set 'tuning=$(BENCH_TUNING)'
	$(BENCH) quality --transform $(BENCH_CATALOG)/pipeline/Transform --config $(BENCH_CATALOG)/config/config.yaml \
	  --set metadata.sqlite=$(BENCH_CATALOG)/metadata.db --models deepnorm-default lightgbm logistic \
	  --tuned 'tuned default:$(BENCH_CATALOG)/pipeline/Tuner/best_hyperparameters' --out $(BENCH_PARTS)/tuning-catalog.md
	# Evaluation speed beside plain serving, on this machine: `lightrank eval` on the large data and
	# the Evaluator of both pipeline runs above, read back from their ML Metadata.
	$(BENCH) evaluation --model $(BENCH_SAMPLE)/serving --data runs/bench/large/data \
	  --evaluator sample=$(BENCH_SAMPLE)/metadata.db --evaluator large=runs/bench/large/metadata.db \
	  --seconds $(BENCH_SECONDS) --out $(BENCH_PARTS)/evaluation.md
	@$(PY) -m lightrank_bench.document --parts-dir $(BENCH_PARTS) --out BENCHMARKS.md

# The image every Vertex AI / Kubeflow task runs (kubeflow/Dockerfile); docs/deploy.md.
IMAGE ?= lightrank-pipeline:latest
image:
	docker build -f kubeflow/Dockerfile -t $(IMAGE) .

clean:
	rm -rf runs build .pytest_cache
