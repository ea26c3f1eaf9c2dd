"""The shared BigQuery SQL on the embedded DuckDB warehouse."""

import datetime as dt
import shutil

import duckdb
import pandas as pd
import pytest

from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse, to_duckdb
from btm_ppa.errors import PriceDataError, WarehouseError
from btm_ppa.prices import warehouse as wh


def test_sql_is_bigquery_with_named_parameters_transpiled_for_duckdb():
    bq = wh.read_sql("system_prices_window")
    assert "@window_start" in bq and "$window_start" not in bq
    assert "$window_start" in to_duckdb(bq) and "@window_start" not in to_duckdb(bq)
    assert "PARTITION BY" not in to_duckdb(wh.read_sql("create_system_prices"))


def _window(warehouse, start, end):
    return warehouse.query("system_prices_window", {"window_start": start, "window_end": end})


@pytest.fixture
def gappy(warehouse, tmp_path):
    """A copy of the embedded warehouse with periods deleted, as an ingest might leave it:
    2023-06-10 SP5-SP8 (4: filled), 2023-06-12 SP47 to 2023-06-13 SP2 (4: filled),
    2023-06-20 SP10-SP14 (5: refused)."""
    path = tmp_path / "gappy.duckdb"
    shutil.copy(warehouse.path, path)
    with duckdb.connect(str(path)) as con:
        con.execute("""DELETE FROM system_prices WHERE
            (settlement_date = DATE '2023-06-10' AND settlement_period BETWEEN 5 AND 8)
            OR (settlement_date = DATE '2023-06-12' AND settlement_period >= 47)
            OR (settlement_date = DATE '2023-06-13' AND settlement_period <= 2)
            OR (settlement_date = DATE '2023-06-20' AND settlement_period BETWEEN 10 AND 14)""")
    return DuckDbWarehouse(path)


def test_the_whole_2016_2025_history_is_held_with_net_imbalance_volume(warehouse):
    held = warehouse.query("price_date_range")
    assert held["row_count"].iloc[0] == 157_584
    assert str(held["first_date"].iloc[0])[:10] == "2016-06-06"
    assert str(held["last_date"].iloc[0])[:10] == "2025-06-01"
    every = _window(warehouse, dt.date(2016, 6, 6), dt.date(2025, 6, 1))
    prices = every.set_index(pd.to_datetime(every["settlement_date"]))[
        "system_buy_price_gbp_per_mwh"]
    # Yearly means and extremes as data/SOURCES.md states them for the history file.
    means = prices.groupby(prices.index.year).mean().round(2)
    assert means.loc[2017:2024].tolist() == [45.10, 57.40, 41.89, 34.94, 112.49, 200.08,
                                             94.69, 71.00]
    assert (prices.max(), prices.min()) == (4037.80, -185.33)
    assert prices.index[prices.argmax()].year == 2021
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        niv = con.execute("SELECT COUNT(*), COUNT(net_imbalance_volume_mwh) FROM system_prices"
                          ).fetchone()
    assert niv == (157_584, 157_584)


def test_every_period_of_a_year_is_priced_and_clock_change_days_hold_46_and_50(warehouse):
    year = _window(warehouse, dt.date(2021, 1, 1), dt.date(2021, 12, 31))
    assert len(year) == 17_520 and year["system_buy_price_gbp_per_mwh"].notna().all()
    for day, count in [(dt.date(2023, 10, 29), 50), (dt.date(2023, 3, 26), 46),
                       (dt.date(2018, 10, 28), 50), (dt.date(2018, 3, 25), 46),
                       (dt.date(2024, 3, 31), 46)]:
        held = _window(warehouse, day, day)
        assert sorted(held["settlement_period"]) == list(range(1, count + 1)), day
        window = wh.window_prices(warehouse, wh.PriceWindow(day, day, False), "B20", "B21")
        assert (window.expected_count, window.missing) == (count, [])


def test_the_false_zeros_of_the_detsys_file_are_gone(warehouse):
    day = _window(warehouse, dt.date(2023, 3, 9), dt.date(2023, 3, 9)).set_index(
        "settlement_period")["system_buy_price_gbp_per_mwh"]
    assert (day[47], day[48]) == (131.13, 113.09)  # £0.00 in the DETSYSPRICES file
    # Every £0.00 system price of the DETSYSPRICES file (away from its misnumbered
    # clock-change days) against the warehouse: 152 of them were not zero.
    from btm_ppa.reference.files import data_path

    with data_path("gb_imbalance_price_detsys_2023-01-01_2024-05-31.csv.gz").open("rb") as fh:
        detsys = pd.read_csv(fh, compression="gzip")
    zeros = detsys[(detsys["systemBuyPrice"] == 0) & ~detsys["settlementDate"].isin(
        ["2023-03-26", "2023-10-29", "2024-03-31"])]
    held = _window(warehouse, dt.date(2023, 1, 1), dt.date(2024, 5, 31))
    held = held.assign(settlementDate=held["settlement_date"].astype(str).str[:10])
    joined = zeros.merge(held, left_on=["settlementDate", "settlementPeriod"],
                         right_on=["settlementDate", "settlement_period"])
    assert len(joined) == len(zeros) == 427
    assert (joined["system_buy_price_gbp_per_mwh"] != 0).sum() == 152


def test_default_window_is_the_latest_12_months_held(warehouse):
    assert wh.latest_complete_date(warehouse) == dt.date(2025, 6, 1)
    window = wh.resolve_window(warehouse, None, None, "B20", "B21")
    assert (window.start, window.end, window.defaulted) == (
        dt.date(2024, 6, 2), dt.date(2025, 6, 1), True)
    prices = wh.window_prices(warehouse, window, "B20", "B21")
    assert prices.expected_count == 17_520 and prices.missing == []
    window = wh.resolve_window(warehouse, dt.date(2023, 7, 1), None, "B20", "B21")
    assert window.end == dt.date(2025, 6, 1)


def test_short_gaps_are_filled_linearly_and_listed_as_ranges(gappy, warehouse):
    w = wh.PriceWindow(dt.date(2023, 6, 10), dt.date(2023, 6, 13), defaulted=False)
    prices = wh.window_prices(gappy, w, "B20", "B21")
    assert len(prices.missing) == 8 and len(prices.present) == prices.expected_count == 192
    assert prices.missing_summary() == "2023-06-10 SP5-SP8; 2023-06-12 SP47 to 2023-06-13 SP2"
    column = prices.frame.set_index(["settlement_date", "settlement_period"])[
        "system_buy_price_gbp_per_mwh"]
    day = dt.date(2023, 6, 10)
    before, after = column[(day, 4)], column[(day, 9)]
    assert column[(day, 5)] == pytest.approx(before + (after - before) / 5)
    assert column[(day, 8)] == pytest.approx(before + 4 * (after - before) / 5)
    whole = wh.window_prices(warehouse, w, "B20", "B21").frame
    priced = ~whole.set_index(["settlement_date", "settlement_period"]).index.isin(
        prices.missing)
    assert (prices.frame[priced]["system_buy_price_gbp_per_mwh"]
            == whole[priced]["system_buy_price_gbp_per_mwh"]).all()


def test_a_gap_longer_than_the_limit_is_refused_naming_it_as_a_range(gappy):
    w = wh.PriceWindow(dt.date(2023, 6, 1), dt.date(2023, 6, 30), defaulted=False)
    with pytest.raises(PriceDataError) as caught:
        wh.window_prices(gappy, w, "B20", "B21")
    text = str(caught.value)
    assert "B20:B21 price window 2023-06-01 to 2023-06-30" in text
    assert "runs longer than 4 periods" in text and "(2023-06-20 SP10-SP14)" in text
    assert "2023-06-10" not in text  # the short gaps are not the problem
    assert caught.value.cell == "B20"


def test_a_window_the_warehouse_does_not_hold_lists_the_held_ranges_and_hints_ingest(
        warehouse, tmp_path):
    empty = wh.PriceWindow(dt.date(2026, 1, 1), dt.date(2026, 1, 31), defaulted=False)
    with pytest.raises(PriceDataError) as caught:
        wh.window_prices(warehouse, empty, "B20", "B21")
    text = str(caught.value)
    assert "B20:B21 price window 2026-01-01 to 2026-01-31 has no system prices" in text
    assert "holds 2016-06-06 to 2025-06-01" in text and "btm-ppa ingest-prices" in text
    beyond = wh.PriceWindow(dt.date(2025, 5, 1), dt.date(2025, 6, 30), defaulted=False)
    with pytest.raises(PriceDataError, match=r"\(2025-06-02 SP1 to 2025-06-30 SP48\)"):
        wh.window_prices(warehouse, beyond, "B20", "B21")
    path = tmp_path / "holes.duckdb"
    shutil.copy(warehouse.path, path)
    with duckdb.connect(str(path)) as con:
        con.execute("DELETE FROM system_prices WHERE settlement_date BETWEEN DATE '2019-01-01' "
                    "AND DATE '2022-12-31' OR settlement_date = DATE '2024-02-29'")
    holes = DuckDbWarehouse(path)
    assert wh.held_summary(holes) == ("2016-06-06 to 2018-12-31, 2023-01-01 to 2024-02-28, "
                                      "2024-03-01 to 2025-06-01")
    hole = wh.PriceWindow(dt.date(2020, 1, 1), dt.date(2020, 1, 31), defaulted=False)
    with pytest.raises(PriceDataError, match="holds 2016-06-06 to 2018-12-31, 2023-01-01"):
        wh.window_prices(holes, hole, "B20", "B21")


def test_warehouse_is_rebuilt_when_the_shipped_data_changes(tmp_path):
    path = tmp_path / "w.duckdb"
    DuckDbWarehouse(path)
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE btm_ppa_meta SET fingerprint = 'stale'")
        con.execute("DELETE FROM system_prices WHERE settlement_date < DATE '2019-01-01'")
    rebuilt = DuckDbWarehouse(path)
    assert rebuilt.query("price_date_range")["row_count"].iloc[0] == 157_584
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]


def test_query_errors_surface_as_warehouse_errors(tmp_path):
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(WarehouseError, match="price_date_range failed"):
        DuckDbWarehouse(path, build=False).query("price_date_range")


def test_market_index_prices_are_held_beside_system_prices(warehouse):
    from btm_ppa.core.prices import PriceBasis

    w = wh.PriceWindow(dt.date(2023, 5, 1), dt.date(2023, 7, 31), defaulted=False)
    mid = wh.window_prices(warehouse, w, "B20", "B21", PriceBasis.MARKET_INDEX, "B24")
    assert mid.price_column == "market_index_price_gbp_per_mwh"
    assert mid.present["market_index_price_gbp_per_mwh"].notna().all()
    # DETSYSPRICES 0.0 (no trade) is missing, not £0: every gap here is short and filled
    assert len(mid.missing) > 0 and (mid.frame[mid.price_column] == 0).sum() == 0
    first = wh.window_prices(warehouse, wh.PriceWindow(dt.date(2023, 1, 1), dt.date(2023, 1, 1),
                                                       False), "B20", "B21").frame.iloc[0]
    assert (first["system_buy_price_gbp_per_mwh"], first["market_index_price_gbp_per_mwh"]) == (
        -8.07, 62.48)  # 2023-01-01 SP1 in the shipped CSVs
    apx = wh.window_prices(warehouse, wh.PriceWindow(dt.date(2024, 1, 1), dt.date(2024, 1, 1),
                                                     False), "B20", "B21").frame.iloc[0]
    assert apx["market_index_price_gbp_per_mwh"] == 36.51  # the APXMIDP file from 2024


def test_a_mid_gap_longer_than_the_limit_is_refused_naming_the_basis_cell(warehouse):
    from btm_ppa.core.prices import PriceBasis

    # The DETSYSPRICES file's clock-change days are dropped: no MID on 2023-10-29.
    w = wh.PriceWindow(dt.date(2023, 10, 1), dt.date(2023, 10, 31), defaulted=False)
    with pytest.raises(PriceDataError) as caught:
        wh.window_prices(warehouse, w, "B20", "B21", PriceBasis.MARKET_INDEX, "B24")
    text = str(caught.value)
    assert caught.value.cell == "B24" and text.startswith("B24 price basis 'market index'")
    assert "(2023-10-29 SP1-SP50)" in text
    assert "2023-03-27 to 2023-10-28, 2023-10-30 to 2023-11-11" in text
    none = wh.PriceWindow(dt.date(2018, 1, 1), dt.date(2018, 1, 31), defaulted=False)
    with pytest.raises(PriceDataError, match="B24 price basis 'market index'") as caught:
        wh.window_prices(warehouse, none, "B20", "B21", PriceBasis.MARKET_INDEX, "B24")
    assert "(2018-01-01 SP1 to 2018-01-31 SP48)" in str(caught.value)
    assert len(wh.window_prices(warehouse, none, "B20", "B21").missing) == 0
