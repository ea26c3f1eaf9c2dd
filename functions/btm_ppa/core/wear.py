"""Battery wear as a throughput cost: £ per MWh discharged.

Each MWh discharged uses up a share of the battery's cycle life. Levelised over that life:

    life_years      = cycle_life / cycles_per_year
    mwh_per_year    = cycles_per_year x (1 + end_of_life) / 2   (per MWh of capacity: the
                      capacity fades linearly from 100 % to ``end_of_life`` over the life)
    wear            = replacement cost per MWh of capacity x CRF(rate, life_years) / mwh_per_year
    CRF(r, n)       = r / (1 - (1 + r)^-n)   (1 / n at r = 0)

i.e. the annuity that repays the replacement over the life, spread over the energy the
battery delivers a year. At a 0 % rate it is the plain replacement cost / lifetime
throughput (the usual "levelised cost of degradation"). The defaults, stated assumptions
for a lithium iron phosphate (LFP) battery of 2024-25: replacement £100/kWh of capacity
(cells and modules), 6,000 equivalent full cycles to 70 % of the first capacity (a common
LFP warranty), a discount rate of 8 %, one cycle a day: £35.92/MWh discharged
(£19.61/MWh at 0 %).
"""

from __future__ import annotations

from dataclasses import dataclass

from btm_ppa.core.units import KWH_PER_MWH


@dataclass(frozen=True)
class WearInputs:
    replacement_gbp_per_kwh: float = 100.0  # per kWh of energy capacity
    cycle_life: float = 6_000.0  # equivalent full cycles to end of life
    end_of_life_capacity_frac: float = 0.70  # capacity left at end of life, of the first
    discount_rate_frac: float = 0.08  # a year
    cycles_per_year: float = 365.0

    def problems(self) -> list[str]:
        """What is out of range, named (empty when all is well)."""
        found = []
        if not self.replacement_gbp_per_kwh >= 0:
            found.append(f"replacement cost {self.replacement_gbp_per_kwh:g} £/kWh: expected >= 0")
        if not self.cycle_life > 0:
            found.append(f"cycle life {self.cycle_life:g}: expected > 0 cycles")
        if not 0 <= self.end_of_life_capacity_frac < 1:
            found.append(f"end-of-life capacity {self.end_of_life_capacity_frac:g}: expected "
                         "0 to 1 (a fraction of the first capacity)")
        if not 0 <= self.discount_rate_frac < 1:
            found.append(f"discount rate {self.discount_rate_frac:g}: expected 0 to 1 a year")
        if not self.cycles_per_year > 0:
            found.append(f"cycles a year {self.cycles_per_year:g}: expected > 0")
        return found


def capital_recovery_factor(rate_frac: float, years: float) -> float:
    """The annuity a year that repays 1 over ``years`` at ``rate_frac``."""
    if rate_frac == 0:
        return 1.0 / years
    return rate_frac / (1.0 - (1.0 + rate_frac) ** -years)


def wear_cost_gbp_per_mwh(inputs: WearInputs = WearInputs()) -> float:
    """The throughput (wear) cost per MWh discharged (see the module docstring). [£/MWh]"""
    if found := inputs.problems():
        raise ValueError("; ".join(found))
    replacement_gbp_per_mwh = inputs.replacement_gbp_per_kwh * KWH_PER_MWH
    life_years = inputs.cycle_life / inputs.cycles_per_year
    mwh_per_year = inputs.cycles_per_year * (1.0 + inputs.end_of_life_capacity_frac) / 2.0
    return (replacement_gbp_per_mwh * capital_recovery_factor(inputs.discount_rate_frac, life_years)
            / mwh_per_year)


DEFAULT_WEAR_GBP_PER_MWH = wear_cost_gbp_per_mwh()
