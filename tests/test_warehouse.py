"""The shared BigQuery SQL on the embedded DuckDB warehouse."""

import datetime as dt

import duckdb
import pytest

from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse, to_duckdb
from btm_ppa.errors import PriceDataError, WarehouseError
from btm_ppa.prices import warehouse as wh


def test_sql_is_bigquery_with_named_parameters_transpiled_for_duckdb():
    bq = wh.read_sql("system_prices_window")
    assert "@window_start" in bq and "$window_start" not in bq
    assert "$window_start" in to_duckdb(bq) and "@window_start" not in to_duckdb(bq)
    assert "PARTITION BY" not in to_duckdb(wh.read_sql("create_system_prices"))


def test_shipped_prices_are_loaded_once_with_the_real_figures(warehouse):
    held = warehouse.query("price_date_range")
    assert held["row_count"].iloc[0] == 17_520 + 24_809
    assert str(held["first_date"].iloc[0])[:10] == "2018-01-01"
    assert str(held["last_date"].iloc[0])[:10] == "2024-05-31"
    year = warehouse.query("system_prices_window",
                           {"window_start": dt.date(2023, 1, 1), "window_end": dt.date(2023, 12, 31)})
    prices = year["system_buy_price_gbp_per_mwh"]
    assert len(year) == 17_518  # 2023-10-29 SP2 and SP3 are missing in the source
    assert (round(prices.mean(), 2), prices.min(), prices.max()) == (94.44, -185.33, 1950.0)
    assert round((prices < 0).mean() * 100, 1) == 4.8


def test_clock_change_days_hold_46_and_50_periods(warehouse):
    days = warehouse.query("system_prices_window",
                           {"window_start": dt.date(2018, 3, 25), "window_end": dt.date(2018, 3, 25)})
    assert days["settlement_period"].max() == 46
    days = warehouse.query("system_prices_window",
                           {"window_start": dt.date(2018, 10, 28), "window_end": dt.date(2018, 10, 28)})
    assert sorted(days["settlement_period"]) == list(range(1, 51))


def test_default_window_is_the_latest_12_complete_months(warehouse):
    # 2024-05-31 stops at SP45, so the last complete day is 2024-05-30.
    assert wh.latest_complete_date(warehouse) == dt.date(2024, 5, 30)
    window = wh.resolve_window(warehouse, None, None, "B20", "B21")
    assert (window.start, window.end) == (dt.date(2023, 5, 31), dt.date(2024, 5, 30))
    window = wh.resolve_window(warehouse, dt.date(2023, 7, 1), None, "B20", "B21")
    assert window.end == dt.date(2024, 5, 30)


def test_window_prices_align_to_expected_periods_and_list_gaps(warehouse):
    w = wh.PriceWindow(dt.date(2023, 10, 29), dt.date(2023, 10, 29), defaulted=False)
    prices = wh.window_prices(warehouse, w, "B20", "B21")
    assert prices.expected_count == 50 and len(prices.present) == 48
    assert prices.missing == [(dt.date(2023, 10, 29), 2), (dt.date(2023, 10, 29), 3)]


def test_empty_and_sparse_windows_are_refused_naming_the_cells(warehouse):
    empty = wh.PriceWindow(dt.date(2020, 1, 1), dt.date(2020, 1, 31), defaulted=False)
    with pytest.raises(PriceDataError, match="B20:B21 price window 2020-01-01 to 2020-01-31"):
        wh.window_prices(warehouse, empty, "B20", "B21")
    sparse = wh.PriceWindow(dt.date(2024, 5, 1), dt.date(2024, 6, 30), defaulted=False)
    with pytest.raises(PriceDataError, match="missing 1,443 of its 2,928"):
        wh.window_prices(warehouse, sparse, "B20", "B21")


def test_warehouse_is_rebuilt_when_the_shipped_data_changes(tmp_path):
    path = tmp_path / "w.duckdb"
    DuckDbWarehouse(path)
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE btm_ppa_meta SET fingerprint = 'stale'")
        con.execute("DELETE FROM system_prices WHERE settlement_date < DATE '2019-01-01'")
    rebuilt = DuckDbWarehouse(path)
    assert rebuilt.query("price_date_range")["row_count"].iloc[0] == 42_329
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]


def test_query_errors_surface_as_warehouse_errors(tmp_path):
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(WarehouseError, match=r"empty.duckdb is damaged \(Catalog Error.*system_prices"
                       r".*delete it to have it rebuilt"):
        DuckDbWarehouse(path, build=False).query("price_date_range")


def test_market_index_prices_are_held_beside_system_prices(warehouse):
    from btm_ppa.core.prices import PriceBasis

    w = wh.PriceWindow(dt.date(2023, 1, 1), dt.date(2023, 12, 31), defaulted=False)
    mid = wh.window_prices(warehouse, w, "B20", "B21", PriceBasis.MARKET_INDEX, "B24")
    # 240 blank MID periods in the 2023 source, plus the two periods missing altogether
    assert len(mid.missing) == 242 and mid.price_column == "market_index_price_gbp_per_mwh"
    assert mid.present["market_index_price_gbp_per_mwh"].notna().all()
    first = mid.frame.iloc[0]
    assert (first["system_buy_price_gbp_per_mwh"], first["market_index_price_gbp_per_mwh"]) == (
        -8.07, 62.48)  # 2023-01-01 SP1 in the shipped CSV
    none = wh.PriceWindow(dt.date(2018, 1, 1), dt.date(2018, 1, 31), defaulted=False)
    with pytest.raises(PriceDataError, match="B24 price basis 'market index'") as caught:
        wh.window_prices(warehouse, none, "B20", "B21", PriceBasis.MARKET_INDEX, "B24")
    assert caught.value.cell == "B24"
    assert len(wh.window_prices(warehouse, none, "B20", "B21").missing) == 0
