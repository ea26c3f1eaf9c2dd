"""btm-ppa: value behind-the-meter battery PPA deals from a BESS workbook tab.

Layout of the package (pure core, adapters at the edge):

- ``core``: calculation with numbers and arrays only (no I/O, no clients).
- ``reference``: reads the reference data shipped with the package (DUoS time bands,
  GSP groups) into core objects.
- ``adapters``: workbooks (local .xlsx, Google Sheets) and price warehouses
  (embedded DuckDB, BigQuery).
- ``refresh``: the one use case: read a tab, price it, compute, write results.
- ``cli`` and ``http``: entry points that parse, call ``refresh`` and serialise.
"""

import os

# numpy's bundled OpenBLAS spreads even one dot product over threads. The optimiser's
# vectors (a site-year, 17,520 periods) never gain from that, and on a busy machine it
# loses badly: measured on a shared 2-core machine, 2.5-80 ms a dot product threaded
# against 4 microseconds on one thread. Set before numpy loads; a caller's setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
