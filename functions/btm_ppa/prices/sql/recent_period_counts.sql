-- Periods held per settlement date over the last week held, to find the last complete day.
SELECT
  settlement_date,
  COUNT(DISTINCT settlement_period) AS period_count
FROM system_prices
WHERE settlement_date >= DATE_SUB((SELECT MAX(settlement_date) FROM system_prices), INTERVAL 7 DAY)
GROUP BY settlement_date
ORDER BY settlement_date
