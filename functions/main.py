"""Cloud Function entry points (2nd gen, HTTP). Deploy with ``--source`` set to the
staged copy of this folder (see deploy/); each target is one function."""

from __future__ import annotations

import functions_framework
from flask import Request

from btm_ppa.http import handle_refresh


@functions_framework.http
def refresh(request: Request):
    """Refresh one BESS tab and return its rows 50-62 as JSON."""
    return handle_refresh(request)
