"""Cloud Function entry points (2nd gen, HTTP). Deploy the staged copy of this folder
(deploy/deploy.sh); each target is one function. Every function checks the caller's
Google ID token (see btm_ppa.entrypoints.auth)."""

from __future__ import annotations

import functions_framework
from flask import Request

from btm_ppa.entrypoints.http import (
    handle_ingest_prices,
    handle_refresh,
    handle_scheduled_refresh,
    handle_vlp_register,
)


@functions_framework.http
def refresh(request: Request):
    """Refresh one BESS tab and return its rows 50-62 as JSON."""
    return handle_refresh(request)


@functions_framework.http
def ingest_prices(request: Request):
    """Load Elexon system prices for a range of settlement dates into system_prices."""
    return handle_ingest_prices(request)


@functions_framework.http
def scheduled_refresh(request: Request):
    """Nightly: ingest the latest prices, then refresh every registered spreadsheet."""
    return handle_scheduled_refresh(request)


@functions_framework.http
def vlp_register(request: Request):
    """Rebuild the GB battery BM unit register (VLP status) from Elexon and load it."""
    return handle_vlp_register(request)
