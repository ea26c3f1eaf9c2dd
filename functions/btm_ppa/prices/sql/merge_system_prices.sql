-- Replace the settlement dates first_date..last_date with the staged rows, in one
-- statement: re-running a date replaces it and never duplicates it.
MERGE system_prices AS target
USING system_prices_staging AS staged
ON target.settlement_date = staged.settlement_date
  AND target.settlement_period = staged.settlement_period
WHEN MATCHED THEN UPDATE SET
  start_time = staged.start_time,
  system_sell_price_gbp_per_mwh = staged.system_sell_price_gbp_per_mwh,
  system_buy_price_gbp_per_mwh = staged.system_buy_price_gbp_per_mwh,
  market_index_price_gbp_per_mwh = staged.market_index_price_gbp_per_mwh,
  net_imbalance_volume_mwh = staged.net_imbalance_volume_mwh,
  source = staged.source,
  ingested_at = staged.ingested_at
WHEN NOT MATCHED BY TARGET THEN INSERT (
  settlement_date, settlement_period, start_time, system_sell_price_gbp_per_mwh,
  system_buy_price_gbp_per_mwh, market_index_price_gbp_per_mwh, net_imbalance_volume_mwh,
  source, ingested_at
) VALUES (
  staged.settlement_date, staged.settlement_period, staged.start_time,
  staged.system_sell_price_gbp_per_mwh, staged.system_buy_price_gbp_per_mwh,
  staged.market_index_price_gbp_per_mwh, staged.net_imbalance_volume_mwh, staged.source,
  staged.ingested_at
)
WHEN NOT MATCHED BY SOURCE
  AND target.settlement_date BETWEEN @first_date AND @last_date THEN DELETE
