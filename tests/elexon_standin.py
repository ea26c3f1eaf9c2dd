"""An Elexon Insights stand-in serving /balancing/settlement/system-prices/{date} and
/balancing/pricing/market-index in the shape of the published OpenAPI spec, from the
shipped price CSVs (system prices and net imbalance volume from the 2016-2025 history,
MID from the 2023-24 DETSYSPRICES file, or synthetic days: every period).

Market index: one item per data provider and period (APXMIDP trades; N2EXMIDP reports
price 0 at volume 0, as it does in the real data); ``from`` and ``to`` must be dates,
``to`` inclusive, and periods with no MID in the shipped file are answered with volume 0
from every provider. ``mid_overrides`` sets a day's answer outright (e.g. empty)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip

from btm_ppa.core import periods
from btm_ppa.reference.files import data_path
from tests.loopback import LoopbackServer

PREFIX = "/bmrs/api/v1/balancing/settlement/system-prices/"
MID_PATH = "/bmrs/api/v1/balancing/pricing/market-index"


def _shipped(name: str) -> dict[str, list[dict]]:
    days: dict[str, list[dict]] = {}
    with data_path(name).open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            days.setdefault(r["settlementDate"], []).append(r)
    return days


def mid_items(day: str, sp: int, start: str, price: float | None) -> list[dict]:
    """The two providers' items of one period: APXMIDP at ``price`` (volume 0 if None)."""
    traded = price is not None
    return [{"startTime": start, "dataProvider": "APXMIDP", "settlementDate": day,
             "settlementPeriod": sp, "price": price if traded else 0.0,
             "volume": 1234.5 if traded else 0.0},
            {"startTime": start, "dataProvider": "N2EXMIDP", "settlementDate": day,
             "settlementPeriod": sp, "price": 0.0, "volume": 0.0}]


def item(day: str, sp: int, start: str, price: float, niv: float = 123.4) -> dict:
    return {"settlementDate": day, "settlementPeriod": sp, "startTime": start,
            "createdDateTime": f"{day}T23:59:00Z", "systemSellPrice": price,
            "systemBuyPrice": price, "bsadDefaulted": False, "priceDerivationCode": "P",
            "reserveScarcityPrice": None, "netImbalanceVolume": niv,
            "sellPriceAdjustment": 0.0, "buyPriceAdjustment": 0.0,
            "replacementPrice": None, "replacementPriceReferenceVolume": None,
            "totalAcceptedOfferVolume": 1.0, "totalAcceptedBidVolume": -1.0,
            "totalAdjustmentSellVolume": 0.0, "totalAdjustmentBuyVolume": 0.0,
            "totalSystemTaggedAcceptedOfferVolume": 0.0,
            "totalSystemTaggedAcceptedBidVolume": 0.0,
            "totalSystemTaggedAdjustmentSellVolume": 0.0,
            "totalSystemTaggedAdjustmentBuyVolume": 0.0}


class ElexonStandIn(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.days = _shipped("gb_system_prices_sspsbpniv_2016-06-06_2025-06-01.csv.gz")
        self.mid_days = _shipped("gb_imbalance_price_detsys_2023-01-01_2024-05-31.csv.gz")
        self.mid_overrides: dict[str, list[dict]] = {}
        self.route(PREFIX, self._system_prices)
        self.route(MID_PATH, self._market_index)

    @property
    def base_url(self) -> str:
        return f"{self.url}/bmrs/api/v1"

    def _rows(self, day: str) -> list[dict]:
        rows = self.days.get(day)
        if rows is None:  # a day not in the files: synthesise a full one
            d = dt.date.fromisoformat(day)
            frame = periods.settlement_periods(d, d)
            rows = [{"settlementPeriod": str(sp), "startTime": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "systemBuyPrice": str(50.0 + sp), "marketIndexPrice": str(40.0 + sp)}
                    for sp, ts in zip(frame["settlement_period"], frame["start_time_utc"],
                                      strict=True)]
        return rows

    def _system_prices(self, request):
        day = request.path.removeprefix(PREFIX)
        data = [item(day, int(r["settlementPeriod"]), r["startTime"],
                     float(r["systemBuyPrice"]), float(r.get("netImbalanceVolume") or 123.4))
                for r in self._rows(day)]
        return 200, {"metadata": {"datasets": ["DISEBSP"]}, "data": data}

    def _market_index(self, request):
        try:
            first = dt.date.fromisoformat(request.args["from"])
            last = dt.date.fromisoformat(request.args["to"])
        except (KeyError, ValueError):
            return 400, {"errors": {"from/to": ["dates as yyyy-MM-dd are required"]}}
        if last < first:
            return 400, {"errors": {"to": ["must not be before from"]}}
        data = []
        day = first
        while day <= last:
            key = day.isoformat()
            if key in self.mid_overrides:
                data += self.mid_overrides[key]
            else:
                for r in self.mid_days.get(key) or self._rows(key):
                    mid = r.get("marketIndexPrice") or None
                    data += mid_items(key, int(r["settlementPeriod"]), r["startTime"],
                                      None if mid is None else float(mid))
            day += dt.timedelta(days=1)
        return 200, {"data": data}
