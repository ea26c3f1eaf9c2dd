-- Runs of consecutive settlement dates that hold a price on a basis ('system buy' or
-- 'market index'), oldest first: a date is held when any of its periods has that price.
WITH days AS (
  SELECT DISTINCT settlement_date
  FROM system_prices
  WHERE (@basis = 'system buy' AND system_buy_price_gbp_per_mwh IS NOT NULL)
    OR (@basis = 'market index' AND market_index_price_gbp_per_mwh IS NOT NULL)
),
numbered AS (
  SELECT
    settlement_date,
    DATE_SUB(settlement_date,
             INTERVAL CAST(ROW_NUMBER() OVER (ORDER BY settlement_date) AS INT64) DAY) AS run
  FROM days
)
SELECT MIN(settlement_date) AS first_date, MAX(settlement_date) AS last_date
FROM numbered
GROUP BY run
ORDER BY first_date
