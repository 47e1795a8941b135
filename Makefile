# The README's commands. `make book` sets everything up and builds the book; `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: book install assets test notebooks browser-check colab-check seed-check bench clean

book: install assets
	$(BIN)/jupyter-book build . --all -W -n --keep-going

install: $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt

# The browser libraries the book serves itself (no CDN): the chart library of lrsched.viz and
# MathJax, pinned in web/package-lock.json, installed from the npm registry and copied to
# web/static/vendor (the book's _static/vendor, see html_static_path in _config.yml).
VENDOR  := web/static/vendor
MATHJAX := web/node_modules/mathjax/es5
assets: $(VENDOR)/.done

$(VENDOR)/.done: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/vega $(VENDOR)/mathjax/input/tex $(VENDOR)/mathjax/output/chtml/fonts
	set -e; for lib in vega vega-lite vega-embed; do \
	  cp web/node_modules/$$lib/build/$$lib.min.js web/node_modules/$$lib/package.json $(VENDOR)/vega/; \
	  mv $(VENDOR)/vega/package.json $(VENDOR)/vega/$$lib.package.json; done  # version and license
	cp $(MATHJAX)/tex-chtml.js web/node_modules/mathjax/LICENSE $(VENDOR)/mathjax/
	cp -r $(MATHJAX)/input/tex/extensions $(VENDOR)/mathjax/input/tex/
	cp -r $(MATHJAX)/output/chtml/fonts/woff-v2 $(VENDOR)/mathjax/output/chtml/fonts/
	cp -r $(MATHJAX)/ui $(MATHJAX)/a11y $(VENDOR)/mathjax/
	touch $@

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

test: install
	$(BIN)/pytest -n 2 --dist loadscope

notebooks: install
	$(BIN)/python scripts/execute_notebooks.py

browser-check:
	$(BIN)/python scripts/browser_check.py $(ARGS)

# Every colab/NN_name.ipynb run as in Colab, with Colab's published versions (scripts/colab_check.py).
colab-check:
	$(PYTHON) scripts/colab_check.py $(ARGS)

# Every chapter executed with every lab seed shifted by OFFSET (LRSCHED_SEED_OFFSET, issue 14) into a
# temporary directory -- the committed notebooks are not rewritten; fails if any cell raises.
# ARGS: chapters to run (default all), e.g. ARGS=book/01_why_schedules.ipynb.
OFFSET ?= 1000
seed-check:
	$(BIN)/python scripts/seed_check.py --offset $(OFFSET) $(ARGS)

bench: install
	$(BIN)/python benchmarks/bench_step.py

clean:
	rm -rf _build web/static
