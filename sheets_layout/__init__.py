"""The BESS tab layout as data (``bess.toml``) and its loader.

Code asks this module where a value lives (``layout.input("ppa_price_gbp_per_mwh").cell``)
instead of hard-coding addresses, so a layout change is one edit to ``bess.toml``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from typing import Any

_A1 = re.compile(r"^([A-Z]{1,3})(\d+)$")


class Owner(StrEnum):
    ANALYST = "analyst"
    BACKEND = "backend"
    METHOD = "method"  # analyst under `sheet`, backend under greedy/optimal
    TEMPLATE = "template"


class Kind(StrEnum):
    NUMBER = "number"
    PERCENT = "percent"
    TEXT = "text"
    DATE = "date"


def split_a1(address: str) -> tuple[str, int]:
    """``"B45"`` -> ``("B", 45)``."""
    match = _A1.match(address)
    if not match:
        raise ValueError(f"not an A1 cell address: {address!r}")
    return match.group(1), int(match.group(2))


def column_index(letters: str) -> int:
    """``"A"`` -> 1, ``"AA"`` -> 27."""
    index = 0
    for ch in letters:
        index = index * 26 + ord(ch) - ord("A") + 1
    return index


def column_letters(index: int) -> str:
    """``1`` -> ``"A"``, ``27`` -> ``"AA"``."""
    letters = ""
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def normalise_label(text: object) -> str:
    """Fold case and runs of white space, for label comparison."""
    return " ".join(str(text or "").split()).casefold()


@dataclass(frozen=True)
class CellSpec:
    """One cell the backend reads or writes."""

    key: str
    cell: str
    label_cell: str
    label: str
    unit: str
    owner: Owner
    kind: Kind = Kind.NUMBER
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None  # plausible range, in ``unit``
    minimum_simulated: float | None = None  # greedy/optimal need at least this
    earliest: dt.date | None = None  # dates: plausible range
    latest: dt.date | None = None
    help: str = ""
    since_layout: int = 1  # the layout version that added the cell; older tabs lack it
    choices: tuple[str, ...] = ()  # text: the fixed set of values (a drop-down in the tab)
    choices_from: str | None = None  # text: the set comes from reference data ("gsp_groups")

    def label_matches(self, found: object) -> bool:
        return normalise_label(found).startswith(normalise_label(self.label))


@dataclass(frozen=True)
class BlockRow:
    key: str
    row: int
    label: str
    group: str  # duos | tnuos_bsuos | levies
    band: str | None = None
    rate_input: str | None = None
    since_layout: int = 1  # the layout version that added the row; older tabs lack it


@dataclass(frozen=True)
class Block:
    name: str
    title: str
    label_column: str
    volume_column: str
    cost_column: str
    rate_column: str | None
    volume_max_mwh: float | None = None
    cost_min_gbp: float | None = None
    cost_max_gbp: float | None = None

    def volume_cell(self, row: BlockRow) -> CellSpec:
        return CellSpec(
            key=f"{self.name}.{row.key}.volume_mwh", cell=f"{self.volume_column}{row.row}",
            label_cell=f"{self.label_column}{row.row}", label=row.label, unit="MWh",
            owner=Owner.METHOD, required=row.since_layout == 1, minimum=0.0,
            maximum=self.volume_max_mwh, since_layout=row.since_layout,
        )

    def cost_cell(self, row: BlockRow) -> CellSpec:
        return CellSpec(
            key=f"{self.name}.{row.key}.cost_gbp", cell=f"{self.cost_column}{row.row}",
            label_cell=f"{self.label_column}{row.row}", label=row.label, unit="£",
            owner=Owner.METHOD, required=row.since_layout == 1, minimum=self.cost_min_gbp,
            maximum=self.cost_max_gbp, since_layout=row.since_layout,
        )


@dataclass(frozen=True)
class ResultRow:
    row: int
    key: str
    label: str
    unit: str
    number_format: str
    help: str = ""


@dataclass(frozen=True)
class Anchor:
    cell: str
    text: str


@dataclass(frozen=True)
class BessLayout:
    """The whole BESS tab layout."""

    tab_name: str
    read_range: str
    hh_data_tab: str
    version: int
    anchors: tuple[Anchor, ...]
    inputs: tuple[CellSpec, ...]
    non_bess: Block
    bess: Block
    block_rows: tuple[BlockRow, ...]
    system_buy: dict[str, Any]
    ppa: dict[str, Any]
    result_columns: tuple[str, ...]
    result_headers: tuple[str, ...]
    result_header_row: int
    result_rows: tuple[ResultRow, ...]
    #: The Valuation tab: its name, column headers and number formats.
    valuation: dict[str, Any] = field(default_factory=dict)

    def input(self, key: str) -> CellSpec:
        for spec in self.inputs:
            if spec.key == key:
                return spec
        raise KeyError(key)

    def block_row(self, key: str) -> BlockRow:
        for row in self.block_rows:
            if row.key == key:
                return row
        raise KeyError(key)

    def result_row(self, key: str) -> ResultRow:
        for row in self.result_rows:
            if row.key == key:
                return row
        raise KeyError(key)

    def system_buy_cells(self, block: Block) -> dict[str, CellSpec]:
        """The backend-written average, volume and cost cells of a block's rows 40-42."""
        sb = self.system_buy
        avg_col = sb["non_bess_average_column"] if block is self.non_bess else sb["bess_average_column"]
        lab = block.label_column
        return {
            "average": CellSpec(f"{block.name}.system_buy.average_gbp_per_mwh",
                                f"{avg_col}{sb['average_row']}", f"{lab}{sb['average_row']}",
                                sb["average_label"], "£/MWh", Owner.BACKEND),
            "volume": CellSpec(f"{block.name}.system_buy.volume_mwh",
                               f"{block.volume_column}{sb['volume_row']}",
                               f"{lab}{sb['volume_row']}", sb["volume_label"], "MWh",
                               Owner.BACKEND),
            "cost": CellSpec(f"{block.name}.system_buy.cost_gbp",
                             f"{block.cost_column}{sb['cost_row']}", f"{lab}{sb['cost_row']}",
                             sb["cost_label"], "£", Owner.BACKEND),
        }

    def all_cells(self) -> list[CellSpec]:
        """Every declared cell, for documentation and checks."""
        cells = list(self.inputs)
        for block in (self.non_bess, self.bess):
            for row in self.block_rows:
                cells += [block.volume_cell(row), block.cost_cell(row)]
            cells += list(self.system_buy_cells(block).values())
        return cells


def _block(name: str, raw: dict[str, Any]) -> Block:
    return Block(name=name, title=raw["title"], label_column=raw["label_column"],
                 volume_column=raw["volume_column"], cost_column=raw["cost_column"],
                 rate_column=raw.get("rate_column"), volume_max_mwh=raw.get("volume_max"),
                 cost_min_gbp=raw.get("cost_min"), cost_max_gbp=raw.get("cost_max"))


def parse_layout(raw: dict[str, Any]) -> BessLayout:
    """Build a layout from the parsed TOML document."""
    inputs = tuple(
        CellSpec(key=i["key"], cell=i["cell"], label_cell=i["label_cell"], label=i["label"],
                 unit=i["unit"], owner=Owner.ANALYST, kind=Kind(i["kind"]),
                 required=bool(i.get("required", False)), minimum=i.get("min"),
                 maximum=i.get("max"), minimum_simulated=i.get("min_simulated"),
                 earliest=i.get("earliest"), latest=i.get("latest"),
                 help=i.get("help", ""), since_layout=int(i.get("since_layout", 1)),
                 choices=tuple(i.get("choices", ())), choices_from=i.get("choices_from"))
        for i in raw["inputs"]
    )
    results = raw["results"]
    layout = BessLayout(
        tab_name=raw["tab"]["name"],
        read_range=raw["tab"]["read_range"],
        hh_data_tab=raw["tab"]["hh_data_tab"],
        version=int(raw["tab"]["layout_version"]),
        anchors=tuple(Anchor(a["cell"], a["text"]) for a in raw["anchors"]),
        inputs=inputs,
        non_bess=_block("non_bess", raw["blocks"]["non_bess"]),
        bess=_block("bess", raw["blocks"]["bess"]),
        block_rows=tuple(BlockRow(**r) for r in raw["block_rows"]),
        system_buy=dict(raw["system_buy"]),
        ppa=dict(raw["ppa"]),
        result_columns=tuple(results["columns"]),
        result_headers=tuple(results["headers"]),
        result_header_row=int(results["header_row"]),
        result_rows=tuple(
            ResultRow(row=r["row"], key=r["key"], label=r["label"], unit=r["unit"],
                      number_format=r["format"], help=r.get("help", ""))
            for r in results["rows"]
        ),
        valuation=dict(raw.get("valuation", {})),
    )
    _check_unique_addresses(layout)
    return layout



def _check_unique_addresses(layout: BessLayout) -> None:
    seen: dict[str, str] = {}
    for spec in layout.all_cells():
        split_a1(spec.cell)
        if spec.cell in seen:
            raise ValueError(f"layout declares {spec.cell} twice: {seen[spec.cell]} and {spec.key}")
        seen[spec.cell] = spec.key


@functools.cache
def load_bess_layout() -> BessLayout:
    """The default BESS layout shipped in ``bess.toml``."""
    text = resources.files(__name__).joinpath("bess.toml").read_text(encoding="utf-8")
    return parse_layout(tomllib.loads(text))


# ------------------------------------------------------------------ the Deal tab ----

@dataclass(frozen=True)
class DealInput:
    """One Deal-tab input: label in A, value in B, unit in C, default and source in D."""

    key: str
    row: int
    label: str
    unit: str
    kind: Kind = Kind.NUMBER
    default: float | str | None = None
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    choices: tuple[str, ...] = ()
    source: str = ""

    @property
    def cell(self) -> str:
        return f"B{self.row}"

    @property
    def label_cell(self) -> str:
        return f"A{self.row}"


@dataclass(frozen=True)
class DealLayout:
    tab_name: str
    version: int
    title: str
    intro: str
    header_row: int
    headers: tuple[str, ...]
    max_term_years: int
    inputs: tuple[DealInput, ...]
    fade_table: dict[str, Any]
    results: dict[str, Any]

    def input(self, key: str) -> DealInput:
        for spec in self.inputs:
            if spec.key == key:
                return spec
        raise KeyError(key)


def parse_deal_layout(raw: dict[str, Any]) -> DealLayout:
    tab = raw["tab"]
    inputs = tuple(
        DealInput(key=i["key"], row=int(i["row"]), label=i["label"], unit=i["unit"],
                  kind=Kind(i.get("kind", "number")), default=i.get("default"),
                  minimum=i.get("min"), maximum=i.get("max"), integer=bool(i.get("integer")),
                  choices=tuple(i.get("choices", ())), source=i.get("source", ""))
        for i in raw["inputs"])
    rows = [i.row for i in inputs]
    if len(set(rows)) != len(rows):
        raise ValueError("deal.toml declares an input row twice")
    return DealLayout(tab_name=tab["name"], version=int(tab["layout_version"]),
                      title=tab["title"], intro=tab["intro"], header_row=int(tab["header_row"]),
                      headers=tuple(tab["headers"]), max_term_years=int(tab["max_term_years"]),
                      inputs=inputs, fade_table=dict(raw["fade_table"]),
                      results=dict(raw["results"]))


@functools.cache
def load_deal_layout() -> DealLayout:
    """The Deal tab layout shipped in ``deal.toml``."""
    text = resources.files(__name__).joinpath("deal.toml").read_text(encoding="utf-8")
    return parse_deal_layout(tomllib.loads(text))
