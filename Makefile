# Inductive Bias Lab: every target sets up what it needs, so a fresh clone runs `make run` or
# `make test` directly (needs python3 with venv, and make).

PYTHON ?= python3
VENV ?= .venv
PORT ?= 8501
BIN := $(VENV)/bin

.PHONY: run test bench bench-gpu bench-replicas device-wheels reference venv clean image-test \
	compose-test

run: $(VENV)/.installed-runtime
	$(BIN)/python serve.py --server.port $(PORT) --server.headless true

# Installs the browser, redis-server and caddy the tests start when they are missing (as root on
# Debian; tools/test_packages.sh says what to install otherwise).
test: $(VENV)/.installed-dev
	bash tools/test_packages.sh
	$(BIN)/python -m pytest -q -n 2 tests

# The device bench (kernels, spectra, training, every default view from empty caches) in one table;
# made for a GPU machine, runs on a CPU too (bench/gpu.py says what each row measures).
bench-gpu: $(VENV)/.installed-dev
	PYTHON=$(BIN)/python bash bench/gpu.sh

# The wheel bench/device.sh installs on the device tool's machine, which has JAX's CUDA build but
# no diskcache and no network (carry .whl with the run).
device-wheels: | $(BIN)/python
	$(BIN)/python -m pip download --no-deps --only-binary=:all: -d .whl \
		"$$(grep '^diskcache==' requirements.txt)"

# Kernels against neural-tangents, hypercube and sphere spectra, page load times in Chromium, and
# what each page's default view shows of its paper (bench/papers.py, about 20 minutes on 2 cores).
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/kernels.py
	$(BIN)/python bench/spectra.py
	$(BIN)/python bench/theory.py
	$(BIN)/python bench/training.py
	$(BIN)/python bench/live.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/papers.py

# The deployment of deploy/compose.yaml under load (Redis, two web replicas, a worker, Caddy; 40
# browser sessions on cached views, 4 on new ones) against one embedded server; needs redis-server
# and caddy (apt-get install redis-server caddy). Several minutes on 2 cores.
bench-replicas: $(VENV)/.installed-dev
	$(BIN)/python bench/replicas.py

# neural-tangents lives in its own venv (it pins an old jax); the tool rewrites tests/data/.
reference:
	PYTHON="$(PYTHON)" bash tools/make_nt_venv.sh .nt-venv && .nt-venv/bin/python tools/make_reference.py

venv: $(VENV)/.installed-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamp files: pip runs again only when a requirements file is newer than its stamp. They live in
# the venv, so removing .venv starts over cleanly.
$(VENV)/.installed-runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install -r requirements-dev.txt
	touch $@ $(VENV)/.installed-runtime

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

# Builds the Docker image with podman (no Docker engine needed; root on Debian) and checks it: a
# non-root user with a warmed cache, a read-only root, only port 8501, a health check that fails when
# the app cannot serve, and every page in Chromium; see tools/image_test.sh.
image-test: $(VENV)/.installed-dev
	PYTHON=$(abspath $(BIN)/python) bash tools/image_test.sh

# Runs deploy/compose.yaml for real with podman-compose (Redis, two web replicas, the worker, Caddy;
# stand-ins for the Redis and Caddy images, built from Debian's packages) and checks it through the
# proxy: both replicas used and a cookie kept on one, a new view computed on the worker in Chromium,
# the health checks; then takes it down. See tools/compose_test.sh.
compose-test: $(VENV)/.installed-dev
	PYTHON=$(abspath $(BIN)/python) bash tools/compose_test.sh
