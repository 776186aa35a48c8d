"""The evaluation's metrics on known answers: synthetic arrays and real faces from testdata."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from facedyn.eval import metrics
from facedyn.eval.baselines import LandmarkWarp
from facedyn.eval.networks import EMOTIONS, DlibFace, EmotionModel
from facedyn.io import iter_frames, load_image
from facedyn.tracking import FaceTracker
from facedyn.tracking import topology as T


@pytest.fixture(scope="module")
def faces(image_path, video_path):
    """Image and mesh landmarks of a few real faces, keyed by name."""
    out = {}
    with FaceTracker() as tracker:
        for name in ("woman_frontal_neutral", "man_glasses_beard_smile", "man_turned_looking_up"):
            image = load_image(image_path(name))
            out[name] = (image, tracker.landmarks_in_box(image, tracker.detect_faces(image)[0]))
        flipped = np.ascontiguousarray(out["man_turned_looking_up"][0][:, ::-1])
        out["flipped"] = (flipped, tracker.landmarks_in_box(flipped, tracker.detect_faces(flipped)[0]))
        frames = [f for i, f in enumerate(iter_frames(video_path("woman_speaking_head_turns"))) if i in (0, 150)]
        tracker.reset_video()
        for i, frame in enumerate(frames):
            out[f"frame{i}"] = (frame, tracker.track(frame))
    return out


@pytest.fixture(scope="module")
def dlib_face():
    return DlibFace()


def test_identical_frames_l1_0_psnr_inf_ssim_1(faces):
    image = faces["woman_frontal_neutral"][0]
    assert metrics.l1(image, image.copy()) == 0.0
    assert metrics.psnr(image, image.copy()) == float("inf")
    assert metrics.ssim(image, image.copy()) == pytest.approx(1.0, abs=1e-6)


def test_l1_of_black_and_white_is_1_and_psnr_known():
    black, white = np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 255, np.uint8)
    assert metrics.l1(black, white) == pytest.approx(1.0)
    grey = np.full((8, 8, 3), 10, np.uint8)
    assert metrics.psnr(black, grey) == pytest.approx(10 * np.log10(255**2 / 100))


def test_ssim_equals_scikit_image(faces):
    a = faces["frame0"][0]
    b = faces["frame1"][0]
    assert metrics.ssim(a, b) == pytest.approx(structural_similarity(a, b, channel_axis=2, data_range=255), abs=1e-5)
    with pytest.raises(ValueError, match="one shape"):
        metrics.ssim(a, b[:-1])


def test_akd_zero_for_identical_and_scaled_to_256_crop():
    pts = np.random.default_rng(0).uniform(0, 100, (5, 68, 2))
    assert np.all(metrics.akd(pts, pts.copy(), 128.0) == 0)
    shifted = pts + [3.0, 4.0]  # 5 px everywhere, on a 128 px face -> 10 px at 256
    assert np.allclose(metrics.akd(shifted, pts, 128.0), 10.0)


def test_identity_two_people_far_same_person_near(faces, dlib_face):
    d = {k: dlib_face.descriptor(*faces[k]) for k in ("woman_frontal_neutral", "man_glasses_beard_smile", "frame0", "frame1")}
    assert metrics.descriptor_distance(d["woman_frontal_neutral"], d["man_glasses_beard_smile"]) > metrics.DLIB_SAME_PERSON
    assert metrics.descriptor_distance(d["frame0"], d["frame1"]) < metrics.DLIB_SAME_PERSON
    assert metrics.cosine_similarity(d["frame0"], d["frame0"]) == pytest.approx(1.0)


def test_dlib68_lands_on_the_face(faces, dlib_face):
    image, mesh = faces["woman_frontal_neutral"]
    pts = dlib_face.landmarks68(image, mesh)
    assert pts.shape == (68, 2)
    # dlib's nose tip (30) and chin (8) near the mesh's (1 and 152), within 6% of the face
    size = mesh[:, 1].max() - mesh[:, 1].min()
    assert np.linalg.norm(pts[30] - mesh[1, :2]) < 0.06 * size
    assert np.linalg.norm(pts[8] - mesh[152, :2]) < 0.06 * size


def test_flipped_face_flips_yaw_error(faces):
    original = metrics.head_angles(faces["man_turned_looking_up"][1][None])[0]
    flipped = metrics.head_angles(faces["flipped"][1][None])[0]
    assert original[0] < -10 and flipped[0] > 10  # the photo's yaw is about -24 degrees
    forward, backward = flipped - original, original - flipped
    assert np.sign(forward[0]) == -np.sign(backward[0]) != 0
    assert abs(forward[0]) > 20


def test_emotion_model_reads_a_broad_smile_as_happy(faces):
    model = EmotionModel()
    probs = model.probabilities(*faces["man_glasses_beard_smile"])
    assert probs.shape == (7,) and probs.sum() == pytest.approx(1.0, abs=1e-3)
    assert EMOTIONS[int(probs.argmax())] == "happy"
    assert EMOTIONS[int(model.probabilities(*faces["woman_frontal_neutral"]).argmax())] == "neutral"


def test_emotion_distance_and_agreement_known_values():
    p = np.eye(7)[[3, 3, 6]]
    q = np.eye(7)[[3, 6, 6]]
    assert metrics.emotion_distance(p, p).tolist() == [0, 0, 0]
    assert metrics.emotion_distance(p, q).tolist() == [0, 1, 0]
    assert metrics.top_class_agreement(p, q) == pytest.approx(2 / 3)


def test_correlation_known_values():
    x = np.sin(np.linspace(0, 6, 50))
    assert metrics.correlation(2 * x + 1, x) == pytest.approx(1.0)
    assert metrics.correlation(-x, x) == pytest.approx(-1.0)
    assert metrics.correlation(np.ones(50), x) == 0.0  # a still output follows nothing
    assert np.isnan(metrics.correlation(x, np.ones(50)))  # nothing to follow
    y = x.copy()
    y[5] = np.nan
    assert metrics.correlation(x, y) == pytest.approx(1.0)


def test_jitter_ratio(faces):
    track = faces["frame0"][1][None] + 20 * np.sin(np.linspace(0, 3, 30))[:, None, None]  # smooth sway
    rng = np.random.default_rng(1)
    assert metrics.jitter_ratio(track, track) == pytest.approx(1.0)
    noisy = track + rng.normal(0, 1.0, track.shape)
    smooth_noise = track + rng.normal(0, 0.5, track.shape)
    assert metrics.jitter_ratio(noisy, smooth_noise) > 1.5
    assert metrics.jitter_ratio(np.repeat(track[:1], 30, 0), noisy) == 0.0


def test_expression_signals_open_mouth_and_smile(image_path):
    with FaceTracker() as tracker:
        pts = {}
        for name in ("woman_frontal_neutral", "woman_open_mouth_surprised", "man_glasses_beard_smile"):
            image = load_image(image_path(name))
            pts[name] = tracker.landmarks_in_box(image, tracker.detect_faces(image)[0])
    sig = {k: metrics.expression_signals(v[None])[0] for k, v in pts.items()}
    mouth, smile = metrics.SIGNALS.index("mouth"), metrics.SIGNALS.index("smile")
    assert sig["woman_open_mouth_surprised"][mouth] > sig["woman_frontal_neutral"][mouth] + 0.3
    assert sig["man_glasses_beard_smile"][smile] > sig["woman_frontal_neutral"][smile]


def test_landmark_warp_identity_and_motion(faces):
    image, mesh = faces["woman_frontal_neutral"]
    warp = LandmarkWarp(image, mesh)
    assert metrics.l1(warp(mesh), image) < 0.01
    moved = warp(mesh + [12.0, 0.0, 0.0])
    # the face moved right: the moved frame matches the original shifted 12 px right
    x0, x1 = int(mesh[:, 0].min()) + 20, int(mesh[:, 0].max()) - 20
    y0, y1 = int(mesh[:, 1].min()) + 20, int(mesh[:, 1].max()) - 20
    assert metrics.l1(moved[y0:y1, x0 + 12: x1 + 12], image[y0:y1, x0:x1]) < metrics.l1(moved[y0:y1, x0:x1], image[y0:y1, x0:x1])


def test_mouth_closure_and_blink_depth_known_values():
    driver = np.array([0.0, 0.005, 0.05, 0.1, 0.0])
    output = np.array([0.02, 0.03, 0.06, 0.08, 0.01])
    closure = metrics.mouth_closure(output, driver)
    assert closure["gap_closed"] == pytest.approx(0.02)  # frames 0, 1 and 4 are closed for the driver
    assert (closure["gap_max"], closure["driver_gap_max"]) == (0.08, 0.1)
    eyes = np.array([0.3] * 8 + [0.06, 0.3])
    out, drv = metrics.blink_depth(np.array([0.3] * 8 + [0.15, 0.3]), eyes)
    assert drv == pytest.approx(0.2) and out == pytest.approx(0.5)
    assert np.isnan(metrics.blink_depth(eyes, np.full(10, 0.3))[0])  # no blink, no measure


def test_teeth_colour_on_a_drawn_mouth():
    """Grey teeth in a grey photo: no tint; tinted teeth: the tint shows."""
    h, w = 200, 200
    image = np.full((h, w, 3), 150, np.uint8)
    points = np.zeros((478, 3))
    points[:, :2] = [100, 60]  # everything away from the mouth
    upper = np.stack([np.linspace(60, 140, 11), 100 - 10 * np.sin(np.linspace(0, np.pi, 11))], 1)
    lower = np.stack([np.linspace(60, 140, 11), 100 + 30 * np.sin(np.linspace(0, np.pi, 11))], 1)
    points[T.LIPS_INNER_UPPER, :2], points[T.LIPS_INNER_LOWER, :2] = upper, lower
    points[61, :2], points[291, :2] = [55, 100], [145, 100]
    points[13, :2], points[14, :2] = upper[5], lower[5]
    mouth = metrics._inside(image, points[T.MOUTH_INNER_LOOP, :2], 0.0)
    image[mouth] = 40
    image[mouth & (np.arange(h)[:, None] < 104)] = (235, 235, 235)  # a row of grey-white teeth
    assert metrics.teeth_saturation(image, points) == pytest.approx(0.0, abs=0.01)
    image[mouth & (np.arange(h)[:, None] < 104)] = (180, 230, 235)  # cyan teeth
    tinted = metrics.teeth_saturation(image, points)
    assert tinted > 0.2
    assert metrics.teeth_shift(np.array([tinted, np.nan]), 0.0, least=1) == pytest.approx(tinted)
    assert np.isnan(metrics.teeth_shift(np.array([tinted] * 9), 0.0))  # too few frames to judge
    assert np.isnan(metrics.teeth_shift(np.array([np.nan]), 0.0))
    assert metrics.teeth_reference(image, points) == pytest.approx(tinted)  # a photo's own teeth are its reference


def test_a_pale_lip_rim_inside_the_contour_is_not_teeth():
    """A tracker's inner-lip contour may cut into pale lips: with no teeth in the mouth, the
    strip of lip inside it is brighter than the dark interior but no brighter than the lips,
    so no teeth are found; real teeth there are."""
    h, w = 200, 200
    image = np.full((h, w, 3), (200, 160, 140), np.uint8)  # skin
    points = np.zeros((478, 3))
    points[:, :2] = [100, 40]
    x = np.linspace(60, 140, 11)
    arc = np.sin(np.linspace(0, np.pi, 11))
    points[T.LIPS_INNER_UPPER, :2] = np.stack([x, 100 - 10 * arc], 1)
    points[T.LIPS_INNER_LOWER, :2] = np.stack([x, 100 + 30 * arc], 1)
    points[T.LIPS_OUTER_UPPER, :2] = np.stack([x, 100 - 25 * arc], 1)
    points[T.LIPS_OUTER_LOWER, :2] = np.stack([x, 100 + 45 * arc], 1)
    points[[61, 291], :2] = [60, 100], [140, 100]
    points[13, :2], points[14, :2] = points[T.LIPS_INNER_UPPER[5], :2], points[T.LIPS_INNER_LOWER[5], :2]
    outer = metrics._inside(image, points[T.closed_loop(T.LIPS_OUTER_UPPER, T.LIPS_OUTER_LOWER), :2], 0.0)
    mouth = metrics._inside(image, points[T.MOUTH_INNER_LOOP, :2], 0.0)
    image[outer] = (225, 175, 170)  # pale lips, saturation under the red-flesh cut
    image[mouth] = 40
    rows = np.arange(h)[:, None]
    image[mouth & (rows < 98)] = (222, 172, 166)  # the upper lip's rim inside the contour
    assert len(metrics.teeth_pixels(image, points)) == 0
    image[mouth & (rows >= 98) & (rows < 104)] = (240, 238, 232)  # a row of teeth under it
    assert len(metrics.teeth_pixels(image, points)) >= 20



def test_warp_tears_finds_folds_and_streaks_not_rigid_motion():
    h, w = 200, 200
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    mask = np.ones((h, w), np.float32)
    face = np.tile([[100.0, 100.0, 0.0]], (478, 1))
    face[T.FACE_OVAL, :2] += 10 * np.column_stack([np.cos(np.linspace(0, 6.28, len(T.FACE_OVAL))),
                                                    np.sin(np.linspace(0, 6.28, len(T.FACE_OVAL)))])
    turn = np.radians(15)
    rigid = np.stack([np.cos(turn) * xs - np.sin(turn) * ys + 5, np.sin(turn) * xs + np.cos(turn) * ys - 3], -1)
    assert metrics.warp_tears(rigid, mask, face) == 0.0
    streak = np.stack([xs, ys], -1)
    streak[:40, :, 1] = 40 + (ys[:40] - 40) / 4  # the top rows drawn out 4x downwards from a thin band
    assert metrics.warp_tears(streak, mask, face) == pytest.approx(40 / 200, abs=0.02)
    fold = np.stack([xs, ys], -1)
    fold[:, :30, 0] = 60 - xs[:, :30]  # mirrored: drawn twice
    assert metrics.warp_tears(fold, mask, face) > 0.1
    with pytest.raises(ValueError, match="expected an"):
        metrics.warp_tears(xs, mask, face)


def test_turns_and_turn_ratio():
    from facedyn.geometry.pose import angles_to_rotation

    start = angles_to_rotation(30, 5, 0)
    driver = np.linspace(-20, 20, 41)
    rotations = np.array([angles_to_rotation(0.8 * y, 0, 0) @ start for y in driver])
    got = metrics.turns(rotations, start)
    assert np.allclose(got[:, 0], 0.8 * driver, atol=1e-6) and np.allclose(got[:, 1:], 0, atol=1e-6)
    assert metrics.turn_ratio(got[:, 0], driver) == pytest.approx(0.8)
    assert np.isnan(metrics.turn_ratio(got[:, 0], driver * 0.1))  # turns under 3 degrees say nothing
    rotations[3] = np.nan
    assert np.isnan(metrics.turns(rotations, start)[3]).all()
