# The README's commands. `make book` sets everything up and builds the book; `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: book install test notebooks browser-check seed-check bench clean

book: install
	$(BIN)/jupyter-book build . --all -W -n --keep-going

install: $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

test: install
	$(BIN)/pytest -n 2 --dist loadscope

notebooks: install
	$(BIN)/python scripts/execute_notebooks.py

browser-check:
	$(BIN)/python scripts/browser_check.py $(ARGS)

# Every chapter executed with every lab seed shifted by OFFSET (LRSCHED_SEED_OFFSET, issue 14) into a
# temporary directory -- the committed notebooks are not rewritten; fails if any cell raises.
# ARGS: chapters to run (default all), e.g. ARGS=book/01_why_schedules.ipynb.
OFFSET ?= 1000
seed-check:
	$(BIN)/python scripts/seed_check.py --offset $(OFFSET) $(ARGS)

bench: install
	$(BIN)/python benchmarks/bench_step.py

clean:
	rm -rf _build
