#!/usr/bin/env bash
# The deployed tier on the functions' runtime (`make deployed-tier`, called by .ci/run):
#   1. stage the function source as deploy.sh does (deploy.sh --stage-only);
#   2. on Python 3.12 (the runtime's), install it as the Python buildpack does: a fresh
#      environment, `pip install -r requirements.txt` in the source folder (the lock with
#      hashes, and the compiled programme's wheel);
#   3. add the test tooling on top, held to the versions the lock installed;
#   4. run the deployed-function tests (front door, Cloud Tasks, Sheets, BigQuery stand-ins)
#      with the staged source as the functions (BTM_PPA_TEST_FUNCTION_SOURCE).
# It installs what it needs itself (from the package index, with pip's cache); a few
# minutes on 2 cores. PY312 names the interpreter (default: pyenv's 3.12.1, or python3.12).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY312="${PY312:-$HOME/.pyenv/versions/3.12.1/bin/python}"
if [[ ! -x $PY312 ]]; then PY312="$(command -v python3.12 || true)"; fi
if [[ -z $PY312 ]] || ! "$PY312" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then
  echo "deployed tier: no Python 3.12 here (set PY312=/path/to/python3.12)" >&2
  exit 1
fi
OUT="$ROOT/build/py312"
STAGE="$OUT/stage"
VENV="$OUT/venv"
export TMPDIR="${TMPDIR:-$ROOT/.tmp}"
mkdir -p "$TMPDIR" "$OUT"

rm -rf "$STAGE"
STAGE="$STAGE" PYTHON="${PYTHON:-$ROOT/.venv/bin/python}" bash deploy/deploy.sh --stage-only

rm -rf "$VENV"
"$PY312" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# As the buildpack: requirements.txt from the source folder (hash-checking: every line
# has its hashes, so nothing unpinned can come in).
(cd "$STAGE" && "$VENV/bin/python" -m pip install --quiet -r requirements.txt)
"$VENV/bin/python" -m pip freeze --exclude-editable | grep -v '^btm-ppa-dp' > "$OUT/installed.txt"
# Test tooling only (none of it imported by the functions: tests/test_deploy.py proves
# the cloud path needs nothing outside the lock), held to what the lock installed.
"$VENV/bin/python" -m pip install --quiet -c "$OUT/installed.txt" \
  "pytest>=8,<10" "openpyxl>=3.1.5,<3.2" "duckdb==1.5.5" "cryptography>=42" \
  "sqlglot>=30.9,<30.12" "rich>=13,<16" "filelock>=3.13,<5"
if ! diff -q <("$VENV/bin/python" -m pip freeze --exclude-editable | grep -v '^btm-ppa-dp' \
               | grep -F -f <(cut -d= -f1 "$OUT/installed.txt" | sed 's/$/==/')) \
             "$OUT/installed.txt" >/dev/null; then
  echo "deployed tier: the test tooling changed a locked package's version" >&2
  exit 1
fi

# BigQuery's stand-in is a service of its own: the emulator, served by the development
# environment's Python (it needs libraries the functions' lock does not hold).
BQ_PORT="$("$ROOT/.venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$ROOT/.venv/bin/python" -m tests.bq_emulator "$BQ_PORT" > "$OUT/bq_emulator.log" 2>&1 &
BQ_PID=$!
trap 'kill "$BQ_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  grep -q '^ready' "$OUT/bq_emulator.log" && break
  kill -0 "$BQ_PID" 2>/dev/null || { cat "$OUT/bq_emulator.log" >&2; exit 1; }
  sleep 0.5
done
export BTM_PPA_TEST_BQ_ENDPOINT="http://127.0.0.1:$BQ_PORT"

export BTM_PPA_TEST_FUNCTION_SOURCE="$STAGE"
export PYTHONPATH="$STAGE"
"$VENV/bin/python" -P - "$STAGE" <<'PY'
import sys
import btm_ppa, btm_ppa_dp, sheets_layout
stage = sys.argv[1]
assert sys.version_info[:2] == (3, 12), sys.version
assert btm_ppa.__file__.startswith(stage) and sheets_layout.__file__.startswith(stage)
assert not btm_ppa_dp.__file__.startswith(stage)  # from its wheel, installed
print(f"deployed tier: Python {sys.version.split()[0]}, functions from {stage}")
PY
# --import-mode=append: the staged btm_ppa and sheets_layout come first, not the checkout's.
"$VENV/bin/python" -P -m pytest -p no:cacheprovider --import-mode=append -q \
  -m "not slow" tests/test_front_door.py tests/test_cloud_functions.py tests/test_deployed.py "$@"
# The Deal tab's sizing sweep as Cloud Tasks, gathered through BigQuery (slow, but it is the
# deployed path of the deal: run here too, on the runtime's Python).
if (($# == 0)); then
  "$VENV/bin/python" -P -m pytest -p no:cacheprovider --import-mode=append -q \
    "tests/test_sizing_tasks.py::test_a_menu_refresh_fans_the_sizing_out_and_writes_the_sheet_once_all_are_in"
fi
