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

__version__ = "0.1.0"
