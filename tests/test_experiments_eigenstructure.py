"""The Eigenstructure page's engine calls: spec validation before any work, the levels' bookkeeping
against the raw spectrum, the dense route for pooled CNNs, and the sphere view's fits."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from engine import spectra
from engine.experiments import eigenstructure as eig
from engine.experiments import warm_list
from engine.kernels import nngp_ntk
from figures import eigenstructure as figs
from figures import export


@pytest.mark.parametrize("d,s,expected", [
    (16, 2, (2, 2, 2, 2)), (20, 2, (2, 2, 5)), (20, 4, (4, 5)), (12, 3, (3, 2, 2)),
    (13, 2, (13,)), (13, 13, (13,)), (9, 3, (3, 3)), (2, 2, (2,)), (18, 6, (6, 3)),
])
def test_tree_filters_multiply_to_d(d, s, expected):
    filters = eig.tree_filters_for(d, s)
    assert filters == expected
    assert math.prod(filters) == d


def test_normalise_resets_what_a_view_ignores():
    a = eig.normalise_hypercube(eig.HypercubeSpec(arch="mlp", filter_size=5, readout="global_avg_pool"))
    b = eig.normalise_hypercube(eig.HypercubeSpec(arch="mlp", filter_size=2))
    assert a == b
    assert eig.hypercube.key(eig.HypercubeSpec(arch="tree_cnn", depth=1)) == \
        eig.hypercube.key(eig.HypercubeSpec(arch="tree_cnn", depth=5))
    assert eig.hypercube.key(eig.HypercubeSpec(kernel="ntk")) != \
        eig.hypercube.key(eig.HypercubeSpec(kernel="nngp"))


@pytest.mark.parametrize("change,message", [
    ({"arch": "transformer"}, "Unknown architecture"),
    ({"kernel": "rbf"}, "Unknown kernel"),
    ({"activation": "swish"}, "Unknown activation"),
    ({"readout": "max"}, "Unknown readout"),
    ({"d": 1}, "choose d from 2"),
    ({"d": 21}, "choose d from 2"),
    ({"d": 12.0}, "whole number"),
    ({"depth": 0, "arch": "mlp"}, "Depth 0"),
    ({"w_std": 0.0}, "positive"),
    ({"w_std": float("nan")}, "w_std"),
    ({"b_std": -1.0}, "b_std"),
    ({"arch": "tree_cnn", "filter_size": 1}, "filter size"),
    ({"arch": "shallow_cnn", "filter_size": 13}, "filter size"),
    ({"arch": "shallow_cnn", "readout": "global_avg_pool", "d": 11}, "choose d <= 10"),
])
def test_impossible_views_are_refused_before_work(change, message):
    spec = dataclasses.replace(eig.HypercubeSpec(), **change)
    with pytest.raises(ValueError, match=message):
        eig.hypercube.lookup(spec)


def _layers(spec):
    return eig.hypercube_layers(eig.normalise_hypercube(spec))


@pytest.mark.parametrize("spec", [
    eig.HypercubeSpec(arch="mlp", d=7, depth=2, kernel="nngp"),
    eig.HypercubeSpec(arch="tree_cnn", d=8, filter_size=2),
    eig.HypercubeSpec(arch="shallow_cnn", d=7, filter_size=3, depth=2, b_std=0.3),
    eig.HypercubeSpec(arch="tree_lcn", d=9, filter_size=3),
], ids=["mlp", "tree", "shallow", "lcn"])
def test_levels_account_for_every_eigenvalue(spec):
    view = eig.hypercube(spec)
    lam = spectra.hypercube_eigenvalues(_layers(spec), spec.d, kernel=spec.kernel)
    assert view.route == eig.ROUTE_FWHT
    assert view.multiplicity.sum() == 2 ** spec.d
    # Each level's value, repeated by its multiplicity, gives back the sorted spectrum.
    rebuilt = np.sort(np.repeat(view.eigenvalue, view.multiplicity))
    np.testing.assert_allclose(rebuilt, np.sort(lam), rtol=0, atol=1e-9 * lam.max())
    # The example set of each level has that level's eigenvalue, frequency and spread.
    np.testing.assert_allclose(lam[view.example], view.eigenvalue, rtol=1e-9, atol=1e-15)
    assert all(bin(int(s)).count("1") == f for s, f in zip(view.example, view.frequency))
    # The trace: eigenvalues sum to K(x, x), computed here by the kernel engine.
    x = np.ones((1, spec.d))
    diagonal = nngp_ntk(_layers(spec), x)[0 if spec.kernel == "nngp" else 1][0, 0]
    assert view.diagonal == pytest.approx(diagonal, rel=1e-12)
    assert view.trace_by_frequency.sum() == pytest.approx(diagonal, rel=1e-10)


def test_cnn_and_lcn_trees_share_a_spectrum_under_flatten():
    cnn = eig.hypercube(eig.HypercubeSpec(arch="tree_cnn", d=8))
    lcn = eig.hypercube(eig.HypercubeSpec(arch="tree_lcn", d=8))
    np.testing.assert_allclose(cnn.eigenvalue, lcn.eigenvalue, rtol=1e-12)


def test_pooled_cnn_takes_the_dense_route():
    spec = eig.HypercubeSpec(arch="shallow_cnn", d=6, filter_size=3, depth=1,
                             readout="global_avg_pool")
    view = eig.hypercube(spec)
    assert view.route == eig.ROUTE_DENSE
    assert view.multiplicity.sum() == 2 ** 6
    points = spectra.hypercube_points(6)
    # Pooling mixes positions, so K(x, x) varies over the cube: the eigenvalues sum to its mean.
    diagonal = np.mean([nngp_ntk(_layers(spec), x[None]).ntk[0, 0] for x in points])
    assert view.diagonal == pytest.approx(diagonal, rel=1e-10)
    assert float(np.sum(view.eigenvalue * view.multiplicity)) == pytest.approx(diagonal, rel=1e-10)
    assert np.all((view.purity > 0) & (view.purity <= 1 + 1e-12))


def test_nth_eigenvalue_counts_multiplicity():
    view = eig.hypercube(eig.HypercubeSpec(arch="mlp", d=6, depth=2))
    lam = np.sort(spectra.hypercube_eigenvalues(_layers(eig.HypercubeSpec(arch="mlp", d=6,
                                                                          depth=2)), 6))[::-1]
    for n in (1, 2, 7, 22, 64):
        assert figs.nth_eigenvalue(view, n) == pytest.approx(lam[n - 1], rel=1e-9)
    assert figs.nth_eigenvalue(view, 65) is None


def test_sphere_view_fits_and_windows():
    spec = eig.SphereSpec(d=3, layers=3, k_max=60, fit_from=10)
    view = eig.sphere(spec)
    assert view.mu["ntk"].shape == (2, 61)
    layers = eig.mlp(1)  # depth 2 = one hidden layer
    np.testing.assert_allclose(view.mu["ntk"][0], spectra.sphere_eigenvalues(layers, 3, 60),
                               rtol=1e-12, atol=0)
    for kernel, predicted in (("ntk", -3.0), ("nngp", -5.0)):
        assert view.predicted[kernel] == predicted
        lo, hi = view.window[kernel][0]
        assert lo == 10 and hi <= 60
        assert view.slope[kernel][0] == pytest.approx(predicted, abs=0.5)


def test_warm_list_covers_defaults_and_presets():
    jobs = warm_list()
    specs = [spec for _, spec in jobs]
    assert eig.DEFAULT_HYPERCUBE in specs and eig.DEFAULT_SPHERE in specs
    for preset in [*eig.HYPERCUBE_PRESETS.values(), *eig.SPHERE_PRESETS.values()]:
        assert preset in specs
    for fn, spec in jobs:  # every warmed view is a valid one
        fn.key(spec)


def test_figures_have_labelled_log_axes():
    view = eig.hypercube(eig.HypercubeSpec(arch="tree_cnn", d=8))
    fig = figs.hypercube_figure(view, threshold=figs.nth_eigenvalue(view, 10), n=10)
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    csv = export.csv(figs.hypercube_levels(view), "test header")
    assert csv.startswith("# test header\n")
    assert len(csv.splitlines()) == len(view.eigenvalue) + 2


def test_csv_headers_are_plain_text():
    """A CSV file keeps no Markdown: the pages' captions bold the architecture (`**MLP**: ...`)."""
    frame = pd.DataFrame({"**level** |S|": [1, 2], "`λ`": [0.5, 0.25]})
    text = export.csv(frame, "Hypercube spectrum, **MLP**: 3 hidden dense layers\nRoute: `fwht`.")
    assert text.splitlines() == ["# Hypercube spectrum, MLP: 3 hidden dense layers",
                                 "# Route: fwht.", "level |S|,λ", "1,0.5", "2,0.25"]
