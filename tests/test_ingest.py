"""Price ingestion against a loopback Elexon stand-in, into both warehouses."""

import datetime as dt

import pytest

from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
from btm_ppa.adapters.retry import RetryPolicy
from btm_ppa.entrypoints.cli import main
from btm_ppa.prices.ingest import ElexonClient, ElexonError, ingest_prices, parse_system_prices
from btm_ppa.reference.files import data_path
from tests.elexon_standin import ElexonStandIn, item

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
    assert set(held["source"]) == {"Elexon Insights system-prices"}
    assert report.short_days == []


def test_a_500_then_success(elexon, store):
    elexon.faults.extend([500, 503])
    day = dt.date(2018, 6, 2)
    assert ingest_prices(store, day, day, client=_client(elexon), now=NOW).rows == 48
    assert len(elexon.requests) == 3


def test_persistent_failure_is_a_clear_error(elexon, store):
    elexon.faults.extend([503] * 10)
    client = ElexonClient(base_url=elexon.base_url, policy=RetryPolicy(max_attempts=3,
                                                                        base_delay_s=0.01))
    with pytest.raises(ElexonError, match="failed after retries"):
        ingest_prices(store, dt.date(2018, 6, 3), dt.date(2018, 6, 3), client=client, now=NOW)
    assert len(elexon.requests) == 3


def test_reingesting_never_duplicates(elexon, store):
    day = dt.date(2023, 10, 29)  # the shipped data lacks SP2-3; Elexon serves all 50
    before = _held(store, day)
    assert len(before) == 48
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

    report = ingest_prices(store, day, day, client=OneItem(), now=NOW)  # type: ignore[arg-type]
    assert report.short_days == ["2018-06-04: 1 of 48"]


def test_cli_from_csv_into_the_embedded_warehouse(tmp_path, capsys):
    path = tmp_path / "w.duckdb"
    DuckDbWarehouse(path)
    csv_file = data_path("gb_imbalance_price_b1770_2018.csv")
    assert main(["ingest-prices", "--start", "2018-01-01", "--end", "2018-01-02",
                 "--from-csv", str(csv_file), "--warehouse", str(path)]) == 0
    assert "ingested 96 settlement periods for 2 day(s)" in capsys.readouterr().out
    held = DuckDbWarehouse(path).query("price_date_range")
    assert held["row_count"].iloc[0] == 42_329  # replaced, not added


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
