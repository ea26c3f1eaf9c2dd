-- System buy and market index prices and net imbalance volume of every settlement period
-- held in a window (dates inclusive).
SELECT
  settlement_date,
  settlement_period,
  system_buy_price_gbp_per_mwh,
  market_index_price_gbp_per_mwh,
  net_imbalance_volume_mwh,
  source
FROM system_prices
WHERE settlement_date BETWEEN @window_start AND @window_end
ORDER BY settlement_date, settlement_period
