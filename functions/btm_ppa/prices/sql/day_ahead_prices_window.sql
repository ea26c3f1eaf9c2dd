-- Day-ahead auction prices of every settlement period held in a window (dates inclusive).
SELECT
  settlement_date,
  settlement_period,
  day_ahead_price_gbp_per_mwh,
  source
FROM day_ahead_prices
WHERE settlement_date BETWEEN @window_start AND @window_end
ORDER BY settlement_date, settlement_period
