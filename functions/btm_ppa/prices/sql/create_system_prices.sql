-- Generated from btm_ppa/prices/schema.py (python -m btm_ppa.prices.schema): do not edit.
-- Half-hourly GB prices, one row per settlement period (about 48 a day). BigQuery
-- partitions by month (daily partitions would hold a few KB each) and clusters on
-- the date, so a window reads only its months' blocks.
CREATE TABLE IF NOT EXISTS system_prices (
  settlement_date DATE NOT NULL,                  -- UK local settlement day
  settlement_period INT64 NOT NULL,               -- 1..46/48/50
  start_time TIMESTAMP NOT NULL,                  -- period start, UTC
  system_sell_price_gbp_per_mwh FLOAT64,          -- system sell price, £/MWh
  system_buy_price_gbp_per_mwh FLOAT64 NOT NULL,  -- system buy price, £/MWh
  market_index_price_gbp_per_mwh FLOAT64,         -- market index price (MID), volume-weighted over the data providers, £/MWh
  net_imbalance_volume_mwh FLOAT64,               -- net imbalance volume, MWh
  source STRING NOT NULL,                         -- where the row came from
  ingested_at TIMESTAMP NOT NULL                  -- when the row was loaded, UTC
)
PARTITION BY DATE_TRUNC(settlement_date, MONTH)
CLUSTER BY settlement_date
