-- First and last settlement dates held, the same for the market index price, and the
-- row count.
SELECT
  MIN(settlement_date) AS first_date,
  MAX(settlement_date) AS last_date,
  MIN(IF(market_index_price_gbp_per_mwh IS NULL, NULL, settlement_date)) AS first_mid_date,
  MAX(IF(market_index_price_gbp_per_mwh IS NULL, NULL, settlement_date)) AS last_mid_date,
  COUNT(*) AS row_count
FROM system_prices
