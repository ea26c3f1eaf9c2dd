"""What the tab tells an analyst about each input cell: a drop-down where the values are a
fixed set, a range where they are numbers or dates, and a note (meaning, unit, plausible
range, what a blank means). All of it comes from the layout (``sheets_layout/bess.toml``:
each input's ``help``, ``unit``, ``min``/``max``, ``earliest``/``latest``, ``choices``), so
an input added there is guided too. The template (xlsx) and the Sheets adapter render it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sheets_layout import BessLayout, CellSpec, Kind

#: Reference data a layout's ``choices_from`` may name.
GSP_GROUPS = "gsp_groups"


@dataclass(frozen=True)
class InputGuide:
    """The note and data validation of one input cell. A number or date range is
    inclusive; ``strict`` False lets other values in with a warning (the area accepts ids
    and names in any case, the drop-down lists the names)."""

    cell: str
    title: str  # the label, short enough for a validation prompt's title
    note: str
    kind: Kind
    choices: tuple[str, ...] = ()
    strict: bool = True
    minimum: float | None = None
    maximum: float | None = None
    earliest: dt.date | None = None
    latest: dt.date | None = None

    @property
    def refusal(self) -> str:
        """What the validation says of a value it refuses."""
        if self.choices:
            return f"{self.cell}: expected one of {', '.join(self.choices)}"
        if self.earliest or self.latest:
            return f"{self.cell}: expected a date from {self.earliest} to {self.latest}"
        return f"{self.cell}: expected a number from {_number(self.minimum)} to {_number(self.maximum)}"


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,g}"


def _range_text(spec: CellSpec) -> str:
    if spec.kind is Kind.DATE and (spec.earliest or spec.latest):
        return f"Plausible: {spec.earliest} to {spec.latest}."
    if spec.minimum is None and spec.maximum is None:
        return ""
    unit = "" if spec.unit in ("text", "date", "0-1") else f" {spec.unit}"
    low, high = _number(spec.minimum), _number(spec.maximum)
    text = f"Plausible: {low} to {high}{unit}."
    if spec.minimum_simulated is not None:
        text += f" greedy/optimal need at least {_number(spec.minimum_simulated)}{unit}."
    return text


def note_for(spec: CellSpec, choices: Sequence[str] = ()) -> str:
    """The note of an input cell: what it means, its unit, its plausible range or values,
    and whether it may be left blank (the help text says what a blank means)."""
    unit = "" if spec.unit in ("text", "date") else f" ({spec.unit})"
    parts = [f"{spec.label}{unit}: {spec.help}." if spec.help else f"{spec.label}{unit}."]
    if choices:
        parts.append(f"One of: {', '.join(choices)}.")
    parts.append(_range_text(spec))
    parts.append("Required." if spec.required else "Optional.")
    return " ".join(p for p in parts if p)


def input_guides(layout: BessLayout, area_names: Sequence[str]) -> tuple[InputGuide, ...]:
    """A guide for every input the layout declares, in its order."""
    guides = []
    for spec in layout.inputs:
        choices = tuple(area_names) if spec.choices_from == GSP_GROUPS else spec.choices
        if spec.choices_from not in (None, GSP_GROUPS):
            raise ValueError(f"{spec.key}: unknown choices_from {spec.choices_from!r}")
        minimum, maximum = spec.minimum, spec.maximum
        if spec.kind is Kind.PERCENT and minimum is not None:
            minimum = minimum / 100  # "85%" is stored as 0.85 and read as 85 %
        guides.append(InputGuide(
            cell=spec.cell, title=spec.label[:32], note=note_for(spec, choices), kind=spec.kind,
            choices=choices, strict=spec.choices_from != GSP_GROUPS,
            minimum=None if choices else minimum, maximum=None if choices else maximum,
            earliest=spec.earliest, latest=spec.latest))
    return tuple(guides)


def block_guides(layout: BessLayout) -> tuple[InputGuide, ...]:
    """The cost blocks' cells (B28:C37, G28:H37): inputs under the `sheet` method, written
    by the simulating methods."""
    guides = []
    for block in (layout.non_bess, layout.bess):
        for row in layout.block_rows:
            for spec, what in ((block.volume_cell(row), "volume"), (block.cost_cell(row), "cost")):
                meaning = (f"{block.title}: {row.label} {what}, {spec.unit}. An input under the "
                           "`sheet` method; greedy and optimal write their modelled figure here.")
                guides.append(InputGuide(
                    cell=spec.cell, title=f"{row.label} {what}"[:32],
                    note=f"{meaning} {_range_text(spec)}".strip(), kind=spec.kind,
                    minimum=spec.minimum, maximum=spec.maximum))
    return tuple(guides)


def tab_guides(layout: BessLayout, area_names: Sequence[str]) -> tuple[InputGuide, ...]:
    """Every guide of the tab: the inputs', then the cost blocks'."""
    return input_guides(layout, area_names) + block_guides(layout)
