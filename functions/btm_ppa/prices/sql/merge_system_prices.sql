-- Generated from btm_ppa/prices/schema.py (python -m btm_ppa.prices.schema): do not edit.
-- Replace every settlement period the staged rows hold, and only those: re-running a
-- date replaces it and never duplicates it; periods not staged are kept as held.
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
WHEN NOT MATCHED BY TARGET THEN INSERT (settlement_date, settlement_period, start_time, system_sell_price_gbp_per_mwh, system_buy_price_gbp_per_mwh, market_index_price_gbp_per_mwh, net_imbalance_volume_mwh, source, ingested_at)
  VALUES (staged.settlement_date, staged.settlement_period, staged.start_time, staged.system_sell_price_gbp_per_mwh, staged.system_buy_price_gbp_per_mwh, staged.market_index_price_gbp_per_mwh, staged.net_imbalance_volume_mwh, staged.source, staged.ingested_at)
