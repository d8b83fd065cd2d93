"""cevns.plotting: explicit Figure objects, no backend switching, labels."""

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from cevns.plotting import new_figure, plot_spectrum
from cevns.plotting.scans import parameter_label, plot_exclusion, plot_profile_1d, plot_region_2d


def _raw_backend():
    return dict.__getitem__(matplotlib.rcParams, "backend")  # without resolving it


def test_new_figure_has_its_own_agg_canvas_and_leaves_the_backend_alone(tmp_path, csi2017):
    backend = _raw_backend()
    fig = new_figure(figsize=(3, 2))
    assert isinstance(fig.canvas, FigureCanvasAgg)
    assert tuple(fig.get_size_inches()) == (3, 2)
    plot_spectrum(csi2017, {}, tmp_path / "s.pdf")
    assert _raw_backend() == backend  # matplotlib.use() would have changed it


def test_plot_spectrum_saves_a_png(tmp_path, csi2017):
    out = tmp_path / "s.png"
    d = plot_spectrum(csi2017, {}, out, low=0.0, high=50.0)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert d["edges"][0] == 0.0 and d["edges"][-1] == 50.0
    assert np.all(d["signal"] >= 0) and d["signal"].sum() > 0


def test_scan_plots_draw_on_a_given_axes():
    fig = new_figure()
    ax = fig.add_subplot()
    x = np.linspace(-2, 2, 41)
    line = plot_profile_1d(ax, x, x ** 2, {"0.9": 2.71}, label="p")
    assert np.allclose(line.get_ydata(), x ** 2)
    xx, yy = np.meshgrid(x, x)
    plot_region_2d(ax, x, x, xx ** 2 + yy ** 2, 1.0, label="r", filled=True)
    ln = plot_exclusion(ax, [1, 2, 3], [0.5, None, 0.2], label="e")
    assert np.isnan(ln.get_ydata()[1])
    assert [t.get_text() for t in ax.legend().get_texts()] == ["p", "r", "e"]


def test_parameter_labels():
    assert parameter_label("eps_mumu_uV") == r"$\varepsilon_{\mu\mu}^{uV}$"
    assert parameter_label("eps_etau_dT") == r"$\varepsilon_{e\tau}^{dT}$"
    assert parameter_label("rn_Cs133") == r"$R_n(^{133}Cs)$ [fm]"
    assert parameter_label("u_mu4_sq") == r"$|U_{\mu4}|^2$"
    assert parameter_label("sin2_2theta") == r"$\sin^2 2\theta$"
    assert parameter_label("whatever") == "whatever"
