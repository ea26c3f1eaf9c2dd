"""Ctrl-C during an optimal refresh, in each part of the optimiser: the CLI stops with
its one-line message and exit code 130, no traceback, and the workbook is left as it was
(nothing half-written)."""

import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import cell, set_cells

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# The child announces each entry into the part under test, so the signal lands inside it.
CHILD = textwrap.dedent("""
    import sys
    from btm_ppa.core.dispatch import lp, network, optimal, value_function
    from btm_ppa.entrypoints.cli import main

    part, workbook, warehouse = sys.argv[1:4]
    owner, name = {"programme": (value_function, "solve"),
                   "network": (network.FixedModeNetwork, "solve"),
                   "highs": (lp.FixedModeLp, "solve")}[part]
    optimal.USE_NETWORK_SIMPLEX = part != "highs"  # HiGHS: where the C part is missing
    original = getattr(owner, name)

    def announced(*args, **kwargs):
        print("INSIDE", flush=True)
        return original(*args, **kwargs)

    setattr(owner, name, announced)
    sys.exit(main(["refresh", "--workbook", workbook, "--warehouse", warehouse]))
""")


@pytest.mark.parametrize("part", ["programme", "network", "highs"])
def test_ctrl_c_stops_an_optimal_refresh_cleanly(example_xlsx, warehouse, tmp_path, part):
    # The worked example's daily cycle limit binds: programme runs with LPs between.
    set_cells(example_xlsx, {cell("method"): "optimal"})
    before = example_xlsx.read_bytes()
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), part, str(example_xlsx),
                              str(warehouse.path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "INSIDE"
        time.sleep(0.02)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert example_xlsx.read_bytes() == before
