"""The day-ahead series: shipped (N2EX hourly 2015-2020), queryable per settlement period
through the warehouse port on both engines, and loadable with `ingest-prices`."""

import datetime as dt

import pandas as pd
import pytest

from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
from btm_ppa.core import periods
from btm_ppa.entrypoints.cli import main
from btm_ppa.errors import ExitCode
from btm_ppa.prices import schema
from btm_ppa.prices import warehouse as wh
from btm_ppa.prices.ingest import ingest_shipped
from btm_ppa.reference.files import data_path

NOW = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)


def _window(start, end):
    return wh.PriceWindow(start, end, defaulted=False)


def _hourly_file() -> pd.DataFrame:
    path = data_path("gb_dayahead_n2ex_hourly_2014-12-18_2020-12-31.csv.gz")
    with path.open("rb") as fh:
        return pd.read_csv(fh, compression="gzip")


def test_each_hour_prices_both_of_its_periods_and_holes_stay_holes(warehouse):
    frame = wh.day_ahead_prices(warehouse, _window(dt.date(2015, 1, 1), dt.date(2020, 12, 31)))
    assert len(frame) == periods.expected_period_count(dt.date(2015, 1, 1),
                                                       dt.date(2020, 12, 31)) == 105_216
    price = frame.set_index(["settlement_date", "settlement_period"])[wh.DAY_AHEAD_COLUMN]
    hourly = _hourly_file()
    hourly = hourly[hourly["settlementDate"].between("2015-01-02", "2020-12-31")
                    & (hourly["n2exDayAheadPriceGBP"] != 0)]
    keys = [dt.date.fromisoformat(d) for d in hourly["settlementDate"]]
    first = price.loc[list(zip(keys, hourly["settlementPeriod"], strict=True))].to_numpy()
    second = price.loc[list(zip(keys, hourly["settlementPeriod"] + 1, strict=True))].to_numpy()
    assert (first == hourly["n2exDayAheadPriceGBP"].to_numpy()).all()
    assert (second == first).all()
    holes = frame[frame[wh.DAY_AHEAD_COLUMN].isna()]
    text = periods.format_period_ranges(
        zip(holes["settlement_date"], holes["settlement_period"], strict=True), limit=20)
    # SOURCES.md's 80 missing hours, plus the file's whole days at exactly £0.00
    assert text == (
        "2015-01-01 SP1-SP46; 2015-01-10 SP47 to 2015-01-11 SP46; "
        "2015-01-14 SP47 to 2015-01-15 SP46; 2015-12-31 SP1-SP2; "
        "2016-01-23 SP47 to 2016-01-24 SP46; 2016-08-28 SP47 to 2016-08-29 SP46; "
        "2016-11-11 SP47-SP48; 2016-12-31 SP1-SP2; 2017-12-31 SP1-SP2; 2018-12-31 SP1-SP2; "
        "2019-06-07 SP47 to 2019-06-08 SP46; 2019-12-31 SP1-SP2; 2020-12-31 SP1-SP2; "
        "2020-12-31 SP47-SP48")
    assert set(frame["source"].dropna()) == {"N2EX day-ahead via ENTSO-E (shipped)"}


def test_clock_change_days_and_windows_outside_the_series(warehouse):
    for day, count in [(dt.date(2018, 10, 28), 50), (dt.date(2018, 3, 25), 46)]:
        frame = wh.day_ahead_prices(warehouse, _window(day, day))
        assert len(frame) == count and frame[wh.DAY_AHEAD_COLUMN].notna().all()
        assert frame[wh.DAY_AHEAD_COLUMN].iloc[0] == frame[wh.DAY_AHEAD_COLUMN].iloc[1]
    later = wh.day_ahead_prices(warehouse, _window(dt.date(2023, 1, 1), dt.date(2023, 1, 2)))
    assert len(later) == 96 and later[wh.DAY_AHEAD_COLUMN].isna().all()


def test_cli_loads_a_day_ahead_csv_and_refuses_one_without_a_price(tmp_path, capsys):
    path = tmp_path / "w.duckdb"
    csv = tmp_path / "da.csv"
    csv.write_text("settlementDate,settlementPeriod,startTime,dayAheadPrice\n"
                   "2023-06-01,1,2023-05-31T23:00:00Z,80.5\n"
                   "2023-06-01,3,2023-06-01T00:00:00Z,75.25\n", encoding="utf-8")
    assert main(["ingest-prices", "--start", "2023-06-01", "--end", "2023-06-01",
                 "--day-ahead-csv", str(csv), "--warehouse", str(path)]) == ExitCode.OK
    assert "loaded 4 settlement periods of day-ahead prices" in capsys.readouterr().out
    day = wh.day_ahead_prices(DuckDbWarehouse(path),
                              _window(dt.date(2023, 6, 1), dt.date(2023, 6, 1)))
    assert day[wh.DAY_AHEAD_COLUMN].iloc[:4].tolist() == [80.5, 80.5, 75.25, 75.25]
    assert day[wh.DAY_AHEAD_COLUMN].iloc[4:].isna().all()
    bad = tmp_path / "bad.csv"
    bad.write_text("settlementDate,settlementPeriod,startTime,price\n", encoding="utf-8")
    assert main(["ingest-prices", "--start", "2023-06-01", "--end", "2023-06-01",
                 "--day-ahead-csv", str(bad), "--warehouse", str(path)]) == ExitCode.INPUT
    assert "dayAheadPrice" in " ".join(capsys.readouterr().err.split())


def test_bigquery_holds_the_same_day_ahead_series(bq_emulator, warehouse):
    from btm_ppa.adapters.bigquery_warehouse import BigQueryWarehouse

    store = BigQueryWarehouse(bq_emulator.client(), "test-project.day_ahead")
    store.create_tables()
    window = _window(dt.date(2019, 6, 6), dt.date(2019, 6, 9))
    assert wh.day_ahead_prices(store, window)[wh.DAY_AHEAD_COLUMN].isna().all()
    written = ingest_shipped(store, window.start, window.end, now=NOW)
    assert written == {schema.TABLE: 4 * 48, schema.DAY_AHEAD_TABLE: 4 * 48 - 48}
    twice = ingest_shipped(store, window.start, window.end, now=NOW)  # replaced, not added
    assert twice == written
    ours = wh.day_ahead_prices(store, window)
    embedded = wh.day_ahead_prices(warehouse, window)
    pd.testing.assert_series_equal(ours[wh.DAY_AHEAD_COLUMN], embedded[wh.DAY_AHEAD_COLUMN])
    assert ours[wh.DAY_AHEAD_COLUMN].isna().sum() == 48  # 2019-06-07 SP47 .. 06-08 SP46
    prices = wh.window_prices(store, window, "B20", "B21")
    assert prices.expected_count == 4 * 48 and prices.missing == []


@pytest.mark.unit
def test_the_day_ahead_table_has_its_own_generated_ddl_and_merge():
    assert "CREATE TABLE IF NOT EXISTS day_ahead_prices" in wh.read_sql(
        "create_day_ahead_prices")
    merge = wh.read_sql("merge_day_ahead_prices")
    assert "USING day_ahead_prices_staging" in merge
    assert schema.column_names(schema.DAY_AHEAD_TABLE) == (
        "settlement_date", "settlement_period", "start_time", "day_ahead_price_gbp_per_mwh",
        "source", "ingested_at")
