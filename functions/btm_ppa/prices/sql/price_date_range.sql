-- First and last settlement dates held, and the row count.
SELECT
  MIN(settlement_date) AS first_date,
  MAX(settlement_date) AS last_date,
  COUNT(*) AS row_count
FROM system_prices
