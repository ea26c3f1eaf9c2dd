"""The site's agreed import capacity, per-day charges and price basis, from their cells
(``agreed_import_capacity_kva`` ... ``price_basis`` in ``sheets_layout/bess.toml``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from btm_ppa.core.prices import PriceBasis
from btm_ppa.errors import InputError
from btm_ppa.sheet import cells as cellparse
from btm_ppa.sheet.workbook import TabSnapshot
from sheets_layout import BessLayout


@dataclass(frozen=True)
class SiteChargeInputs:
    """A charge left blank is None: looked up where published, else zero."""

    agreed_import_capacity_kva: float | None  # None: no limit, no capacity charge
    power_factor: float  # kW = kVA x power factor; blank = 1
    tnuos_residual_gbp_per_day: float | None
    duos_fixed_gbp_per_day: float | None
    duos_capacity_p_per_kva_day: float | None
    price_basis: PriceBasis


NO_SITE_CHARGES = SiteChargeInputs(None, 1.0, None, None, None, PriceBasis.SYSTEM_BUY)

_PRICE_BASIS_NAMES = {
    "system buy": PriceBasis.SYSTEM_BUY, "system buy price": PriceBasis.SYSTEM_BUY,
    "market index": PriceBasis.MARKET_INDEX, "market index price": PriceBasis.MARKET_INDEX,
    "mid": PriceBasis.MARKET_INDEX,
}


def read_site_charges(layout: BessLayout, snapshot: TabSnapshot, value: Callable[[str], Any],
                      add: Callable[[InputError], None]) -> SiteChargeInputs:
    """Capacity above 0, power factor in (0, 1], a known price basis. ``value`` parses a
    number cell by key (collecting its errors); ``add`` collects an error."""
    capacity = value("agreed_import_capacity_kva")
    if capacity is not None and capacity <= 0:
        spec = layout.input("agreed_import_capacity_kva")
        add(InputError(spec.cell, capacity, "an agreed import capacity above 0 kVA, or blank "
                       "for no limit", "is not positive"))
    factor = value("power_factor")
    if factor is not None and not 0 < factor <= 1:
        spec = layout.input("power_factor")
        add(InputError(spec.cell, factor, "a power factor above 0 and at most 1 (kW = kVA x "
                       "power factor), or blank for 1", "is out of range"))
    basis_spec = layout.input("price_basis")
    text = cellparse.parse_text(snapshot.get(basis_spec.cell))
    basis = PriceBasis.SYSTEM_BUY
    if text is not None:
        found = _PRICE_BASIS_NAMES.get(" ".join(text.split()).casefold())
        if found is None:
            add(InputError(basis_spec.cell, text, "system buy or market index (blank = system "
                           "buy)", "is not a price basis"))
        else:
            basis = found
    return SiteChargeInputs(
        agreed_import_capacity_kva=capacity, power_factor=factor or 1.0,
        tnuos_residual_gbp_per_day=value("tnuos_residual_gbp_per_day"),
        duos_fixed_gbp_per_day=value("duos_fixed_gbp_per_day"),
        duos_capacity_p_per_kva_day=value("duos_capacity_p_per_kva_day"),
        price_basis=basis)
