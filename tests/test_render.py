import numpy as np
import pytest
from scipy.spatial import Delaunay

from facedyn.render.rasterize import BackwardMapper, backward_map


@pytest.fixture
def grid_mesh():
    xs = np.linspace(-4, 131, 8)
    pts = np.array([(x, y) for y in xs for x in xs], dtype=np.float64)
    return pts, Delaunay(pts).simplices


@pytest.mark.parametrize("step", [1, 2, 4])
def test_translation_gives_shifted_map(grid_mesh, step):
    pts, tris = grid_mesh
    m = backward_map(pts + [5.0, -3.0], pts, tris, np.zeros(len(tris)), (128, 128), step)
    ys, xs = np.mgrid[0:128, 0:128]
    inner = (slice(8, 120), slice(8, 120))
    assert m.shape == (128, 128, 2) and m.dtype == np.float32
    assert np.abs(m[..., 0] - (xs - 5))[inner].max() < 1e-3
    assert np.abs(m[..., 1] - (ys + 3))[inner].max() < 1e-3


def test_nearest_triangle_wins_where_they_overlap():
    # Two triangles cover the same pixels; each maps to a different source region.
    dst = np.array([[0, 0], [60, 0], [0, 60], [0, 0], [60, 0], [0, 60]], dtype=np.float64)
    src = dst.copy()
    src[3:] += 100.0
    tris = np.array([[0, 1, 2], [3, 4, 5]])
    near_second = backward_map(dst, src, tris, np.array([1.0, 0.0]), (64, 64), 1)
    near_first = backward_map(dst, src, tris, np.array([0.0, 1.0]), (64, 64), 1)
    assert near_second[10, 10, 0] == pytest.approx(110) and near_first[10, 10, 0] == pytest.approx(10)


def test_uncovered_pixels_map_to_themselves():
    dst = np.array([[0, 0], [10, 0], [0, 10]], dtype=np.float64)
    m = backward_map(dst, dst + 50, np.array([[0, 1, 2]]), np.zeros(1), (32, 32), 1)
    assert tuple(m[30, 30]) == (30, 30) and tuple(m[2, 2]) == (52, 52)


def test_bad_shapes_are_reported():
    with pytest.raises(ValueError, match="expected"):
        backward_map(np.zeros((3, 3)), np.zeros((3, 3)), np.array([[0, 1, 2]]), np.zeros(1), (8, 8))


def test_exact_boxes_keep_a_squeezed_opening_off_the_seam():
    """Two lips meet over a source opening squeezed to nothing: on a coarse grid the resized
    map blends across the seam and samples the opening; exact boxes do not."""
    # Source: upper lip y 0..40, opening 40..60, lower lip 60..100. Target: the opening closed at y 50.
    xs = np.array([0.0, 50.0, 100.0])
    src = np.array([(x, y) for y in (0.0, 40.0, 60.0, 100.0) for x in xs])
    dst = src.copy()
    dst[3:6, 1] = dst[6:9, 1] = 50.0
    dst[0:3, 1], dst[9:12, 1] = 10.0, 90.0
    quads = [(r * 3 + c, r * 3 + c + 1, r * 3 + c + 3, r * 3 + c + 4) for r in range(3) for c in range(2)]
    tris = np.array([t for a, b, c, d in quads for t in ((a, b, c), (b, d, c))])
    depth = np.zeros(len(tris))
    depth[4:8] = 1.0  # the opening's triangles lie behind the lips
    in_opening = lambda m: ((m[20:80, 10:90, 1] > 41) & (m[20:80, 10:90, 1] < 59)).sum()  # noqa: E731
    assert in_opening(backward_map(dst, src, tris, depth, (100, 100), 3)) > 0
    assert in_opening(backward_map(dst, src, tris, depth, (100, 100), 3, exact=[(0, 40, 100, 60)])) == 0


def test_one_mapper_for_many_targets_matches_backward_map(grid_mesh):
    """The renderer keeps one BackwardMapper per source; reusing it changes no map."""
    pts, tris = grid_mesh
    rng = np.random.default_rng(3)
    mapper = BackwardMapper(pts, tris, backdrop=len(tris) // 2)
    for _ in range(3):
        dst = pts + rng.normal(0, 2.0, pts.shape)
        depth = rng.normal(0, 1, len(tris))
        exact = [(30, 40, 70, 60)]
        assert np.array_equal(mapper(dst, depth, (128, 128), 3, exact),
                              backward_map(dst, pts, tris, depth, (128, 128), 3, exact, backdrop=len(tris) // 2))


def test_backdrop_lies_behind_whatever_its_depth():
    """A backdrop triangle nearer the camera than a front one still loses to it, on the coarse
    grid and in an exact box alike."""
    dst = np.array([[0, 0], [60, 0], [0, 60], [0, 0], [60, 0], [0, 60]], dtype=np.float64)
    src = dst.copy()
    src[3:] += 100.0
    tris = np.array([[0, 1, 2], [3, 4, 5]])  # the second is the backdrop
    mapper = BackwardMapper(src, tris, backdrop=1, backdrop_step=2)
    depth = np.array([1.0, -5.0])
    assert mapper(dst, depth, (64, 64), 2)[10, 10, 0] == pytest.approx(10, abs=0.01)
    assert mapper(dst, depth, (64, 64), 2, exact=[(0, 0, 32, 32)])[10, 10, 0] == pytest.approx(10, abs=0.01)


def test_mapper_reports_a_target_of_the_wrong_shape(grid_mesh):
    pts, tris = grid_mesh
    with pytest.raises(ValueError, match=r"expected \(V, 2\) dst"):
        BackwardMapper(pts, tris)(pts[:-1], np.zeros(len(tris)), (32, 32))
