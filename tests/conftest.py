import pytest


@pytest.fixture(scope="session")
def csi2017():
    """The built-in COHERENT CsI 2017 experiment (built once per test session)."""
    from cevns.experiments import load_experiment

    return load_experiment("coherent-csi-2017")
