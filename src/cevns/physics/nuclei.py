"""Target nuclei: isotopes, natural abundances, nuclear masses, charge radii.

Isotope masses and natural abundances come from the ``periodictable`` package (IUPAC / NIST
isotopic compositions). Nuclear masses are atomic masses minus ``Z m_e`` (electron binding energy,
< 0.1 MeV even for Xe, is neglected). Charge radii are from I. Angeli and K. P. Marinova,
At. Data Nucl. Data Tables 99, 69 (2013), doi:10.1016/j.adt.2011.12.006 (see ``shared/PHYSICS.md``
section 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import periodictable as _pt

from cevns.physics.constants import AMU_MEV, M_E_MEV, N_AVOGADRO, PROTON_RMS_RADIUS_FM

__all__ = [
    "Isotope",
    "TargetNucleus",
    "element_isotopes",
    "parse_formula",
    "molar_mass_g_per_mol",
    "target_nuclei",
    "charge_radius_fm",
    "has_measured_charge_radius",
    "proton_rms_radius_fm",
]


@dataclass(frozen=True)
class Isotope:
    """One nuclide of a target.

    Attributes
    ----------
    element : str
        Element symbol, e.g. ``"Cs"``.
    a, z, n : int
        Mass number, proton number and neutron number (``n = a - z``).
    mass_mev : float
        Nuclear mass [MeV]: atomic mass * AMU_MEV - z * M_E_MEV (electron binding neglected).
    abundance : float
        Fraction of the element's atoms that are this isotope (the listed isotopes of an element
        sum to 1).
    """

    element: str
    a: int
    z: int
    n: int
    mass_mev: float
    abundance: float

    def __post_init__(self) -> None:
        if not (isinstance(self.a, int) and isinstance(self.z, int) and isinstance(self.n, int)):
            raise ValueError(f"Isotope {self.element}: a, z, n must be integers")
        if self.z < 1 or self.a < self.z or self.n != self.a - self.z:
            raise ValueError(
                f"Isotope {self.element}{self.a}: inconsistent a={self.a}, z={self.z}, n={self.n}"
            )
        if not (math.isfinite(self.mass_mev) and self.mass_mev > 0):
            raise ValueError(f"Isotope {self.element}{self.a}: mass_mev must be > 0, got {self.mass_mev}")
        if not (0.0 <= self.abundance <= 1.0):
            raise ValueError(
                f"Isotope {self.element}{self.a}: abundance must be in [0, 1], got {self.abundance}"
            )

    @property
    def name(self) -> str:
        """Element symbol followed by the mass number, e.g. ``"Cs133"``."""
        return f"{self.element}{self.a}"


@dataclass(frozen=True)
class TargetNucleus:
    """An isotope of a detector material and how many of its nuclei one kg of material holds.

    Attributes
    ----------
    isotope : Isotope
    nuclei_per_kg : float
        Number of nuclei of this isotope per kg of detector material [1/kg].
    """

    isotope: Isotope
    nuclei_per_kg: float


def _element(symbol: str):
    """The periodictable Element for ``symbol`` (case-sensitive), or ValueError."""
    if not isinstance(symbol, str):
        raise ValueError(f"element symbol must be a string, got {symbol!r}")
    try:
        el = _pt.elements.symbol(symbol)
    except ValueError:
        raise ValueError(f"unknown element symbol {symbol!r}") from None
    if not isinstance(el, _pt.core.Element):  # e.g. "D", "T" are isotopes in periodictable
        raise ValueError(f"{symbol!r} is not an element symbol (isotope-specific symbols are not supported)")
    return el


def element_isotopes(symbol: str, min_abundance: float = 0.0) -> list[Isotope]:
    """Natural isotopes of an element, abundances renormalised to sum to 1.

    Parameters
    ----------
    symbol : str
        Element symbol, case-sensitive (``"Ge"``, ``"Xe"``).
    min_abundance : float
        Drop isotopes whose natural fraction (0..1) is below this; the remaining ones are
        renormalised so the element's atom count is unchanged.

    Returns
    -------
    list[Isotope]
        Sorted by mass number. Nuclear mass = atomic mass * u - Z m_e.

    Raises
    ------
    ValueError
        Unknown symbol, no natural isotope, or ``min_abundance`` removing all isotopes.

    Examples
    --------
    >>> [(i.name, i.z, i.n) for i in element_isotopes("Cs")]
    [('Cs133', 55, 78)]
    >>> sorted(i.name for i in element_isotopes("Ar", min_abundance=0.01))
    ['Ar40']
    """
    el = _element(symbol)
    if not (math.isfinite(min_abundance) and 0.0 <= min_abundance <= 1.0):
        raise ValueError(f"min_abundance must be in [0, 1], got {min_abundance}")
    natural = [iso for iso in el if iso.abundance > 0]
    if not natural:
        raise ValueError(f"element {symbol!r} has no naturally occurring isotope")
    kept = [iso for iso in natural if iso.abundance / 100.0 >= min_abundance]
    if not kept:
        raise ValueError(f"min_abundance={min_abundance} removes every isotope of {symbol!r}")
    total = sum(iso.abundance for iso in kept)
    return [
        Isotope(
            element=el.symbol,
            a=int(iso.isotope),
            z=int(el.number),
            n=int(iso.isotope) - int(el.number),
            mass_mev=float(iso.mass) * AMU_MEV - el.number * M_E_MEV,
            abundance=float(iso.abundance) / total,
        )
        for iso in sorted(kept, key=lambda i: i.isotope)
    ]


def _formula(formula: str):
    if not isinstance(formula, str) or not formula.strip():
        raise ValueError(f"invalid chemical formula {formula!r}: expected a non-empty string")
    try:
        parsed = _pt.formula(formula)
    except Exception as exc:  # pyparsing.ParseException or ValueError (unknown element)
        raise ValueError(f"invalid chemical formula {formula!r}: {exc}") from None
    if not parsed.atoms:
        raise ValueError(f"invalid chemical formula {formula!r}: no atoms")
    return parsed


def parse_formula(formula: str) -> dict[str, int]:
    """Atoms per formula unit, e.g. ``"CaWO4" -> {"Ca": 1, "W": 1, "O": 4}``.

    Parsed with ``periodictable.formula``. Natural isotopic composition is assumed: isotope-specific
    notation (``"Ge[76]"``, ``"D2O"``) and non-integer stoichiometry raise ValueError.
    """
    parsed = _formula(formula)
    out: dict[str, int] = {}
    for atom, count in parsed.atoms.items():
        if not isinstance(atom, _pt.core.Element):
            raise ValueError(
                f"invalid chemical formula {formula!r}: isotope {atom} given; "
                "only natural isotopic composition is supported"
            )
        if count <= 0 or float(count) != int(count):
            raise ValueError(f"invalid chemical formula {formula!r}: non-integer count {count} of {atom}")
        out[atom.symbol] = out.get(atom.symbol, 0) + int(count)
    return out


def molar_mass_g_per_mol(formula: str) -> float:
    """Molar mass [g/mol] of a formula with natural isotopic composition (periodictable)."""
    parse_formula(formula)  # validation
    return float(_formula(formula).mass)


def target_nuclei(formula: str, min_abundance: float = 0.0) -> list[TargetNucleus]:
    """Isotopes of a detector material and their number per kg.

    ``nuclei_per_kg = N_A * 1000 / M_molar[g/mol] * (atoms per formula unit) * abundance``
    (``shared/PHYSICS.md`` section 6).

    Parameters
    ----------
    formula : str
        Chemical formula, e.g. ``"CsI"``, ``"Ge"``, ``"CaWO4"``.
    min_abundance : float
        Passed to :func:`element_isotopes`.

    Examples
    --------
    One kg of CsI holds N_A * 1000 / 259.81 formula units, one Cs133 and one I127 each:

    >>> nuclei = target_nuclei("CsI")
    >>> [t.isotope.name for t in nuclei]
    ['Cs133', 'I127']
    >>> f"{nuclei[0].nuclei_per_kg:.4g}"
    '2.318e+24'
    """
    atoms = parse_formula(formula)
    units_per_kg = N_AVOGADRO * 1000.0 / molar_mass_g_per_mol(formula)
    return [
        TargetNucleus(isotope=iso, nuclei_per_kg=units_per_kg * count * iso.abundance)
        for symbol, count in atoms.items()
        for iso in element_isotopes(symbol, min_abundance)
    ]


# rms nuclear charge radii [fm], keyed by (Z, A): I. Angeli and K. P. Marinova,
# At. Data Nucl. Data Tables 99, 69 (2013) (values as distributed by the IAEA Nuclear Data
# Section, https://www-nds.iaea.org/radii/).
_CHARGE_RADII_FM: dict[tuple[int, int], float] = {
    (6, 12): 2.4702,  # C12   (organic scintillators, C3F8)
    (6, 13): 2.4614,  # C13
    (8, 16): 2.6991,  # O16   (CaWO4, Al2O3, H2O)
    (8, 17): 2.6932,  # O17
    (8, 18): 2.7726,  # O18
    (9, 19): 2.8976,  # F19   (C3F8, CF4)
    (11, 23): 2.9936,  # Na23  (NaI) -- PHYSICS.md
    (13, 27): 3.0610,  # Al27  (sapphire)
    (14, 28): 3.1224,  # Si28  -- PHYSICS.md
    (14, 29): 3.1176,  # Si29
    (14, 30): 3.1336,  # Si30
    (18, 36): 3.3905,  # Ar36
    (18, 38): 3.4028,  # Ar38
    (18, 40): 3.4274,  # Ar40  -- PHYSICS.md
    (20, 40): 3.4776,  # Ca40  (CaWO4)
    (20, 42): 3.5081,  # Ca42
    (20, 43): 3.4954,  # Ca43
    (20, 44): 3.5179,  # Ca44
    (20, 46): 3.4953,  # Ca46
    (20, 48): 3.4771,  # Ca48
    (32, 70): 4.0414,  # Ge70  -- PHYSICS.md
    (32, 72): 4.0576,  # Ge72  -- PHYSICS.md
    (32, 73): 4.0632,  # Ge73  -- PHYSICS.md
    (32, 74): 4.0742,  # Ge74  -- PHYSICS.md
    (32, 76): 4.0811,  # Ge76  -- PHYSICS.md
    (53, 127): 4.7500,  # I127  -- PHYSICS.md
    (54, 124): 4.7661,  # Xe124
    (54, 126): 4.7722,  # Xe126
    (54, 128): 4.7774,  # Xe128
    (54, 129): 4.7775,  # Xe129
    (54, 130): 4.7818,  # Xe130
    (54, 131): 4.7808,  # Xe131
    (54, 132): 4.7859,  # Xe132
    (54, 134): 4.7899,  # Xe134
    (54, 136): 4.7964,  # Xe136
    (55, 133): 4.8041,  # Cs133 -- PHYSICS.md
    (74, 180): 5.3491,  # W180  (CaWO4)
    (74, 182): 5.3559,  # W182
    (74, 183): 5.3611,  # W183
    (74, 184): 5.3658,  # W184
    (74, 186): 5.3743,  # W186
    (82, 204): 5.4803,  # Pb204
    (82, 206): 5.4902,  # Pb206
    (82, 207): 5.4943,  # Pb207
    (82, 208): 5.5012,  # Pb208
}


def _check_isotope(isotope: Isotope) -> Isotope:
    if not isinstance(isotope, Isotope):
        raise ValueError(f"expected an Isotope, got {isotope!r}")
    return isotope


def has_measured_charge_radius(isotope: Isotope) -> bool:
    """True if the isotope's charge radius is in the Angeli & Marinova (2013) table held here."""
    iso = _check_isotope(isotope)
    return (iso.z, iso.a) in _CHARGE_RADII_FM


def charge_radius_fm(isotope: Isotope) -> float:
    """rms nuclear charge radius [fm].

    Measured value from Angeli & Marinova, At. Data Nucl. Data Tables 99, 69 (2013) when tabulated
    here (see :func:`has_measured_charge_radius`); otherwise the rms radius of a uniform sphere of
    radius ``1.2 A^(1/3)`` fm, ``sqrt(3/5) * 1.2 * A^(1/3)`` fm (accurate to a few per cent for
    A > 20: 4.74 fm vs 4.80 fm measured for Cs133).

    Parameters
    ----------
    isotope : Isotope
        The nucleus (see :func:`isotope`).

    Examples
    --------
    >>> cs133 = element_isotopes("Cs")[0]
    >>> charge_radius_fm(cs133)
    4.8041
    """
    iso = _check_isotope(isotope)
    measured = _CHARGE_RADII_FM.get((iso.z, iso.a))
    if measured is not None:
        return measured
    return math.sqrt(3.0 / 5.0) * 1.2 * iso.a ** (1.0 / 3.0)


def proton_rms_radius_fm(isotope: Isotope) -> float:
    """rms radius of the point-proton distribution [fm], first approximation.

    ``R_p = sqrt(R_ch^2 - r_p^2)`` with ``r_p = PROTON_RMS_RADIUS_FM`` (``shared/PHYSICS.md``
    section 3). The neutron mean-square charge radius (N/Z * -0.116 fm^2), Darwin-Foldy
    (0.033 fm^2) and spin-orbit terms are neglected; together they shift R_p by about
    +0.01 to +0.02 fm for A > 20 (e.g. +0.014 fm for Cs133).

    Parameters
    ----------
    isotope : Isotope
        The nucleus.
    """
    r_ch = charge_radius_fm(isotope)
    return math.sqrt(r_ch**2 - PROTON_RMS_RADIUS_FM**2)
