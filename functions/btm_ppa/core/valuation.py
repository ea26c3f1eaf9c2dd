"""Stream 1 / Stream 2 figures before rounding, and the `sheet` method that makes them.

Stream 1 (direct import) serves site demand straight from the grid; Stream 2 (battery)
serves it from energy charged earlier, whose import cost (levies included) was paid once
on charging, and earns the VLP payment on every MWh discharged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from btm_ppa.core.prices import BandPrices
from btm_ppa.core.vocab import BANDS, DuosBand


@dataclass(frozen=True)
class BlockLine:
    """One row of a cost block."""

    volume_mwh: float
    cost_gbp: float


@dataclass(frozen=True)
class CostBlock:
    """Volumes and costs of one block (non-BESS or BESS), rows 28-37."""

    duos: Mapping[DuosBand, BlockLine]
    tnuos: BlockLine
    bsuos: BlockLine
    ccl: BlockLine
    ro: BlockLine
    fit: BlockLine
    #: CfD + Capacity Market + AAHEDC + Nuclear RAB (row 38); none on a layout before 3.
    other_levies: BlockLine = BlockLine(0.0, 0.0)

    @property
    def band_volume_mwh(self) -> dict[DuosBand, float]:
        return {band: self.duos[band].volume_mwh for band in BANDS}

    @property
    def volume_mwh(self) -> float:
        """Energy imported through this block (sum of the DUoS band volumes). [MWh]"""
        return sum(self.band_volume_mwh.values())

    @property
    def duos_cost_gbp(self) -> float:
        return sum(self.duos[band].cost_gbp for band in BANDS)

    @property
    def tnuos_bsuos_cost_gbp(self) -> float:
        return self.tnuos.cost_gbp + self.bsuos.cost_gbp

    @property
    def levies_cost_gbp(self) -> float:
        """CCL + RO + FiT + the other per-MWh levies (CfD, CM, AAHEDC, Nuclear RAB). [£]"""
        return (self.ccl.cost_gbp + self.ro.cost_gbp + self.fit.cost_gbp
                + self.other_levies.cost_gbp)


@dataclass(frozen=True)
class StreamFigures:
    """Unrounded figures of one stream over the window."""

    volume_mwh: float  # supplied to the site
    ppa_revenue_gbp: float
    vlp_revenue_gbp: float
    energy_cost_gbp: float  # at system buy price
    duos_cost_gbp: float
    tnuos_bsuos_cost_gbp: float
    levies_cost_gbp: float  # CCL + RO + FiT + CfD + CM + AAHEDC + Nuclear RAB


@dataclass(frozen=True)
class SystemBuyLine:
    """Rows 40-42 of one block: volume-weighted average price, volume and cost."""

    average_gbp_per_mwh: float | None
    volume_mwh: float
    cost_gbp: float


@dataclass(frozen=True)
class Valuation:
    stream1: StreamFigures
    stream2: StreamFigures
    non_bess_system_buy: SystemBuyLine
    bess_system_buy: SystemBuyLine


@dataclass(frozen=True)
class SheetMethodInputs:
    """Everything the `sheet` method needs, in model units."""

    non_bess: CostBlock
    bess: CostBlock
    ppa_price_gbp_per_mwh: float
    vlp_payment_gbp_per_mwh: float
    round_trip_efficiency_frac: float  # energy discharged per MWh charged, (0, 1]


def system_buy_line(block: CostBlock, prices: BandPrices) -> SystemBuyLine:
    """Price a block's band volumes at the band-average system buy prices."""
    volumes = block.band_volume_mwh
    cost = prices.cost_gbp(volumes)
    return SystemBuyLine(
        average_gbp_per_mwh=prices.weighted_average_gbp_per_mwh(volumes),
        volume_mwh=block.volume_mwh,
        cost_gbp=cost,
    )


def value_sheet_method(inputs: SheetMethodInputs, prices: BandPrices) -> Valuation:
    """The original tool's arithmetic on the analyst's block volumes and costs.

    Stream 1 = non-BESS volume x PPA - non-BESS costs (system buy priced by band).
    Stream 2 = (charged x round-trip efficiency) x (PPA + VLP) - charging costs.
    """
    nb_buy = system_buy_line(inputs.non_bess, prices)
    bess_buy = system_buy_line(inputs.bess, prices)
    supplied1_mwh = inputs.non_bess.volume_mwh
    discharged_mwh = inputs.bess.volume_mwh * inputs.round_trip_efficiency_frac
    stream1 = StreamFigures(
        volume_mwh=supplied1_mwh,
        ppa_revenue_gbp=supplied1_mwh * inputs.ppa_price_gbp_per_mwh,
        vlp_revenue_gbp=0.0,
        energy_cost_gbp=nb_buy.cost_gbp,
        duos_cost_gbp=inputs.non_bess.duos_cost_gbp,
        tnuos_bsuos_cost_gbp=inputs.non_bess.tnuos_bsuos_cost_gbp,
        levies_cost_gbp=inputs.non_bess.levies_cost_gbp,
    )
    stream2 = StreamFigures(
        volume_mwh=discharged_mwh,
        ppa_revenue_gbp=discharged_mwh * inputs.ppa_price_gbp_per_mwh,
        vlp_revenue_gbp=discharged_mwh * inputs.vlp_payment_gbp_per_mwh,
        energy_cost_gbp=bess_buy.cost_gbp,
        duos_cost_gbp=inputs.bess.duos_cost_gbp,
        tnuos_bsuos_cost_gbp=inputs.bess.tnuos_bsuos_cost_gbp,
        levies_cost_gbp=inputs.bess.levies_cost_gbp,
    )
    return Valuation(stream1, stream2, nb_buy, bess_buy)
