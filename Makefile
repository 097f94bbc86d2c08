# coursekit: `make run` builds every unit on toy data, `make test` runs the whole test suite.
# Both create .venv and install the kit into it when needed.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.coursekit-installed
PYTEST_ARGS ?=
# make test runs on this many pytest-xdist workers (each module, and the notebooks, whole in one).
# Workers share the cores, so idle OpenMP threads (PyTorch, implicit) sleep instead of spinning
# (OMP_WAIT_POLICY=PASSIVE: a third less CPU for units 2 and 3 run side by side, same figures).
TEST_WORKERS ?= 2
# Optional: a PyTorch wheel index, e.g. https://download.pytorch.org/whl/cpu for the small CPU build on Linux.
TORCH_INDEX ?=

.PHONY: run test test-fast lab release bench clean install

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(TORCH_INDEX),$(BIN)/python -m pip install --quiet torch==2.13.0 --index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

## run: execute every solution notebook on the toy data and write HTML under build/html
run: $(STAMP)
	$(BIN)/coursekit build

## test: unit tests, the release sync check, browser and sandbox tests and nbval over solutions/
test: $(STAMP)
	@bash .ci/install-browser
	@bash .ci/install-system
	COURSEKIT_STRICT_CHECKS=1 OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest tests solutions \
		--nbval-lax --nbval-current-env -p no:cacheprovider \
		-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

## test-fast: unit tests only (no notebooks)
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow and not real_data and not browser" $(PYTEST_ARGS)

## lab: JupyterLab on the student notebooks, in the same environment
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

## release: regenerate notebooks/ from solutions/
release: $(STAMP)
	$(BIN)/coursekit release

## bench: time the hot paths beside naive references (docs/benchmarks.md)
bench: $(STAMP)
	$(BIN)/coursekit bench --markdown docs/benchmarks.md

clean:
	rm -rf build .pytest_cache
