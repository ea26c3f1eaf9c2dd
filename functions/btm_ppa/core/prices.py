"""Energy prices summarised by DUoS band, and which price the energy is bought at."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from btm_ppa.core.vocab import BANDS, DuosBand


class PriceBasis(StrEnum):
    """The price both streams' energy is bought at (the ``price_basis`` cell).

    ``system buy`` is Elexon's imbalance system buy price (what imbalances settle at);
    ``market index`` is Elexon's market index price (MID), the volume-weighted price of
    short-term trading, closer to what a supply contract indexed to traded prices pays.
    """

    SYSTEM_BUY = "system buy"
    MARKET_INDEX = "market index"

    @property
    def column(self) -> str:
        """The ``system_prices`` column that holds this price. [£/MWh]"""
        return {PriceBasis.SYSTEM_BUY: "system_buy_price_gbp_per_mwh",
                PriceBasis.MARKET_INDEX: "market_index_price_gbp_per_mwh"}[self]


@dataclass(frozen=True)
class BandPrices:
    """Average energy price (system buy or MID) of each DUoS band over a price window."""

    average_gbp_per_mwh: Mapping[DuosBand, float | None]  # None: no period in that band
    period_count: Mapping[DuosBand, int]
    window_average_gbp_per_mwh: float

    def weighted_average_gbp_per_mwh(self, volume_mwh: Mapping[DuosBand, float]) -> float | None:
        """Average price weighted by band volumes; None when the volumes are all zero."""
        total = sum(volume_mwh.values())
        if total == 0:
            return None
        return self.cost_gbp(volume_mwh) / total

    def cost_gbp(self, volume_mwh: Mapping[DuosBand, float]) -> float:
        """Cost of band volumes at the band averages. [£]"""
        cost = 0.0
        for band, volume in volume_mwh.items():
            if volume == 0:
                continue
            price = self.average_gbp_per_mwh[band]
            if price is None:
                raise ValueError(f"no {band} periods in the window to price {volume} MWh")
            cost += volume * price
        return cost


def band_average_prices(
    price_gbp_per_mwh: npt.NDArray[np.float64], band_codes: npt.NDArray[np.integer]
) -> BandPrices:
    """Simple mean price of the periods in each band (codes index ``BANDS``).

    Every period counts once, whatever its band; a band with no period has no average.
    """
    prices = np.asarray(price_gbp_per_mwh, dtype=np.float64)
    codes = np.asarray(band_codes)
    if prices.shape != codes.shape or prices.size == 0:
        raise ValueError("need one band code per price, and at least one price")
    sums = np.bincount(codes, weights=prices, minlength=len(BANDS))
    counts = np.bincount(codes, minlength=len(BANDS))
    return BandPrices(
        average_gbp_per_mwh={
            band: (float(sums[i] / counts[i]) if counts[i] else None)
            for i, band in enumerate(BANDS)
        },
        period_count={band: int(counts[i]) for i, band in enumerate(BANDS)},
        window_average_gbp_per_mwh=float(prices.mean()),
    )
