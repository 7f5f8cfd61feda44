# One command serves, one command tests. Both create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install openapi bench clean

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
	$(PY) -m pytest -q

openapi: $(STAMP)
	$(VENV)/bin/bdlopt openapi

clean:
	rm -rf $(VENV) data .pytest_cache
