"""Price ingestion against a loopback Elexon stand-in, into both warehouses."""

import datetime as dt

import pandas as pd
import pytest

from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
from btm_ppa.adapters.elexon import ElexonClient, ElexonError
from btm_ppa.adapters.retry import RetryPolicy
from btm_ppa.entrypoints.cli import main
from btm_ppa.prices.ingest import (
    ingest_prices,
    parse_market_index,
    parse_system_prices,
)
from btm_ppa.reference.files import data_path
from tests.elexon_standin import ElexonStandIn, item
from tests.price_rows import shipped_rows

NOW = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def elexon():
    with ElexonStandIn() as server:
        yield server


@pytest.fixture
def store(tmp_path):
    return DuckDbWarehouse(tmp_path / "w.duckdb")


def _client(server):
    return ElexonClient(base_url=server.base_url,
                        policy=RetryPolicy(base_delay_s=0.01, max_delay_s=0.02))


def _held(store, day):
    return store.query("system_prices_window", {"window_start": day, "window_end": day})


@pytest.mark.parametrize(("day", "count"), [(dt.date(2018, 6, 1), 48), (dt.date(2018, 3, 25), 46),
                                            (dt.date(2018, 10, 28), 50)])
def test_a_day_is_replaced_with_its_periods(elexon, store, day, count):
    report = ingest_prices(store, day, day, client=_client(elexon), now=NOW)
    held = _held(store, day)
    assert report.rows == len(held) == count
    assert sorted(held["settlement_period"]) == list(range(1, count + 1))
    assert set(held["source"]) == {"Elexon Insights system-prices + market-index"}
    assert report.short_days == []


def test_a_500_then_success(elexon, store):
    elexon.faults.extend([500, 503])
    day = dt.date(2018, 6, 2)
    assert ingest_prices(store, day, day, client=_client(elexon), now=NOW).rows == 48
    assert len(elexon.requests) == 4  # two failures, system prices, market index


def test_persistent_failure_is_a_clear_error(elexon, store):
    elexon.faults.extend([503] * 10)
    client = ElexonClient(base_url=elexon.base_url, policy=RetryPolicy(max_attempts=3,
                                                                        base_delay_s=0.01))
    with pytest.raises(ElexonError, match="failed after retries"):
        ingest_prices(store, dt.date(2018, 6, 3), dt.date(2018, 6, 3), client=client, now=NOW)
    assert len(elexon.requests) == 3


def test_reingesting_never_duplicates(elexon, store):
    day = dt.date(2023, 10, 29)  # 50 periods
    before = _held(store, day)
    assert len(before) == 50
    for _ in range(2):
        ingest_prices(store, day, day, client=_client(elexon), now=NOW)
    after = _held(store, day)
    assert len(after) == 50 and after["settlement_period"].is_unique
    assert len(_held(store, day + dt.timedelta(days=1))) == 48  # neighbours untouched


def test_parse_refuses_periods_the_day_cannot_have():
    day = dt.date(2018, 3, 25)  # 46 periods
    with pytest.raises(ElexonError, match="SP47"):
        parse_system_prices(day, {"data": [item("2018-03-25", 47, "2018-03-25T22:00:00Z", 1.0)]},
                            NOW)
    with pytest.raises(ElexonError, match="expected"):
        parse_system_prices(day, [1, 2], NOW)


def test_incomplete_days_are_reported(store):
    day = dt.date(2018, 6, 4)
    payload = {"data": [item("2018-06-04", 1, "2018-06-03T23:00:00Z", 1.0)]}

    class OneItem:
        def get_system_prices(self, d):
            return payload

        def get_market_index(self, d):
            return {"data": []}

    report = ingest_prices(store, day, day, client=OneItem(), now=NOW)  # type: ignore[arg-type]
    assert report.short_days == ["2018-06-04: 1 of 48"]


def test_cli_from_csv_into_the_embedded_warehouse(tmp_path, capsys):
    path = tmp_path / "w.duckdb"
    DuckDbWarehouse(path)
    csv_file = data_path("gb_system_prices_sspsbpniv_2016-06-06_2025-06-01.csv.gz")
    assert main(["ingest-prices", "--start", "2018-01-01", "--end", "2018-01-02",
                 "--from-csv", str(csv_file), "--warehouse", str(path)]) == 0
    assert "ingested 96 settlement periods for 2 day(s)" in capsys.readouterr().out
    held = DuckDbWarehouse(path).query("price_date_range")
    assert held["row_count"].iloc[0] == 157_584  # replaced, not added


def test_cli_from_elexon(elexon, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BTM_PPA_ELEXON_URL", elexon.base_url)
    path = tmp_path / "w.duckdb"
    assert main(["ingest-prices", "--start", "2025-01-01", "--end", "2025-01-01",
                 "--warehouse", str(path)]) == 0
    assert len(_held(DuckDbWarehouse(path), dt.date(2025, 1, 1))) == 48


def test_bigquery_ingestion_is_idempotent(elexon, bq_prices):
    day = dt.date(2018, 10, 28)
    for _ in range(2):
        ingest_prices(bq_prices, day, day, client=_client(elexon), now=NOW)
    held = bq_prices.query("system_prices_window", {"window_start": day, "window_end": day})
    assert len(held) == 50 and held["settlement_period"].is_unique


def test_market_index_is_the_volume_weighted_price_of_the_providers_that_traded():
    day = dt.date(2023, 6, 1)
    payload = {"data": [
        {"settlementDate": "2023-06-01", "settlementPeriod": 1, "dataProvider": "APXMIDP",
         "startTime": "2023-05-31T23:00:00Z", "price": 80.0, "volume": 300.0},
        {"settlementDate": "2023-06-01", "settlementPeriod": 1, "dataProvider": "N2EXMIDP",
         "startTime": "2023-05-31T23:00:00Z", "price": 100.0, "volume": 100.0},
        {"settlementDate": "2023-06-01", "settlementPeriod": 2, "dataProvider": "APXMIDP",
         "startTime": "2023-05-31T23:30:00Z", "price": 0.0, "volume": 0.0},
        {"settlementDate": "2023-06-02", "settlementPeriod": 1, "dataProvider": "APXMIDP",
         "startTime": "2023-06-01T23:00:00Z", "price": 999.0, "volume": 5.0},
    ]}
    # SP1: (80 x 300 + 100 x 100) / 400 = 85; SP2: nobody traded; the next day is dropped.
    assert parse_market_index(day, payload) == {1: 85.0, 2: None}
    with pytest.raises(ElexonError, match="malformed"):
        parse_market_index(day, {"data": [{"settlementDate": "2023-06-01"}]})


def test_mid_is_stored_beside_system_prices_and_blank_where_elexon_has_none(elexon, store):
    day = dt.date(2023, 6, 1)
    report = ingest_prices(store, day, day, client=_client(elexon), now=NOW)
    held = _held(store, day)
    shipped = pd.read_csv(data_path("gb_imbalance_price_detsys_2023-01-01_2024-05-31.csv.gz"))
    shipped = shipped[shipped["settlementDate"] == "2023-06-01"]
    assert held["market_index_price_gbp_per_mwh"].to_numpy() == pytest.approx(
        shipped["marketIndexPrice"].to_numpy(), nan_ok=True)
    assert report.missing_mid == int(shipped["marketIndexPrice"].isna().sum())
    elexon.mid_overrides["2023-06-02"] = []  # Elexon answers with no MID for a day
    report = ingest_prices(store, day + dt.timedelta(days=1), day + dt.timedelta(days=1),
                           client=_client(elexon), now=NOW)
    assert report.missing_mid == 48
    assert "48 period(s) without a market index price" in report.summary()


def test_an_empty_answer_never_erases_a_held_day(store):
    """One empty Elexon answer in a range: that day keeps what was held."""
    first, empty_day = dt.date(2023, 6, 1), dt.date(2023, 6, 2)
    before = _held(store, empty_day)
    assert len(before) == 48

    class EmptySecondDay:
        def get_system_prices(self, d):
            if d == empty_day:
                return {"data": []}
            return {"data": [item(d.isoformat(), sp, "2023-05-31T23:00:00Z", 7.0)
                             for sp in range(1, 49)]}

        def get_market_index(self, d):
            return {"data": []}

    report = ingest_prices(store, first, empty_day, client=EmptySecondDay(),  # type: ignore[arg-type]
                           now=NOW)
    assert report.short_days == ["2023-06-02: 0 of 48"]
    assert (_held(store, first)["system_buy_price_gbp_per_mwh"] == 7.0).all()
    kept = _held(store, empty_day)
    assert kept["system_buy_price_gbp_per_mwh"].tolist() == before[
        "system_buy_price_gbp_per_mwh"].tolist()


def test_bigquery_keeps_a_day_the_new_data_lacks(bq_prices):
    days = {"window_start": dt.date(2023, 7, 1), "window_end": dt.date(2023, 7, 2)}
    before = bq_prices.query("system_prices_window", days)
    rows = shipped_rows(dt.date(2023, 7, 1), dt.date(2023, 7, 1))
    rows["system_buy_price_gbp_per_mwh"] = 1.0
    bq_prices.replace_days(rows)  # holds 1 July only
    after = bq_prices.query("system_prices_window", days)
    assert len(after) == len(before) == 96
    by_day = after.groupby(after["settlement_date"].astype(str))["system_buy_price_gbp_per_mwh"]
    assert by_day.sum()["2023-07-01"] == 48.0
    second = before[before["settlement_date"].astype(str) == "2023-07-02"]
    assert by_day.sum()["2023-07-02"] == pytest.approx(second["system_buy_price_gbp_per_mwh"].sum())
    bq_prices.replace_days(shipped_rows(dt.date(2023, 7, 1), dt.date(2023, 7, 1)))


def test_bigquery_stores_mid_beside_system_prices(elexon, bq_emulator):
    from btm_ppa.adapters.bigquery_warehouse import BigQueryWarehouse

    store = BigQueryWarehouse(bq_emulator.client(), "test-project.mid_ingest")
    store.create_tables()
    day = dt.date(2024, 2, 1)
    report = ingest_prices(store, day, day, client=_client(elexon), now=NOW)
    held = store.query("system_prices_window", {"window_start": day, "window_end": day})
    shipped = pd.read_csv(data_path("gb_imbalance_price_detsys_2023-01-01_2024-05-31.csv.gz"))
    shipped = shipped[shipped["settlementDate"] == "2024-02-01"]
    assert report.rows == len(held) == 48
    assert held.sort_values("settlement_period")["market_index_price_gbp_per_mwh"].to_numpy() == (
        pytest.approx(shipped["marketIndexPrice"].to_numpy(), nan_ok=True))


def test_an_offline_fetch_says_it_is_retrying_and_why():
    """Nothing listens on the port: each retry is told (a logged warning by default) with
    its reason before the pause, and the final error says the address could not be
    reached."""
    import socket

    with socket.socket() as probe:  # a free local port, then closed: connections refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pauses: list[float] = []
    retries: list[str] = []
    client = ElexonClient(base_url=f"http://127.0.0.1:{port}/bmrs/api/v1",
                          policy=RetryPolicy(max_attempts=3, sleep=pauses.append),
                          notify=retries.append)
    with pytest.raises(ElexonError, match="failed after retries: cannot connect"):
        client.get_system_prices(dt.date(2025, 1, 1))
    assert len(retries) == len(pauses) == 2
    assert "cannot connect (offline" in retries[0] and "retrying in" in retries[0]
    assert retries[0].endswith("(attempt 2 of 3)") and retries[1].endswith("(attempt 3 of 3)")
    from unittest import mock

    from btm_ppa.adapters import elexon as elexon_module

    with mock.patch.object(elexon_module.log, "warning") as warning:  # the default: a warning
        ElexonClient().notify("retrying in 1.0 s")
    warning.assert_called_once_with("%s", "retrying in 1.0 s")
