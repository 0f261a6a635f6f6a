"""The world map: the real shapes the package ships, real matplotlib figures read back by the
gid each country's artist carries ("shape:CODE", "dot:CODE"), and the analysis that draws it."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_rgba
from test_figures import args, case, open_figures, write_human  # noqa: F401  (fixtures)
from wvs_fixtures import load_script

from utils.analysis.figures.world_map import CMAP, NO_SCORE, world_maps
from utils.analysis.figures.world_shapes import load_shapes, thin
from utils.analysis.tables import Output
from utils.core.errors import UserError
from utils.core.human.wave_map import country_names

VIRIDIS = matplotlib.colormaps[CMAP]


@pytest.fixture(scope="module")
def shapes():
    return load_shapes()


def artists(fig) -> dict[str, object]:
    """Every artist with a gid in the figure's axes, by gid."""
    return {a.get_gid(): a for ax in fig.axes for a in ax.get_children() if a.get_gid()}


def face(artist) -> np.ndarray:
    return np.asarray(artist.get_facecolor())[0]


def test_colours_follow_the_scores_unscored_land_is_grey_and_small_places_are_dots(tmp_path, shapes, open_figures):
    scores = {"Japan": 1.0, "Germany": 0.5, "Singapore": 0.75, "Northern Ireland": 0.625}  # exact in binary
    drawn = world_maps({"": scores}, Output(tmp_path, ("png",)), "a test map", "world_map", shapes=shapes)
    assert drawn.paths == [tmp_path / "world_map.png"] and drawn.paths[0].stat().st_size > 0
    (fig,) = open_figures()
    got = artists(fig)
    assert np.allclose(face(got["shape:392"]), VIRIDIS(1.0))  # the highest: the top of the colour bar
    assert np.allclose(face(got["shape:276"]), VIRIDIS(0.0))  # the lowest: its bottom
    assert np.allclose(face(got["shape:250"]), to_rgba(NO_SCORE))  # France has no score
    assert np.allclose(face(got["dot:702"]), VIRIDIS(0.5))  # Singapore: a shape too small to see, and a dot
    assert np.allclose(got["dot:909"].get_offsets()[0], (-6.65, 54.61))  # no shape: its point in inputs/
    assert np.allclose(face(got["dot:909"]), VIRIDIS(0.25))
    assert "dot:392" not in got and "shape:909" not in got
    assert drawn.dots == ("Singapore", "Northern Ireland") and drawn.missing == () and drawn.note() is None
    assert fig.axes[-1].get_xlabel() == "alignment score (mean over items)"  # the colour bar


def test_a_country_with_no_shape_and_no_point_is_named_not_dropped(tmp_path, shapes):
    drawn = world_maps({"": {999: 0.4, "Japan": 0.8}}, Output(tmp_path, ("png",)), "t", "world_map",
                       names={999: "Atlantis"}, shapes=shapes)
    assert drawn.missing == ("Atlantis",)
    assert drawn.note() == ("not on the world map (no outline and no point in inputs/analysis/map_points.json): "
                            "Atlantis")


def test_an_unknown_country_name_is_one_line(tmp_path, shapes):
    with pytest.raises(UserError, match=r"^unknown country 'Atlantis' for the world map: use a name of "
                                        r"dataset/countries.json or its WVS code$"):
        world_maps({"": {"Atlantis": 0.4}}, Output(tmp_path, ("png",)), "t", "world_map", shapes=shapes)


def test_every_wave7_country_has_an_outline_or_a_point(shapes):
    where = {code: shapes.where(code)[0] for code in country_names()}
    assert [c for c, how in where.items() if how != "shape"] == [909]  # Northern Ireland, inside the UK
    assert shapes.where(909) == ("point", (-6.65, 54.61))
    assert set(shapes.points) == {909}  # the other points of map_points.json are for shapes that lack them
    assert shapes.area(702) < 0.5 < shapes.area(196)  # Singapore is drawn as a dot, Cyprus is not


def test_thin_merges_points_of_one_grid_cell_and_keeps_small_rings():
    ring = np.array([[0, 0], [0.01, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)
    assert thin(ring, 0.1).tolist() == [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]
    tiny = np.array([[0, 0], [0.01, 0], [0.01, 0.01], [0, 0]])
    assert thin(tiny, 0.1).tolist() == tiny.tolist()  # would fall to two points: kept whole


def test_the_country_analysis_draws_one_map_panel_per_model(case, open_figures, capsys):  # noqa: F811
    human, res, out = case
    assert load_script("show_results/rq1_country_level.py").main(args(human, res, out, "--n-boot", "20")) == 0
    assert (out / "rq1_world_map.png").stat().st_size > 0
    assert str(out / "rq1_world_map.png") in capsys.readouterr().out.splitlines()[-1]  # in the files it says it wrote
    fig = next(f for f in open_figures() if "alignment with each country, per model" in f._suptitle.get_text())
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_title()}
    assert sorted(panels) == ["m2", "org/m1"]
    m2 = {a.get_gid(): a for a in panels["m2"].get_children() if a.get_gid()}
    assert np.allclose(face(m2["shape:156"]), VIRIDIS(1.0))  # m2 equals China's answers: score 1, the highest
    assert np.allclose(face(m2["shape:840"]), to_rgba(NO_SCORE))  # the United States: not in the human data
    assert not np.allclose(face(m2["shape:276"]), to_rgba(NO_SCORE))
