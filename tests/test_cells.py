import datetime as dt

import pytest

from btm_ppa.errors import InputError
from btm_ppa.sheet import cells


@pytest.mark.parametrize(("raw", "value"), [(150, 150.0), (150.5, 150.5), (" 150 ", 150.0),
                                            ("1.5e3", 1500.0), ("-4.5", -4.5)])
def test_numbers_and_plain_numeric_text_are_read(raw, value):
    assert cells.parse_number("B45", raw, "£/MWh", required=True) == value


def test_text_in_a_number_cell_names_cell_value_and_unit():
    with pytest.raises(InputError) as info:
        cells.parse_number("B45", "£1,2x", "£/MWh", required=True)
    assert str(info.value) == "B45 is text, not a number: found '£1,2x'; expected a number in £/MWh"


def test_blank_required_and_negative_are_refused():
    with pytest.raises(InputError, match=r"B45 is blank: found blank; expected a number in £/MWh"):
        cells.parse_number("B45", None, "£/MWh", required=True)
    assert cells.parse_number("B45", "  ", "£/MWh", required=False) is None
    with pytest.raises(InputError, match=r"B29 is negative.*at least 0"):
        cells.parse_number("B29", -5, "MWh", required=True, minimum=0)
    with pytest.raises(InputError, match="not a number"):
        cells.parse_number("B29", True, "MWh", required=True)


def test_a_formula_without_a_saved_result_is_named():
    with pytest.raises(InputError, match="F17 holds a formula with no saved result"):
        cells.parse_number("F17", "=0.85*100", "%", required=True)


@pytest.mark.parametrize(("raw", "pct"), [(85, 85.0), (0.85, 85.0), (100, 100.0), (1, 100.0),
                                          ("92.5", 92.5)])
def test_efficiency_reads_percent_or_fraction_of_a_percent_cell(raw, pct):
    assert cells.parse_percent("F17", raw, required=True) == pct


@pytest.mark.parametrize("raw", [0, -10, 150, 100.5])
def test_efficiency_outside_0_to_100_is_refused(raw):
    with pytest.raises(InputError, match=r"F17 is outside \(0, 100\] %"):
        cells.parse_percent("F17", raw, required=True)


@pytest.mark.parametrize(
    ("raw", "day"),
    [(dt.date(2023, 1, 31), dt.date(2023, 1, 31)), (dt.datetime(2023, 1, 31, 0, 0), dt.date(2023, 1, 31)),
     (44957, dt.date(2023, 1, 31)), ("2023-01-31", dt.date(2023, 1, 31)),
     ("31/01/2023", dt.date(2023, 1, 31))],
)
def test_dates_from_cells_serials_and_text(raw, day):
    assert cells.parse_date("B20", raw, required=False) == day


def test_a_non_date_is_refused():
    with pytest.raises(InputError, match="B20 is not a date"):
        cells.parse_date("B20", "next spring", required=False)


def test_text_cells_keep_the_digits_of_numbers():
    assert cells.parse_text(1600123456785.0) == "1600123456785"
    assert cells.parse_text("  LV ") == "LV"
    assert cells.parse_text("") is None
