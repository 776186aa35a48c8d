import numpy as np
import pytest

from facedyn.dynamics import dynamics_from_landmarks
from facedyn.geometry import regions
from facedyn.geometry.pose import angles_to_rotation, fit_head_pose, rotation_to_angles, template, umeyama
from facedyn.geometry.retarget import RetargetConfig, Retargeter
from facedyn.io import load_image
from facedyn.tracking import FaceTracker
from facedyn.tracking import topology as T


def test_umeyama_recovers_a_similarity():
    rng = np.random.default_rng(1)
    src = rng.standard_normal((50, 3))
    rot = angles_to_rotation(20, -10, 5)
    dst = 2.5 * src @ rot.T + [3, -1, 2]
    r, t, s = umeyama(src, dst)
    assert np.allclose(r, rot) and np.allclose(t, [3, -1, 2]) and np.isclose(s, 2.5)


@pytest.mark.parametrize("dims", [2, 3])
def test_umeyama_never_returns_a_reflection(dims):
    """A mirrored target gets the best proper rotation (determinant +1), not a mirror."""
    rng = np.random.default_rng(2)
    src = rng.standard_normal((40, dims))
    mirrored = src * np.r_[-1.0, np.ones(dims - 1)]
    dst = 1.5 * mirrored + 0.5
    r, t, s = umeyama(src, dst)
    assert np.isclose(np.linalg.det(r), 1.0) and 0 < s < 1.5

    def misfit(rotation: np.ndarray) -> float:  # at this scale, with the best translation
        moved = s * src @ rotation.T
        return float(np.linalg.norm(moved - moved.mean(0) - (dst - dst.mean(0))))

    for angle in np.linspace(0, 2 * np.pi, 24, endpoint=False):  # no in-plane turn fits better
        other = np.eye(dims)
        other[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
        assert misfit(r) <= misfit(other) + 1e-9


@pytest.mark.parametrize("angles", [(0, 0, 0), (25, -10, 5), (-30, 15, -20)])
def test_angles_round_trip(angles):
    assert np.allclose(rotation_to_angles(angles_to_rotation(*angles)), angles)


def test_template_pose_is_frontal_and_rotations_are_recovered():
    shape = template().shape * 200 + [256, 256, 0]
    assert np.allclose(fit_head_pose(shape).angles, 0, atol=1e-6)
    turned = 200 * template().shape @ angles_to_rotation(15, 5, -8).T + [256, 256, 0]
    assert np.allclose(fit_head_pose(turned).angles, [15, 5, -8], atol=1e-6)


@pytest.fixture(scope="module")
def faces(image_path):
    out = {}
    with FaceTracker() as tracker:
        for name in ("man_turned_looking_up", "woman_frontal_neutral", "woman_open_mouth_surprised",
                     "man_glasses_beard_smile"):
            img = load_image(image_path(name))
            out[name] = tracker.landmarks_in_box(img, tracker.detect_faces(img)[0])
            flipped = img[:, ::-1].copy()
            out[name + "_flipped"] = tracker.landmarks_in_box(flipped, tracker.detect_faces(flipped)[0])
    return out


def test_flipped_face_flips_yaw_sign(faces):
    yaw = fit_head_pose(faces["man_turned_looking_up"]).angles[0]
    yaw_flipped = fit_head_pose(faces["man_turned_looking_up_flipped"]).angles[0]
    assert yaw < -10 and yaw_flipped > 10  # SOURCES.md: about -24 degrees
    assert abs(yaw + yaw_flipped) < 5


def test_driver_at_reference_leaves_source_unchanged(faces):
    src = faces["woman_frontal_neutral"]
    reference, _ = dynamics_from_landmarks(faces["woman_open_mouth_surprised"])
    target, _ = Retargeter(src, reference, RetargetConfig(mode="relative"))(reference)
    assert np.abs(target - src).max() < 1e-6 * np.abs(src).max()


def test_hybrid_gives_the_drivers_opening_and_keeps_the_rest(faces):
    """Hybrid at the driver's reference: the mouth opens as wide as the driver's (scaled to
    this face) though the reference means "no change"; nothing above the mouth moves."""
    src = faces["woman_frontal_neutral"]
    reference, _ = dynamics_from_landmarks(faces["woman_open_mouth_surprised"])
    retarget = Retargeter(src, reference, RetargetConfig())
    target, _ = retarget(reference)
    scale = retarget._axis_scale[1]
    assert regions.mouth_gap(retarget.shape(reference)) == pytest.approx(regions.mouth_gap(reference.shape) * scale, rel=0.02)
    above = src[:, 1] < src[[61, 291], 1].min() - 0.1 * T.face_size(src)
    assert np.abs(target[above] - src[above]).max() < 1e-6 * np.abs(src).max()


def test_relative_mode_transfers_changes_not_identity(faces):
    src = faces["woman_frontal_neutral"]
    surprised = faces["woman_open_mouth_surprised"]
    neutral_drv = surprised.copy()  # the same driver with its mouth closed
    reference, pose = dynamics_from_landmarks(neutral_drv)
    head = pose.to_head_frame(surprised)
    closed = regions.open_jaw(head, -regions.mouth_gap(head))
    reference, _ = dynamics_from_landmarks(pose.to_image(closed))
    frame, _ = dynamics_from_landmarks(surprised, pose)
    target, _ = Retargeter(src, reference, RetargetConfig())(frame)
    assert T.mouth_opening(target) > T.mouth_opening(src) + 0.3
    # Identity: the eye spacing and nose length stay the source's (in its pixels), not the driver's.
    for a, b in ((33, 263), (168, 2)):
        assert np.linalg.norm(target[a, :2] - target[b, :2]) == pytest.approx(np.linalg.norm(src[a, :2] - src[b, :2]), rel=0.02)


def test_blink_closes_any_eye_and_lids_never_cross(faces):
    src = faces["woman_frontal_neutral"]
    ref, pose = dynamics_from_landmarks(faces["woman_open_mouth_surprised"])
    head = pose.to_head_frame(faces["woman_open_mouth_surprised"])
    for gap, expect_closed in ((0.0, True), (-0.05, True)):  # closed, and an over-closed (noisy) blink
        blink = regions.set_eye_gaps(head, np.full((2, 7), gap))
        frame, _ = dynamics_from_landmarks(pose.to_image(blink), pose)
        retargeter = Retargeter(src, ref, RetargetConfig())
        gaps = regions.eye_gaps(retargeter.shape(frame))  # in the head frame: a refit pose would add its own noise
        assert gaps.min() >= -1e-9
        assert (gaps.mean() < 0.1 * regions.eye_gaps(retargeter.source_shape).mean()) == expect_closed


def test_multipliers_scale_regions(faces):
    src = faces["woman_frontal_neutral"]
    ref, pose = dynamics_from_landmarks(faces["woman_frontal_neutral"])
    head = pose.to_head_frame(faces["woman_frontal_neutral"])
    frame, _ = dynamics_from_landmarks(pose.to_image(regions.open_jaw(head, 0.1)), pose)
    openings = [T.mouth_opening(Retargeter(src, ref, RetargetConfig(mouth=m))(frame)[0]) for m in (0.0, 1.0, 2.0)]
    assert openings[0] < openings[1] < openings[2]
    still = Retargeter(src, ref, RetargetConfig(expression_scale=0.0))(frame)[0]
    assert np.allclose(still, src, atol=1e-6)


def test_pose_scale_and_absolute_mode(faces):
    src = faces["woman_frontal_neutral"]
    ref, _ = dynamics_from_landmarks(src)
    turned = ref.__class__(angles_to_rotation(20, 0, 0) @ ref.rotation, ref.translation, 1.0, ref.shape)
    src_yaw = fit_head_pose(src).angles[0]
    for k in (0.0, 0.5, 1.0):
        _, pose = Retargeter(src, ref, RetargetConfig(pose_scale=k))(turned)
        assert abs(pose.angles[0] - (src_yaw + 20 * k)) < 1.0
    _, pose = Retargeter(src, ref, RetargetConfig(mode="absolute"))(turned)
    assert abs(pose.angles[0] - turned.angles[0]) < 1e-6


# -- openness is expression: closing a photo's open mouth ---------------------------------------

@pytest.mark.parametrize("name", ["man_glasses_beard_smile", "man_turned_looking_up", "woman_open_mouth_surprised"])
def test_close_mouth_shuts_an_open_photo_without_tearing(faces, name):
    from facedyn.geometry.folds import folded

    points = faces[name]
    head = fit_head_pose(points).to_head_frame(points)
    closed = regions.close_mouth(head)
    gaps = closed[T.MOUTH_PAIRS[:, 1], 1] - closed[T.MOUTH_PAIRS[:, 0], 1]
    assert regions.mouth_gap(head) > 0.05 and np.abs(gaps).max() < 0.003  # the lips meet along the mouth
    assert folded(closed, head).sum() <= 10  # a wide "O" may leave slivers at the corners, never a tear
    above = head[:468, 1] < head[T.NOSE_TIP, 1]
    assert np.abs(closed[:468][above] - head[:468][above]).max() < 1e-9  # nothing from the nose up moves


def test_close_mouth_raises_an_open_jaw_and_leaves_a_smile_to_the_lips(faces):
    surprised = fit_head_pose(faces["woman_open_mouth_surprised"]).to_head_frame(faces["woman_open_mouth_surprised"])
    smile = fit_head_pose(faces["man_glasses_beard_smile"]).to_head_frame(faces["man_glasses_beard_smile"])
    chin_up = [h[T.CHIN, 1] - regions.close_mouth(h)[T.CHIN, 1] for h in (surprised, smile)]
    assert chin_up[0] > 0.1 and abs(chin_up[1]) < 0.01  # the jaw closes the "O"; the lips close over the teeth


def test_hybrid_closes_a_teeth_showing_photo_and_opens_a_closed_one(faces):
    """The default mode: the driver's closed lips close the photo's, whatever the photo's own
    opening; the driver's open mouth opens a closed-mouth photo as wide (scaled)."""
    driver = faces["woman_frontal_neutral"]
    ref, pose = dynamics_from_landmarks(driver)
    head = pose.to_head_frame(driver)
    closed_frame, _ = dynamics_from_landmarks(pose.to_image(regions.open_jaw(head, -regions.mouth_gap(head))), pose)
    open_frame, _ = dynamics_from_landmarks(pose.to_image(regions.open_jaw(head, 0.15)), pose)
    smile = Retargeter(faces["man_glasses_beard_smile"], ref, RetargetConfig())
    assert regions.mouth_gap(smile.shape(closed_frame)) < 0.003
    relative = Retargeter(faces["man_glasses_beard_smile"], ref, RetargetConfig(mode="relative"))
    assert regions.mouth_gap(relative.shape(closed_frame)) > 0.05  # relative mode keeps the photo's teeth showing
    sad = Retargeter(faces["woman_open_mouth_surprised"], ref, RetargetConfig())
    assert regions.mouth_gap(sad.shape(closed_frame)) < 0.003
    wide = Retargeter(faces["man_turned_looking_up"], ref, RetargetConfig()).shape(open_frame)
    assert regions.mouth_gap(wide) > 0.12


def test_rig_motion_counts_its_neutral_as_closed(faces):
    """Rig-made motion rests on the template, whose lips part a little: at rest it must close
    a teeth-showing photo's lips, not keep them apart."""
    from facedyn import drivers

    motion = drivers.expression("neutral", 0.4, fps=10).open()
    frame = next(motion.frames).dynamics
    assert motion.closed_gap == pytest.approx(regions.mouth_gap(template().shape))
    retarget = Retargeter(faces["man_glasses_beard_smile"], motion.reference, RetargetConfig(), motion.closed_gap)
    assert regions.mouth_gap(retarget.shape(frame)) < 0.003


def test_a_reference_caught_mid_blink_does_not_widen_the_photos_eyes(faces):
    """A driver whose first frame has its eyes shut: open eyes later must give the photo its
    own open eyes (hybrid), where changes from the shut reference, scaled by the eyes'
    ratio, opened them several times as wide (relative)."""
    driver, photo = faces["woman_frontal_neutral"], faces["man_glasses_beard_smile"]
    _, pose = dynamics_from_landmarks(driver)
    head = pose.to_head_frame(driver)
    shut, _ = dynamics_from_landmarks(pose.to_image(regions.set_eye_gaps(head, 0.1 * regions.eye_gaps(head))), pose)
    opened, _ = dynamics_from_landmarks(driver, pose)
    own = regions.eye_gaps(fit_head_pose(photo).to_head_frame(photo)).mean()
    hybrid = regions.eye_gaps(Retargeter(photo, shut, RetargetConfig()).shape(opened)).mean()
    relative = regions.eye_gaps(Retargeter(photo, shut, RetargetConfig(mode="relative")).shape(opened)).mean()
    assert hybrid < 1.5 * own < relative
    closing = regions.eye_gaps(Retargeter(photo, shut, RetargetConfig()).shape(shut)).mean()
    assert closing < 0.2 * own  # the shut reference itself still shuts the photo's eyes


def test_a_photo_with_its_eyes_shut_opens_them_to_the_drivers_open_eyes(faces):
    """A photo taken mid-blink (the first frame of a clip driving itself): the eyes'
    ratio against a shut reference clipped at 0.3, so its eyes could barely open; its eyes
    now rest open, the shut reference still shuts them and an open frame opens them."""
    driver = faces["woman_frontal_neutral"]
    _, pose = dynamics_from_landmarks(driver)
    head = pose.to_head_frame(driver)
    shut_head = regions.set_eye_gaps(head, 0.1 * regions.eye_gaps(head))
    shut, _ = dynamics_from_landmarks(pose.to_image(shut_head), pose)
    opened, _ = dynamics_from_landmarks(driver, pose)
    photo = pose.to_image(shut_head)
    retarget = Retargeter(photo, shut, RetargetConfig())
    own_open = regions.eye_gaps(head).mean()
    assert regions.eye_gaps(retarget.shape(opened)).mean() > 0.7 * own_open
    assert regions.eye_gaps(retarget.shape(shut)).mean() < 0.2 * own_open
    relative = Retargeter(photo, shut, RetargetConfig(mode="relative"))
    assert regions.eye_gaps(relative.shape(opened)).mean() > 0.7 * own_open  # relative: the shut reference is "no change"


def test_a_blink_shuts_the_eyes_of_a_face_looking_up(faces):
    """Lids that meet in height meet in depth too: closed only in y, the lids of a pitched
    head stay apart in the picture (the photo looking up kept about a fifth of its eye open)."""
    src = faces["man_turned_looking_up"]
    driver = faces["woman_frontal_neutral"]
    ref, pose = dynamics_from_landmarks(driver)
    head = pose.to_head_frame(driver)
    blink = regions.set_eye_gaps(head, np.zeros((2, 7)))
    blink[np.concatenate([T.RIGHT_EYE_PAIRS[:, 1], T.LEFT_EYE_PAIRS[:, 1]]), 2] += 0.03  # lower lids behind, as tracked
    frame, _ = dynamics_from_landmarks(pose.to_image(blink), pose)
    target, _ = Retargeter(src, ref, RetargetConfig())(frame)
    for pairs in (T.RIGHT_EYE_PAIRS, T.LEFT_EYE_PAIRS):  # in the picture, each eye under a tenth of the photo's
        photo_gap = (src[pairs[:, 1], 1] - src[pairs[:, 0], 1]).mean()
        assert np.abs(target[pairs[:, 1], 1] - target[pairs[:, 0], 1]).mean() < 0.1 * photo_gap


@pytest.mark.parametrize("photo", ["woman_frontal_neutral", "man_turned_looking_up", "woman_open_mouth_surprised"])
def test_a_shut_lid_carries_its_lash_band(faces, photo):
    """A closing upper lid takes the band of lashes above its contour with it: left behind,
    the warp stretched the photo's lashes into a thick dark band that read as an open eye."""
    driver = faces["woman_frontal_neutral"]
    ref, pose = dynamics_from_landmarks(driver)
    blink = regions.set_eye_gaps(pose.to_head_frame(driver), np.zeros((2, 7)))  # only the contours move
    frame, _ = dynamics_from_landmarks(pose.to_image(blink), pose)
    retargeter = Retargeter(faces[photo], ref, RetargetConfig())
    target, rest = retargeter.shape(frame), retargeter.source_shape
    photo_gaps = regions.eye_gaps(rest)
    for k, (contour, ring) in enumerate(((T.RIGHT_EYE_UPPER[1:-1], T.RIGHT_LASH_RING),
                                         (T.LEFT_EYE_UPPER[1:-1], T.LEFT_LASH_RING))):
        assert (target[contour, 1] - rest[contour, 1]).mean() > 0.5 * photo_gaps[k].mean()  # the lid came down
        band = target[contour, 1] - target[ring, 1]
        assert (band > 0).all()  # the ring stays above the lid
        assert (band <= rest[contour, 1] - rest[ring, 1] + 1e-9).all()  # and the lashes are not stretched


def test_closed_lips_are_a_dead_zone_and_meet_in_depth(faces):
    """A tracker parts closed lips by a few thousandths: the photo's lips stay shut; and lips
    that meet in y meet in z too, so a pitched head does not part them again."""
    from facedyn.geometry.retarget import LIPS_MEET, _closed_below

    assert _closed_below(0.5 * LIPS_MEET) == 0.0 and _closed_below(2 * LIPS_MEET) == pytest.approx(2 * LIPS_MEET)
    driver = faces["woman_frontal_neutral"]
    ref, pose = dynamics_from_landmarks(driver)
    head = pose.to_head_frame(driver)
    parted = regions.open_jaw(head, 0.5 * LIPS_MEET - regions.mouth_gap(head))
    parted[T.MOUTH_PAIRS[:, 1], 2] += 0.03  # the lower lip behind the upper, as a tracker may place it
    frame, _ = dynamics_from_landmarks(pose.to_image(parted), pose)
    target = Retargeter(faces["woman_open_mouth_surprised"], ref, RetargetConfig()).shape(frame)
    upper, lower = T.MOUTH_PAIRS[:, 0], T.MOUTH_PAIRS[:, 1]
    assert np.abs(target[lower, 1] - target[upper, 1]).max() < 1e-3
    assert np.abs(target[lower, 2] - target[upper, 2]).max() < 1e-3


@pytest.mark.parametrize("mode", ["hybrid", "relative"])
def test_a_driver_thinning_its_upper_lip_does_not_fold_the_photos(faces, mode):
    """A driver whose inner upper lip rises well into its lip (as 68-point fits of a talking
    mouth do), added to a photo's thinner lip, must not draw the contour past the rings
    outside it: each band keeps part of its thickness, and no lip triangle turns over."""
    from facedyn.geometry.folds import folded

    src = faces["woman_frontal_neutral"]
    reference, pose = dynamics_from_landmarks(src)
    head = pose.to_head_frame(src)
    thin = head.copy()
    inner_upper = T.LIPS_UPPER_RINGS[0, 1:-1]
    thin[inner_upper, 1] -= 0.03  # three times the frontal face's upper lip band
    frame, _ = dynamics_from_landmarks(pose.to_image(thin), pose)
    retarget = Retargeter(src, reference, RetargetConfig(mode=mode))
    shape = retarget.shape(frame)
    rings = T.LIPS_UPPER_RINGS[:, 1:-1]
    bands = shape[rings[:-1], 1] - shape[rings[1:], 1]
    rest_bands = retarget.rest_shape[rings[:-1], 1] - retarget.rest_shape[rings[1:], 1]
    assert (bands >= 0.099 * np.maximum(rest_bands, 0)).all()
    lip_triangles = np.isin(T.face_triangles(), T.LIPS_UPPER_RINGS).all(axis=1)
    assert not folded(shape, retarget.rest_shape)[lip_triangles].any()
    # A driver at its reference moves nothing in relative mode.
    if mode == "relative":
        assert np.abs(retarget.shape(reference) - retarget.source_shape).max() < 1e-9
