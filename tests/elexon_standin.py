"""An Elexon Insights stand-in serving /balancing/settlement/system-prices/{date} in the
shape of the published OpenAPI spec, from the shipped price CSV (or synthetic days)."""

from __future__ import annotations

import csv
import datetime as dt

from btm_ppa.core import periods
from btm_ppa.reference.files import data_path
from tests.loopback import LoopbackServer

PREFIX = "/bmrs/api/v1/balancing/settlement/system-prices/"


def _shipped() -> dict[str, list[dict]]:
    days: dict[str, list[dict]] = {}
    with data_path("gb_imbalance_price_b1770_2018.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            days.setdefault(r["settlementDate"], []).append(r)
    return days


def item(day: str, sp: int, start: str, price: float) -> dict:
    return {"settlementDate": day, "settlementPeriod": sp, "startTime": start,
            "createdDateTime": f"{day}T23:59:00Z", "systemSellPrice": price,
            "systemBuyPrice": price, "bsadDefaulted": False, "priceDerivationCode": "P",
            "reserveScarcityPrice": None, "netImbalanceVolume": 123.4,
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
        self.days = _shipped()
        self.route(PREFIX, self._system_prices)

    @property
    def base_url(self) -> str:
        return f"{self.url}/bmrs/api/v1"

    def _system_prices(self, request):
        day = request.path.removeprefix(PREFIX)
        rows = self.days.get(day)
        if rows is None:  # a day not in the file: synthesise a full one
            d = dt.date.fromisoformat(day)
            frame = periods.settlement_periods(d, d)
            data = [item(day, int(sp), ts.strftime("%Y-%m-%dT%H:%M:%SZ"), 50.0 + sp)
                    for sp, ts in zip(frame["settlement_period"], frame["start_time_utc"],
                                      strict=True)]
        else:
            data = [item(day, int(r["settlementPeriod"]), r["startTime"],
                         float(r["systemBuyPrice"])) for r in rows]
        return 200, {"metadata": {"datasets": ["DISEBSP"]}, "data": data}
