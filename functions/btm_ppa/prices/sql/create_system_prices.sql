-- Half-hourly GB system prices, one row per settlement period.
-- BigQuery: partitioned by settlement_date, so re-ingesting a date replaces one partition.
CREATE TABLE IF NOT EXISTS system_prices (
  settlement_date DATE NOT NULL,               -- UK local settlement day
  settlement_period INT64 NOT NULL,            -- 1..46/48/50
  start_time TIMESTAMP NOT NULL,               -- period start, UTC
  system_sell_price_gbp_per_mwh FLOAT64,
  system_buy_price_gbp_per_mwh FLOAT64 NOT NULL,
  market_index_price_gbp_per_mwh FLOAT64,
  net_imbalance_volume_mwh FLOAT64,
  source STRING NOT NULL,                      -- where the row came from
  ingested_at TIMESTAMP NOT NULL
)
PARTITION BY settlement_date
