import numpy as np
from matplotlib.image import imread

from conftest import run_cli
from flowam.data.procedural import FAMILIES
from flowam.render import project, render_gallery, render_grid, render_views


def test_projection_views_are_orthonormal_and_depth_points_at_the_camera():
    pts = np.eye(3)
    front = project(pts, (0.0, 0.0))
    assert np.allclose(front[0], [0, 0, 1])  # +x is the front: it comes towards the camera
    assert np.allclose(front[1], [0, 1, 0])  # +y is up on screen
    top = project(pts, (90.0, 0.0))
    assert np.isclose(top[1, 2], 1.0)  # seen from above, +y is nearest
    rot = project(np.random.default_rng(0).normal(size=(50, 3)), (25.0, 50.0))
    assert rot.shape == (50, 3)
    lengths = np.linalg.norm(project(np.eye(3), (25.0, 50.0)), axis=1)
    assert np.allclose(lengths, 1.0)


def test_pictures_are_written_as_pngs(tmp_path):
    cloud = np.random.default_rng(0).uniform(-1, 1, size=(300, 3))
    views = render_views(cloud, tmp_path / "v.png", title="x")
    grid = render_grid(
        [[cloud, None], [cloud, cloud]],
        tmp_path / "g.png",
        row_labels=["a", "b"],
        col_labels=["m", "n"],
    )
    for path in (views, grid):
        image = imread(path)
        assert image.ndim == 3 and image.shape[0] > 100
        assert image[..., :3].std() > 0.05  # not blank
    assert not list(tmp_path.glob(".*"))  # no temporary files left


def test_gallery_lays_out_every_class(tmp_path, monkeypatch):
    import flowam.render

    rng = np.random.default_rng(1)
    pts = rng.uniform(-1, 1, size=(9, 100, 3))
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
    path = render_gallery(pts, labels, ["a", "b", "c"], tmp_path / "gal.png", per_class=2)
    assert imread(path)[..., :3].std() > 0.05  # drawn, not blank
    laid = {}
    monkeypatch.setattr(
        flowam.render,
        "render_grid",
        lambda cells, path, titles, view: laid.update(c=cells, t=titles),
    )
    render_gallery(pts, labels, ["a", "b", "c"], tmp_path / "x.png", per_class=2)
    # two blocks: row 0 holds classes a and c, row 1 class b; each the first 2 of its class
    assert laid["t"] == [["a", "a", "c", "c"], ["b", "b"]]
    shown = [
        [next(i for i in range(9) if np.array_equal(c, pts[i])) for c in row] for row in laid["c"]
    ]
    assert shown == [[0, 1, 5, 6], [2, 3]]
    render_gallery(pts, labels, ["a", "b", "c"], tmp_path / "y.png", per_class=3, blocks=3)
    assert laid["t"] == [["a"] * 3 + ["b"] * 3 + ["c"] * 3]
    assert laid["c"][0][2] is None and np.array_equal(laid["c"][0][3], pts[2])  # a has 2


def test_cli_data_render_and_info(tmp_path, monkeypatch, capsys):
    out = tmp_path / "gallery.png"
    args = ["data", "render", "--per-class", "2", "--num-points", "256", "--out", str(out)]
    code, _, err = run_cli(args, monkeypatch, capsys)
    assert code == 0, err
    assert imread(out).shape[0] > 400
    code, out_text, _ = run_cli(["data", "info", "--num-points", "256"], monkeypatch, capsys)
    assert code == 0
    n = len(FAMILIES)
    assert "airplane" in out_text and str(150 * n) in out_text
    assert str(50 * n) in out_text


def test_a_grid_draws_each_column_from_its_own_view(tmp_path):
    flat = np.random.default_rng(2).uniform(-1, 1, size=(300, 3)) * [1.0, 0.02, 1.0]
    same = imread(render_grid([[flat, flat]], tmp_path / "same.png", view=(0.0, 0.0)))
    both = imread(
        render_grid([[flat, flat]], tmp_path / "both.png", view=[(0.0, 0.0), (89.0, 0.0)])
    )
    half = same.shape[1] // 2
    assert np.array_equal(same[:, :half], both[:, :half])  # the first column as before
    # a sheet in the x-z plane: a line from the front, a filled square from the top
    assert (both[:, half:, :3] < 0.9).sum() > 2 * (same[:, half:, :3] < 0.9).sum()
