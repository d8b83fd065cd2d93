"""The registry-based engine reproduces the predictions of the previous engine (commit f4e87a4, with the
charge-radius fix of issue 8 item 1) to 1e-9 relative, for points of every model.

``tests/data/engine_regression.json`` was written by ``tests/data/generate_engine_regression.py`` run on
that engine; it stores the counts (points x flavours x bins) of four experiment configurations.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from cevns.experiments import load_experiment

DATA = json.loads((Path(__file__).parent / "data" / "engine_regression.json").read_text())


@pytest.fixture(scope="module")
def experiments():
    return {k: load_experiment(name, settings=settings) for k, (name, settings) in DATA["experiments"].items()}


@pytest.mark.parametrize("exp_key", list(DATA["experiments"]))
@pytest.mark.parametrize("point", list(DATA["points"]))
def test_predictions_unchanged(experiments, exp_key, point):
    eng = experiments[exp_key].engine
    want = np.asarray(DATA["counts"][f"{exp_key}/{point}"])
    got = eng.predict(DATA["points"][point]).counts
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * np.abs(want).max())
    # point by point (one group per call) equals the vectorised call (many groups)
    n = want.shape[0]
    for i in range(n):
        single = {k: (v[i] if isinstance(v, list) else v) for k, v in DATA["points"][point].items()}
        np.testing.assert_allclose(eng.predict(single).counts[0], want[i], rtol=1e-9,
                                   atol=1e-12 * np.abs(want).max())
