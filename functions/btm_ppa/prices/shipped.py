"""The price history shipped with the package, as ``system_prices`` rows.

The rules that turn the shipped files (``btm_ppa/data``, origins in its README) into one
half-hourly history live here, once:

- system sell/buy prices and net imbalance volume: the Elexon SSP/SBP/NIV history,
  2016-06-06 SP1 .. 2025-06-01 SP48, every period (46/50 on clock-change days);
- market index price (MID): 2023 from the DETSYSPRICES file, with its three clock-change
  days dropped (their periods are numbered two off there) and 0.0 read as missing (no
  trade is no price); 2024 on from the APXMIDP file, a period with no traded volume read
  as missing. The DETSYSPRICES file's system prices are not used (they hold false zeros);
- nothing else: a period without a MID is NULL, never 0;
- the day-ahead series (``day_ahead_prices``): the N2EX hourly auction price 2014-12-18
  .. 2020-12-31, each hour's price on both of its settlement periods; the hours the file
  lacks stay holes, and so do its six whole days at £0.00 (Dec 2014 - Jan 2015: no
  auction data, not a price).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from btm_ppa.prices import schema
from btm_ppa.prices.ingest import day_ahead_rows
from btm_ppa.prices.warehouse import MID_SOURCE_SEPARATOR
from btm_ppa.reference import files as reference

SYSTEM_PRICES_FILE = "gb_system_prices_sspsbpniv_2016-06-06_2025-06-01.csv.gz"
MID_DETSYS_FILE = "gb_imbalance_price_detsys_2023-01-01_2024-05-31.csv.gz"
MID_APXMIDP_FILE = "gb_market_index_price_apxmidp_2024-01-01_2025-06-05.csv.gz"
DAY_AHEAD_FILE = "gb_dayahead_n2ex_hourly_2014-12-18_2020-12-31.csv.gz"

#: The DETSYSPRICES file's MID is used for these settlement dates only (2024 on: APXMIDP).
DETSYS_MID_DATES = (dt.date(2023, 1, 1), dt.date(2023, 12, 31))
#: Its clock-change days: settlement periods numbered two off, so dropped.
DETSYS_BAD_DAYS = (dt.date(2023, 3, 26), dt.date(2023, 10, 29), dt.date(2024, 3, 31))

#: Source labels stored with the rows (row 61 lists those of a window's basis price).
SOURCE_SYSTEM = "Elexon SSP/SBP/NIV (shipped)"
SOURCE_WITH_DETSYS_MID = f"{SOURCE_SYSTEM}{MID_SOURCE_SEPARATOR}Elexon DETSYSPRICES (shipped)"
SOURCE_WITH_APXMIDP_MID = f"{SOURCE_SYSTEM}{MID_SOURCE_SEPARATOR}Elexon MID APXMIDP (shipped)"
SOURCE_DAY_AHEAD = "N2EX day-ahead via ENTSO-E (shipped)"

#: The day-ahead file fills six whole (CET) days of Dec 2014 - Jan 2015 with £0.00: a run
#: of this many hours or more at exactly £0.00 is no price (single £0 hours are real).
DAY_AHEAD_FALSE_ZERO_HOURS = 6

#: Every shipped price file, for the embedded warehouse's fingerprint.
FILES = (SYSTEM_PRICES_FILE, MID_DETSYS_FILE, MID_APXMIDP_FILE, DAY_AHEAD_FILE)

_KEY = ["settlementDate", "settlementPeriod"]


def _read(name: str, columns: list[str]) -> pd.DataFrame:
    with reference.data_path(name).open("rb") as fh:
        return pd.read_csv(fh, compression="gzip", usecols=columns)


def detsys_mid() -> pd.DataFrame:
    """2023's MID from the DETSYSPRICES file (settlementDate, settlementPeriod,
    marketIndexPrice), clock-change days dropped, 0.0 and blanks left out. [£/MWh]"""
    raw = _read(MID_DETSYS_FILE, [*_KEY, "marketIndexPrice"])
    day = pd.to_datetime(raw["settlementDate"]).dt.date
    keep = ((day >= DETSYS_MID_DATES[0]) & (day <= DETSYS_MID_DATES[1])
            & ~day.isin(DETSYS_BAD_DAYS)
            & raw["marketIndexPrice"].notna() & (raw["marketIndexPrice"] != 0.0))
    return raw[keep]


def apxmidp_mid() -> pd.DataFrame:
    """MID from the APXMIDP file (2024-01-01 on), periods with no traded volume left
    out. [£/MWh]"""
    raw = _read(MID_APXMIDP_FILE, [*_KEY, "marketIndexPrice", "marketIndexVolume"])
    keep = raw["marketIndexPrice"].notna() & (raw["marketIndexVolume"] > 0)
    return raw.loc[keep, [*_KEY, "marketIndexPrice"]]


def system_prices(ingested_at: dt.datetime) -> pd.DataFrame:
    """The whole shipped history as ``system_prices`` rows (``prices.schema`` columns)."""
    prices = _read(SYSTEM_PRICES_FILE, [*_KEY, "startTime", "systemSellPrice",
                                        "systemBuyPrice", "netImbalanceVolume"])
    detsys, apx = detsys_mid(), apxmidp_mid()
    mid = pd.concat([detsys.assign(_mid_source=SOURCE_WITH_DETSYS_MID),
                     apx.assign(_mid_source=SOURCE_WITH_APXMIDP_MID)], ignore_index=True)
    merged = prices.merge(mid, on=_KEY, how="left", validate="one_to_one")
    rows = merged.rename(columns=schema.ELEXON_FIELD_MAP).assign(
        source=merged["_mid_source"].fillna(SOURCE_SYSTEM),
        start_time=pd.to_datetime(merged["startTime"], utc=True, format="ISO8601"),
        settlement_date=pd.to_datetime(merged["settlementDate"], format="%Y-%m-%d"),
        ingested_at=pd.Timestamp(ingested_at))
    return schema.conform(rows.drop(columns="_mid_source"))


def day_ahead_prices(ingested_at: dt.datetime) -> pd.DataFrame:
    """The shipped day-ahead series as ``day_ahead_prices`` rows."""
    raw = _read(DAY_AHEAD_FILE, [*_KEY, "startTime", "n2exDayAheadPriceGBP"])
    price = raw["n2exDayAheadPriceGBP"]
    zero = price == 0.0
    run_id = (zero != zero.shift()).cumsum()
    run_length = zero.groupby(run_id).transform("size")
    return day_ahead_rows(raw[~(zero & (run_length >= DAY_AHEAD_FALSE_ZERO_HOURS))],
                          SOURCE_DAY_AHEAD, ingested_at)
