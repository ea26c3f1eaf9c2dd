import numpy as np
import pytest

from btm_ppa.core import units


@pytest.mark.parametrize(
    ("p_per_kwh", "gbp_per_mwh"),
    [(17.64, 176.40), (2.05, 20.50), (0.11, 1.10), (0.0, 0.0)],
)
def test_p_per_kwh_converts_to_gbp_per_mwh_tenfold(p_per_kwh, gbp_per_mwh):
    assert units.p_per_kwh_to_gbp_per_mwh(p_per_kwh) == pytest.approx(gbp_per_mwh)
    assert units.gbp_per_mwh_to_p_per_kwh(gbp_per_mwh) == pytest.approx(p_per_kwh)


def test_energy_per_period_is_half_an_hour_of_power():
    assert units.mw_to_mwh_per_period(2.5) == 1.25
    assert units.kw_to_mw(2500) == 2.5
    np.testing.assert_allclose(units.kwh_to_mwh([1500, 250]), [1.5, 0.25])
