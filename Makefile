# One command serves, one command tests. Both create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install openapi clean distclean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml clients/python/pyproject.toml
	$(PY) -m pip install --quiet -e './clients/python[pandas]' -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/bdlopt serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(PY) -m pytest -q -n 3 --dist loadfile

openapi: $(STAMP)
	$(VENV)/bin/bdlopt openapi

# Build outputs only: the studies, datasets and artifacts under data/ stay.
clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
	@echo "kept data/ (studies, datasets, artifacts); 'make distclean' deletes it too"

distclean: clean
	@echo "deleting data/: every study, trial, dataset and job artifact of the embedded database"
	rm -rf data
