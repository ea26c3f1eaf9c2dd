-- Generated from btm_ppa/prices/schema.py (python -m btm_ppa.prices.schema): do not edit.
-- Replace every settlement date the staged rows hold, and only those: re-running a
-- date replaces it and never duplicates it.
MERGE day_ahead_prices AS target
USING day_ahead_prices_staging AS staged
ON target.settlement_date = staged.settlement_date
  AND target.settlement_period = staged.settlement_period
WHEN MATCHED THEN UPDATE SET
  start_time = staged.start_time,
  day_ahead_price_gbp_per_mwh = staged.day_ahead_price_gbp_per_mwh,
  source = staged.source,
  ingested_at = staged.ingested_at
WHEN NOT MATCHED BY TARGET THEN INSERT (settlement_date, settlement_period, start_time, day_ahead_price_gbp_per_mwh, source, ingested_at)
  VALUES (staged.settlement_date, staged.settlement_period, staged.start_time, staged.day_ahead_price_gbp_per_mwh, staged.source, staged.ingested_at)
WHEN NOT MATCHED BY SOURCE AND target.settlement_date IN (
  SELECT DISTINCT settlement_date FROM day_ahead_prices_staging) THEN DELETE
