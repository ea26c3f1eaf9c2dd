# Two commands on a fresh machine: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test check lint bench bench-deal deal-charts ctrl-c-sweep clean deployed-tier

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "btm-ppa needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The compiled dynamic programme (a distribution of its own, built from functions/dp_kernel).
KERNEL_STAMP := $(VENV)/.kernel-stamp
$(KERNEL_STAMP): $(STAMP) functions/dp_kernel/btm_ppa_dp.c functions/dp_kernel/network_simplex.c \
		functions/dp_kernel/pyproject.toml functions/dp_kernel/setup.py
	@$(BIN)/python -m pip install --quiet --force-reinstall --no-deps ./functions/dp_kernel \
	  || { echo "WARNING: btm-ppa-dp did not compile (is there a C compiler?): optimal runs" \
	            "its Python form, about 40 times slower; deploy.sh needs it." >&2; \
	       $(BIN)/python -m pip uninstall --quiet --yes btm-ppa-dp; }
	touch $@

setup: $(STAMP) $(KERNEL_STAMP)

demo: setup  ## build the worked example, price it on the embedded warehouse, print rows 50-62
	$(BIN)/btm-ppa demo

# The add-on's type check and node tests need TypeScript and the Apps Script types.
NODE_DEPS := tests/apps_script/node_modules/.package-lock.json
$(NODE_DEPS): tests/apps_script/package-lock.json
	cd tests/apps_script && npm ci --no-audit --no-fund --loglevel=error

# The deploy-tier test installs the locked cloud requirements offline from this wheelhouse.
WHEELHOUSE := build/wheelhouse/.stamp
$(WHEELHOUSE): deploy/requirements-cloud.txt
	$(BIN)/python -m pip download --quiet --require-hashes --no-deps -d build/wheelhouse \
	  -r deploy/requirements-cloud.txt
	touch $@

test: setup $(NODE_DEPS) $(WHEELHOUSE)  ## every test, offline (after the downloads above)
	$(BIN)/python -m pytest

# The deployed functions on their runtime's Python (3.12): the staged source installed as
# the Python buildpack installs it, then the deployed-function tests (tests/deployed_tier.sh).
deployed-tier: setup
	bash tests/deployed_tier.sh

check: setup  ## the unit tier alone (under 30 s), for day-to-day work
	$(BIN)/python -m pytest -m unit -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy functions/btm_ppa sheets_layout

# energypylinear pins older numpy/pandas/rich, so it gets a virtualenv of its own.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed-stamp:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet energypylinear==1.4.1
	touch $@

bench: setup $(BENCH_VENV)/.installed-stamp  ## speed and memory: benchmarks/RESULTS.md, DISTRIBUTION.md, WIDE.md
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/distribution.py --five-year-sites 30
	$(BIN)/python benchmarks/wide.py
	$(BIN)/python benchmarks/import_time.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) build functions/dp_kernel/build .pytest_cache .ruff_cache .mypy_cache .hypothesis

ctrl-c-sweep: setup  ## Ctrl-C at 45 moments of a refresh: exit 130 (or 0), one line, the workbook whole
	$(BIN)/python benchmarks/ctrl_c_sweep.py --moments 45

bench-deal: setup  ## the deal's speed: the whole deal and the 25-size sweep (benchmarks/DEAL.md)
	$(BIN)/python benchmarks/deal.py

# The Deal tab's charts as a human sees them: the worked example with a Deal tab, refreshed,
# printed by LibreOffice (apt-get install libreoffice-calc poppler-utils) to PNG pages.
deal-charts: setup
	@command -v soffice >/dev/null || { echo "needs LibreOffice: apt-get install -y libreoffice-calc poppler-utils" >&2; exit 2; }
	mkdir -p build/deal-charts
	$(BIN)/btm-ppa template --example --force --out build/deal-charts/deal.xlsx
	$(BIN)/python -c 'import sys, openpyxl; p = sys.argv[1]; b = openpyxl.load_workbook(p); b["BESS"]["B22"] = "optimal"; b.save(p)' build/deal-charts/deal.xlsx
	$(BIN)/btm-ppa refresh --workbook build/deal-charts/deal.xlsx
	$(BIN)/python benchmarks/deal_charts.py build/deal-charts/deal.xlsx build/deal-charts
