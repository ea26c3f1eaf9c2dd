"""The BigQuery adapter with the real google-cloud-bigquery client against bqemulator."""

import datetime as dt

import pytest

from btm_ppa.adapters.bigquery_warehouse import BigQueryWarehouse
from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.errors import WarehouseError
from btm_ppa.prices import warehouse as wh
from btm_ppa.refresh import refresh
from tests.price_rows import shipped_rows

WINDOW = {"window_start": dt.date(2023, 4, 1), "window_end": dt.date(2023, 12, 31)}


def test_same_sql_same_numbers_as_the_embedded_warehouse(bq_prices, warehouse):
    ours = bq_prices.query("system_prices_window", WINDOW)
    embedded = warehouse.query("system_prices_window", WINDOW)
    from btm_ppa.core.periods import expected_period_count

    periods = expected_period_count(*WINDOW.values())
    assert len(ours) == len(embedded) == periods
    for column in ("system_buy_price_gbp_per_mwh", "market_index_price_gbp_per_mwh",
                   "net_imbalance_volume_mwh"):
        assert ours[column].count() == embedded[column].count() > 0.9 * periods, column
        assert ours[column].sum() == pytest.approx(embedded[column].sum(), abs=1e-6), column
    assert wh.latest_complete_date(bq_prices) == dt.date(2024, 3, 31)


def test_a_refresh_priced_from_bigquery_matches_the_embedded_one(bq_prices, warehouse,
                                                                example_xlsx, tmp_path):
    import shutil

    other = tmp_path / "copy.xlsx"
    shutil.copy(example_xlsx, other)
    a = refresh(XlsxWorkbook(example_xlsx), bq_prices)
    b = refresh(XlsxWorkbook(other), warehouse)
    assert a.ok and b.ok
    assert a.table == b.table
    assert "BigQuery test-project.btm" in a.prices.note()


def test_reingesting_a_date_replaces_it(bq_prices):
    day = {"window_start": dt.date(2023, 6, 1), "window_end": dt.date(2023, 6, 1)}
    frame = bq_prices.query("system_prices_window", day)
    rows = shipped_rows(dt.date(2023, 6, 1), dt.date(2023, 6, 1))
    rows["system_buy_price_gbp_per_mwh"] += 1.0
    bq_prices.replace_periods(rows)
    bq_prices.replace_periods(rows)  # twice: still one row per period
    again = bq_prices.query("system_prices_window", day)
    assert len(again) == len(frame) == 48
    assert again["system_buy_price_gbp_per_mwh"].sum() == pytest.approx(
        frame["system_buy_price_gbp_per_mwh"].sum() + 48)
    rows["system_buy_price_gbp_per_mwh"] -= 1.0
    bq_prices.replace_periods(rows)


def test_missing_table_is_a_clear_error(bq_emulator):
    store = BigQueryWarehouse(bq_emulator.client(), "test-project.empty_dataset")
    bq_emulator.client().create_dataset("test-project.empty_dataset", exists_ok=True)
    with pytest.raises(WarehouseError, match=r"not found.*deploy/deploy.sh"):
        store.query("price_date_range")


def test_sql_errors_surface(bq_prices):
    with pytest.raises(WarehouseError, match="BigQuery broken failed"):
        bq_prices.run("SELECT no_such_column FROM system_prices", what="broken")


def test_dataset_must_be_project_dot_dataset(bq_emulator):
    with pytest.raises(ValueError, match=r"project\.dataset"):
        BigQueryWarehouse(bq_emulator.client(), "just_a_dataset")


def test_staging_tables_expire(bq_prices, monkeypatch):
    """The staging table is created with an expiration (so one a failed run leaves behind
    goes away) before the load; a normal run deletes it. bqemulator does not keep
    expirationTime, so the request the client sends is what is checked."""
    rows = shipped_rows(dt.date(2023, 6, 1), dt.date(2023, 6, 1))
    client = bq_prices.client
    created = []
    real_create = client.create_table
    monkeypatch.setattr(client, "create_table",
                        lambda table, **kw: created.append(table) or real_create(table, **kw))
    started = dt.datetime.now(dt.UTC)
    bq_prices.replace_periods(rows)
    (table,) = created
    assert table.table_id.startswith("system_prices_staging_")
    assert table.to_api_repr()["expirationTime"]  # sent to BigQuery
    assert started < table.expires <= dt.datetime.now(dt.UTC) + dt.timedelta(hours=6)
    left = [t.table_id for t in client.list_tables(bq_prices.dataset)
            if t.table_id.startswith("system_prices_staging_")]
    assert left == []
