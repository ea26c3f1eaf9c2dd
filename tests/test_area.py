import pytest

from btm_ppa.core.area import mpan_check_digit
from btm_ppa.errors import InputError
from btm_ppa.reference import files as reference
from btm_ppa.sheet.area import parse_mpan_core, resolve_area

GROUPS = reference.read_gsp_groups()


def test_check_digit_matches_a_published_example():
    # "1312345678907" is the core of the worked example in the limejump `mpan` docs.
    assert mpan_check_digit("131234567890") == 7
    assert parse_mpan_core("B6", "13 1234 5678 907") == "1312345678907"


def test_a_wrong_check_digit_is_refused_with_the_right_one():
    with pytest.raises(InputError, match=r"B6 fails the MPAN check digit.*\(7 for these"):
        parse_mpan_core("B6", "1312345678901")


@pytest.mark.parametrize("raw", ["12345", "13123456789O7", ""])
def test_malformed_mpans_are_refused(raw):
    with pytest.raises(InputError, match="B6"):
        parse_mpan_core("B6", raw)


def _mpan(prefix: str) -> str:
    body = prefix + "0012345678"
    return body + str(mpan_check_digit(body))


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.gsp_group_id)
def test_every_distributor_id_maps_to_its_gsp_group(group):
    assert resolve_area(GROUPS, "B6", _mpan(str(group.distributor_id)), "B7", None) == group


def test_distributor_id_outside_10_to_23_names_the_cell():
    with pytest.raises(InputError) as info:
        resolve_area(GROUPS, "B6", _mpan("99"), "B7", "London")
    assert info.value.cell == "B6"
    assert "distributor id 99" in info.value.message


@pytest.mark.parametrize("typed", ["_C", "c", "London", "LONDON ", 12.0, "12"])
def test_area_can_be_typed_as_id_name_or_distributor(typed):
    assert resolve_area(GROUPS, "B6", None, "B7", typed).gsp_group_id == "_C"


def test_unknown_area_and_missing_area_are_refused():
    with pytest.raises(InputError, match="B7 is not a GB DNO area"):
        resolve_area(GROUPS, "B6", None, "B7", "Atlantis")
    with pytest.raises(InputError, match="B7 is required"):
        resolve_area(GROUPS, "B6", "", "B7", None)
