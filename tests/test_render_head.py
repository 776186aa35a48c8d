"""The head outside the face: the head proxy, the smooth grid, and what a turn does to it."""

from __future__ import annotations

import numpy as np
import pytest

from facedyn.eval.metrics import warp_tears
from facedyn.geometry.pose import HeadPose, angles_to_rotation, template
from facedyn.render.control_mesh import build_control_mesh, fit_head_proxy
from facedyn.render.rasterize import backward_map
from facedyn.tracking import topology as T

SIZE = (512, 512)


def _pose(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0, shift=(0.0, 0.0)) -> HeadPose:
    return HeadPose(angles_to_rotation(yaw, pitch, roll), np.array([256.0 + shift[0], 230.0 + shift[1], 0.0]), 180.0)


def _person_mask() -> np.ndarray:
    """A head with hair around the template face and shoulders below it, 1 = person."""
    ys, xs = np.mgrid[0: SIZE[0], 0: SIZE[1]]
    head = ((xs - 256) / 120.0) ** 2 + ((ys - 210) / 150.0) ** 2 < 1
    neck = (np.abs(xs - 256) < 60) & (ys > 300)
    shoulders = ys > 420
    return (head | neck | shoulders).astype(np.float32)


@pytest.fixture(scope="module")
def source():
    pose = _pose()
    face = pose.to_image(template().shape)
    return face, pose, build_control_mesh(face, pose, SIZE)


def _map(source, target_pose: HeadPose) -> np.ndarray:
    face, pose, mesh = source
    target = target_pose.to_image(pose.to_head_frame(face))
    moved, depth = mesh.move(target, target_pose, pose)
    return backward_map(moved, mesh.points, mesh.triangles, depth, SIZE, 3)


def test_lift_meets_the_proxy_and_is_continuous_across_its_outline():
    head = template().shape
    proxy = fit_head_proxy(head)
    pose = _pose()
    centre = pose.to_image(proxy.centre[None])[:, :2]
    lifted, dist = proxy.lift(centre, pose)
    assert dist[0] == pytest.approx(0.0, abs=1e-6)
    assert lifted[0, 2] == pytest.approx(proxy.centre[2] - proxy.radii[2])  # the front of the ellipsoid
    # Points along a row through the outline: lifted positions change smoothly.
    xs = centre[0, 0] + pose.scale * proxy.radii[0] * np.linspace(0.9, 1.1, 41)
    row, dist = proxy.lift(np.column_stack([xs, np.full_like(xs, centre[0, 1])]), pose)
    assert dist[0] < 1 < dist[-1]
    assert np.abs(np.diff(row[:, 2])).max() < 0.1 * proxy.radii[2]


def test_at_the_source_pose_nothing_moves(source):
    face, pose, mesh = source
    moved, _ = mesh.move(face, pose, pose)
    assert np.abs(moved - mesh.points).max() < 1e-6


@pytest.mark.parametrize("angles", [(25, 0, 0), (-25, 0, 0), (0, 20, 0), (0, 0, 15), (0, 0, -15), (20, -10, 12)])
def test_turns_up_to_25_degrees_fold_nothing_and_tear_little(source, angles):
    """Rolls and nods draw no streak; a turn stretches only the thin band beside the face
    that it reveals (the side of the head the photo does not show)."""
    face, _, _ = source
    warp = _map(source, _pose(*angles, shift=(15.0, -10.0)))
    tears = warp_tears(warp, _person_mask(), face)
    assert tears < (0.03 if angles[0] else 1e-3)


def test_hair_turns_with_the_head_and_the_neck_follows_part_way(source):
    face, pose, mesh = source
    turned = _pose(0, 0, 15)
    target = turned.to_image(pose.to_head_frame(face))
    moved, _ = mesh.move(target, turned, pose)
    n = T.N_VERTICES
    grid, after = mesh.points[n:], moved[n:]
    crown = np.argmin(np.linalg.norm(grid - [256, 100], axis=1))  # hair above the forehead
    neck = np.argmin(np.linalg.norm(grid - [256, 400], axis=1))
    corner = np.argmin(np.linalg.norm(grid - [0, 0], axis=1))
    rigid = turned.to_image(mesh.head_points[n + crown][None])[0, :2]
    assert np.linalg.norm(after[crown] - rigid) < 1.0
    neck_rigid = turned.to_image(mesh.head_points[n + neck][None])[0, :2]
    share = np.linalg.norm(after[neck] - grid[neck]) / np.linalg.norm(neck_rigid - grid[neck])
    assert 0.05 < share < 0.5
    assert np.allclose(after[corner], grid[corner])
