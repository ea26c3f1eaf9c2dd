"""The `sheet` method with hand-checkable numbers (seed 004, units corrected)."""

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from btm_ppa.core.prices import BandPrices, band_average_prices
from btm_ppa.core.results import pennies, result_table
from btm_ppa.core.valuation import BlockLine, CostBlock, SheetMethodInputs, value_sheet_method
from btm_ppa.core.vocab import DuosBand

R, A, G = DuosBand.RED, DuosBand.AMBER, DuosBand.GREEN

#: Seed 004's blocks as published (units corrected): (non-BESS MWh, £, BESS MWh, £). The
#: example workbook now carries 2023/24's rates; these hand checks keep the seed's.
SEED_BLOCKS: dict[str, tuple[float, float, float, float]] = {
    "red_duos": (2, 376, 0, 0),
    "amber_duos": (2549, 52254, 362, 7421),
    "green_duos": (2029, 2232, 721, 793),
    "tnuos": (4580, 0, 1083, 0),
    "bsuos": (4580, 20609, 1083, 4874),
    "ccl": (4580, 39203, 1083, 8394),
    "ro": (4580, 66408, 1083, 67047),
    "fit": (4580, 33891, 1083, 12456),
}


def _block(column: int) -> CostBlock:
    line = {k: BlockLine(v[2 * column], v[2 * column + 1]) for k, v in SEED_BLOCKS.items()}
    return CostBlock(duos={R: line["red_duos"], A: line["amber_duos"], G: line["green_duos"]},
                     tnuos=line["tnuos"], bsuos=line["bsuos"], ccl=line["ccl"], ro=line["ro"],
                     fit=line["fit"])


NON_BESS, BESS = _block(0), _block(1)
#: Round band prices so the arithmetic can be done by hand.
PRICES = BandPrices({R: 100.0, A: 50.0, G: 20.0}, {R: 1, A: 1, G: 1}, 60.0)


def _inputs(ppa=150.0, vlp=15.0, rte=0.85, non_bess=NON_BESS, bess=BESS) -> SheetMethodInputs:
    return SheetMethodInputs(non_bess, bess, ppa, vlp, rte)


def test_seed_004_non_bess_costs_before_system_buy_sum_to_214973():
    costs = NON_BESS.duos_cost_gbp + NON_BESS.tnuos_bsuos_cost_gbp + NON_BESS.levies_cost_gbp
    assert costs == 214_973 == 717_778 - 502_805
    assert NON_BESS.volume_mwh == 4_580


def test_stream1_by_hand():
    v = value_sheet_method(_inputs(), PRICES)
    # System buy: 2 x 100 + 2,549 x 50 + 2,029 x 20 = 200 + 127,450 + 40,580.
    assert v.non_bess_system_buy.cost_gbp == 168_230
    assert v.non_bess_system_buy.average_gbp_per_mwh == pytest.approx(168_230 / 4_580)
    t = result_table(v.stream1, v.stream2).stream1
    assert t.ppa_revenue_gbp == Decimal("687000.00")  # 4,580 x 150
    assert t.total_cost_gbp == Decimal("383203.00")  # 168,230 + 214,973
    assert t.profit_gbp == Decimal("303797.00")
    assert t.profit_gbp_per_mwh == Decimal("66.33")  # 303,797 / 4,580 = 66.331...


def test_stream2_by_hand():
    v = value_sheet_method(_inputs(), PRICES)
    t = result_table(v.stream1, v.stream2).stream2
    assert t.volume_mwh == pytest.approx(920.55)  # 1,083 MWh charged x 85 %
    assert t.ppa_revenue_gbp == Decimal("138082.50")  # 920.55 x 150
    assert t.vlp_revenue_gbp == Decimal("13808.25")  # 920.55 x 15
    # System buy 362 x 50 + 721 x 20 = 32,520; DUoS 7,421 + 793; BSUoS 4,874;
    # levies 8,394 + 67,047 + 12,456 = 87,897.
    assert t.energy_cost_gbp == Decimal("32520.00")
    assert t.total_cost_gbp == Decimal("133505.00")
    assert t.profit_gbp == Decimal("18385.75")


def test_total_column_is_the_sum_of_the_streams():
    v = value_sheet_method(_inputs(), PRICES)
    table = result_table(v.stream1, v.stream2)
    assert table.total.profit_gbp == table.stream1.profit_gbp + table.stream2.profit_gbp
    assert table.total.profit_gbp == Decimal("322182.75")


def test_volume_in_a_band_without_prices_is_refused():
    prices = BandPrices({R: None, A: 50.0, G: 20.0}, {R: 0, A: 1, G: 1}, 35.0)
    with pytest.raises(ValueError, match="no red periods"):
        value_sheet_method(_inputs(), prices)


def test_band_average_prices_are_simple_means_per_band():
    prices = np.array([10.0, 20.0, 30.0, 40.0, -5.0])
    codes = np.array([0, 0, 1, 2, 2])
    bp = band_average_prices(prices, codes)
    assert bp.average_gbp_per_mwh == {R: 15.0, A: 30.0, G: 17.5}
    assert bp.period_count == {R: 2, A: 1, G: 2}
    assert bp.window_average_gbp_per_mwh == 19.0
    assert bp.weighted_average_gbp_per_mwh({R: 1.0, A: 0.0, G: 3.0}) == pytest.approx(16.875)


@pytest.mark.parametrize(("amount", "rounded"), [(2.675, "2.68"), (-1.005, "-1.01"),
                                                 (0.004999, "0.00"), (279880.19999999995, "279880.20")])
def test_pennies_round_half_up_from_the_decimal_shown(amount, rounded):
    assert pennies(amount) == Decimal(rounded)


volumes = st.floats(min_value=0, max_value=20_000, allow_nan=False)
money = st.floats(min_value=0, max_value=2_000_000, allow_nan=False)
price = st.floats(min_value=-200, max_value=2_000, allow_nan=False)


@st.composite
def blocks(draw) -> CostBlock:
    lines = [BlockLine(draw(volumes), draw(money)) for _ in range(8)]
    return CostBlock(duos={R: lines[0], A: lines[1], G: lines[2]}, tnuos=lines[3],
                     bsuos=lines[4], ccl=lines[5], ro=lines[6], fit=lines[7])


@given(nb=blocks(), bess=blocks(), ppa=price, vlp=price,
       rte=st.floats(min_value=0.01, max_value=1.0),
       band=st.tuples(price, price, price))
def test_stream1_profit_falls_by_the_volume_when_ppa_falls_by_one_pound(nb, bess, ppa, vlp, rte, band):
    prices = BandPrices({R: band[0], A: band[1], G: band[2]}, {R: 1, A: 1, G: 1}, 0.0)
    high = value_sheet_method(_inputs(ppa, vlp, rte, nb, bess), prices)
    low = value_sheet_method(_inputs(ppa - 1, vlp, rte, nb, bess), prices)
    t_high, t_low = (result_table(v.stream1, v.stream2) for v in (high, low))
    drop = t_high.stream1.profit_gbp - t_low.stream1.profit_gbp
    assert abs(drop - Decimal(repr(nb.volume_mwh))) <= Decimal("0.01")  # one rounding step
    assert t_high.stream2.profit_gbp - t_low.stream2.profit_gbp == pytest.approx(
        Decimal(repr(bess.volume_mwh * rte)), abs=Decimal("0.01"))
    # Costs do not depend on the PPA price.
    assert t_high.stream1.total_cost_gbp == t_low.stream1.total_cost_gbp


@given(nb=blocks(), bess=blocks(), vlp=price, rte=st.floats(min_value=0.01, max_value=1.0))
def test_total_profit_is_stream1_plus_stream2_to_the_penny(nb, bess, vlp, rte):
    prices = BandPrices({R: 120.0, A: 80.0, G: 40.0}, {R: 1, A: 1, G: 1}, 0.0)
    v = value_sheet_method(_inputs(150.0, vlp, rte, nb, bess), prices)
    t = result_table(v.stream1, v.stream2)
    assert t.total.profit_gbp == t.stream1.profit_gbp + t.stream2.profit_gbp
    assert t.total.total_cost_gbp == (t.total.energy_cost_gbp + t.total.duos_cost_gbp
                                      + t.total.tnuos_bsuos_cost_gbp + t.total.levies_cost_gbp)
    assert t.stream1.vlp_revenue_gbp == 0
