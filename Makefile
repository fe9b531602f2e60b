# Two commands a user needs: `make demo` and `make test`. Each sets up its own environment.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: demo test lint bench bench-gpu reference clean sandbox-tools

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch/torchvision pinned to the builds this project is tested with (CUDA build; runs on CPU too)
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[test,ray]'
	touch $(STAMP)

# bubblewrap sandboxes student kernels (`grader batch` refuses to run without it unless --no-sandbox): installed
# where we can (root with apt-get, as .ci/run does); elsewhere a note, and everything still runs
sandbox-tools:
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; } \
	  || echo "note: bubblewrap is not installed and cannot be installed here (as root: apt-get install bubblewrap)"

# the instructor's view: every assignment's examples graded as a class into one gradebook, then the course page
demo: $(STAMP) sandbox-tools
	rm -rf reports/demo
	@if $(PY) -c "from grader.execution.sandbox import detect; raise SystemExit(detect().bwrap is None)"; then \
	  box=""; else box="--no-sandbox"; echo "no working sandbox (bubblewrap) here: the bundled examples are" \
	  "trusted code, graded with --no-sandbox"; fi; \
	for dir in assignments/*/; do a=$$(basename $$dir); \
	  $(VENV)/bin/grader batch $$dir/examples --assignment $$a --out reports/demo/$$a $$box \
	    --gradebook reports/demo/gradebook.sqlite --no-progress || exit 1; done
	$(VENV)/bin/grader report --out reports/demo
	@echo "open reports/demo/index.html (the course page; each assignment's class page is in reports/demo/<id>/)"

test: $(STAMP) sandbox-tools  # without a sandbox the tests grade their trusted notebooks unsandboxed (tests/conftest.py)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check grader tests assignments
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/probe_overhead.py
	$(PY) benchmarks/grade_speed.py
	$(PY) benchmarks/fast_data.py
	$(PY) benchmarks/cpu_denormals.py --data full --steps 9000 --report 1200
	$(PY) benchmarks/warm_start.py
	$(PY) benchmarks/check_speed.py --rounds 3

bench-gpu: $(STAMP)  # on a GPU machine, about 8 minutes; full MNIST from GRADER_MNIST_DIR
	$(PY) benchmarks/gpu_throughput.py --json benchmarks/results/gpu_throughput.json

reference: $(STAMP)
	$(VENV)/bin/grader reference --data subset --seeds 3

clean:
	rm -rf $(VENV) reports/demo .pytest_cache
