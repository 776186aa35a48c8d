"""The mouth interior, the closing layers and the colour of moved pixels, on real photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facedyn.eval import metrics as M
from facedyn.io import load_image
from facedyn.render.colour import Light, relight, white_point
from facedyn.render.mouth import MouthInterior, drawn_patch
from facedyn.render.openings import draw_closed, openness, prepare_closings
from facedyn.tracking import FaceTracker
from facedyn.tracking import topology as T


@pytest.fixture(scope="module")
def photos(image_path):
    out = {}
    with FaceTracker() as tracker:
        for name in ("man_bw_photo", "man_glasses_beard_smile", "woman_frontal_neutral", "woman_open_mouth_surprised",
                     "man_turned_looking_up"):
            image = load_image(image_path(name))
            out[name] = (image, tracker.landmarks_in_box(image, tracker.detect_faces(image)[0]))
    return out


@pytest.fixture(scope="module")
def toothy_driver(video_path):
    """A real driving frame with a broad, toothy smile, and its landmarks."""
    from facedyn.io import iter_frames

    with FaceTracker() as tracker:
        tracker.reset_video()
        for k, frame in enumerate(iter_frames(video_path("woman_smile_happy"))):
            points = tracker.track(frame)
            if k >= 20 and points is not None and T.mouth_opening(points) > 0.25:
                return frame, points
    pytest.fail("no open-mouthed frame found")


def _opened(points: np.ndarray, amount: float) -> np.ndarray:
    """Landmarks with the lower lip and chin lowered by `amount` face sizes."""
    out = points.copy()
    below = out[:, 1] > out[[61, 291], 1].mean() + 1
    out[below, 1] += amount * float(T.face_size(points)) * np.clip((out[below, 1] - out[[61, 291], 1].mean()) / 20, 0, 1)
    out[T.LIPS_INNER_LOWER[1:-1], 1] = points[T.LIPS_INNER_LOWER[1:-1], 1] + amount * float(T.face_size(points))
    return out


def _lower_face_dropped(image: np.ndarray, points: np.ndarray, amount: float) -> np.ndarray:
    """The photo with everything below the mouth corners moved down as `_opened` moves the
    chin, so the target's lower lip lies on the photo's lower lip (the renderer's warp, roughly)."""
    corners = int(points[[61, 291], 1].mean()) + 1
    shift = int(round(amount * float(T.face_size(points))))
    out = image.copy()
    out[corners + shift:] = image[corners:len(image) - shift]
    return out


@pytest.mark.parametrize("name", ["woman_open_mouth_surprised", "man_turned_looking_up"])
def test_white_point_is_as_neutral_as_the_photos_own_teeth(photos, name):
    """Shades of grey alone is pulled to the skin and the background (a yellow wall: 0.49
    saturation against teeth at 0.29; pink skin on black: 0.17 against 0.03)."""
    image, points = photos[name]
    white = M._saturation(white_point(image, points) * 255)
    assert abs(white - M.teeth_saturation(image, points)) < 0.05


def test_relight_keeps_teeth_white_and_a_grey_photo_grey(photos, toothy_driver):
    frame, points = toothy_driver
    box = np.round(np.r_[points[T.MOUTH_INNER_LOOP, :2].min(0), points[T.MOUTH_INNER_LOOP, :2].max(0)]).astype(int)
    mouth = frame[box[1]: box[3], box[0]: box[2]].astype(np.float32)
    grey_photo = Light.of(*photos["man_bw_photo"])
    assert grey_photo.chroma < 2 and np.allclose(grey_photo.white, 1, atol=0.02)
    on_grey = relight(mouth, Light.of(frame, points), grey_photo)
    assert M._saturation(on_grey).mean() < 0.03  # no pink tongue or tinted teeth in a black and white photo
    # A grey-white tooth under neutral light becomes white under a warm light (no clipping at
    # this brightness), whatever the light's colourfulness.
    neutral, warm = Light(np.ones(3), 20.0, 60.0), Light(np.array([1.0, 0.8, 0.6]), 25.0, 60.0)
    tooth = np.full((4, 4, 3), 170.0, np.float32)
    assert M._saturation(relight(tooth, neutral, warm)).mean() == pytest.approx(M._saturation(warm.white * 255), abs=0.05)
    assert M._saturation(relight(tooth, warm, neutral)).mean() < 0.02  # and back
    # Skin tones differ, teeth do not: a bright tooth keeps its lightness on a paler face.
    dark_skin, pale_skin = Light(np.ones(3), 20.0, 35.0), Light(np.ones(3), 20.0, 75.0)
    bright = np.full((4, 4, 3), 220.0, np.float32)
    assert relight(bright, dark_skin, pale_skin).mean() == pytest.approx(220.0, abs=3)


def test_barely_parted_lips_show_no_teeth(photos):
    """A gap of a few pixels shows the dark of the mouth, never a row of grey tooth blocks."""
    image, points = photos["woman_frontal_neutral"]
    interior = MouthInterior(image, points)
    target = points.copy()
    target[T.MOUTH_PAIRS[:, 1], 1] = target[T.MOUTH_PAIRS[:, 0], 1] + 1.5  # lips parted by 1.5 pixels
    out = image.copy()
    interior.draw(out, target)
    inside = M._inside(out, target[T.MOUTH_INNER_LOOP, :2], 0.0)
    brighter = out.astype(np.float32) @ [0.299, 0.587, 0.114] - image.astype(np.float32) @ [0.299, 0.587, 0.114]
    assert inside.any() and brighter[inside].max() < 40  # the dark of the mouth over its darkest seam; teeth: +100


def test_own_teeth_stay_under_the_upper_lip_as_the_jaw_drops(photos):
    """Upper teeth hang from the upper lip: opening the jaw moves the lower lip away from
    them (showing the dark of the mouth) and leaves them where they were."""
    image, points = photos["man_turned_looking_up"]
    interior = MouthInterior(image, points)
    assert interior.own is not None
    target = _opened(points, 0.1)
    out = image.copy()
    interior.draw(out, target)
    teeth_rows = lambda img, pts: np.flatnonzero(  # noqa: E731
        (M._inside(img, pts[T.MOUTH_INNER_LOOP, :2], 0.0) & (img.astype(np.float32) @ [0.299, 0.587, 0.114] > 150)).any(1))
    before, after = teeth_rows(image, points), teeth_rows(out, target)
    assert len(after) and abs(np.median(after) - np.median(before)) < 3


def test_a_photo_showing_teeth_reuses_its_own(photos):
    smile = MouthInterior(*photos["man_glasses_beard_smile"])
    closed = MouthInterior(*photos["woman_frontal_neutral"])
    assert smile.own is not None and closed.own is None


def test_own_teeth_follow_the_lips(photos):
    """Drawn at the photo's own mouth, the photo's interior comes back where it was."""
    image, points = photos["man_glasses_beard_smile"]
    interior = MouthInterior(image, points)
    out = image.copy()
    interior.draw(out, points)
    inside = M._inside(image, points[T.MOUTH_INNER_LOOP, :2], 0.1)
    assert np.abs(out[inside].astype(int) - image[inside]).mean() < 6


@pytest.mark.parametrize("name", ["man_bw_photo", "woman_frontal_neutral"])
def test_drawn_teeth_are_teeth(photos, name):
    """A drawn interior for an opened mouth: bright teeth as neutral as the photo's white,
    upper ones larger in the middle, a dark mouth behind them."""
    image, points = photos[name]
    interior = MouthInterior(image, points)
    target = _opened(points, 0.12)
    out = _lower_face_dropped(image, points, 0.12)
    interior.draw(out, target)
    teeth = M.teeth_pixels(out, target)
    assert len(teeth) > 50
    white = white_point(image, points)
    assert abs(M._saturation(teeth).mean() - M._saturation(white * 255)) < 0.05
    inside = out[M._inside(out, target[T.MOUTH_INNER_LOOP, :2], 0.05)].astype(np.float32) @ [0.299, 0.587, 0.114]
    assert np.percentile(inside, 10) < 0.35 * np.percentile(inside, 95)  # a dark cavity behind bright teeth


def test_drawn_patch_has_no_regular_stripes(photos):
    """Teeth of different widths, not a comb of evenly spaced lines: the row's brightness
    has no single dominant period."""
    image, points = photos["woman_frontal_neutral"]
    target = _opened(points, 0.12)
    box = (int(target[61, 0]) - 5, int(target[13, 1]) - 5, int(target[291, 0] - target[61, 0]) + 10, 40)
    patch = drawn_patch(target, box, MouthInterior(image, points).colours)
    row = patch[8:14].mean(axis=(0, 2))
    spectrum = np.abs(np.fft.rfft(row - row.mean()))[2:]
    assert spectrum.max() < 0.5 * spectrum.sum()


def test_both_eyes_and_the_mouth_measure_open_in_the_photo(photos):
    """Each opening of a photo is as open as itself (the left eye's contour runs the other way)."""
    image, points = photos["man_glasses_beard_smile"]
    closings = prepare_closings(image, points)
    assert [c.kind for c in closings] == ["eye", "eye", "mouth"]
    assert all(c.gap > 1.0 and openness(c, points) == pytest.approx(1.0) for c in closings)


def test_a_shut_eye_hides_the_eye(photos):
    """With the lids together, the eye's closing layer leaves no white of the eye nor iris."""
    image, points = photos["woman_frontal_neutral"]
    closings = prepare_closings(image, points)
    eye = closings[0]
    shut = points.copy()
    middle = (shut[eye.pairs[:, 0], 1] + shut[eye.pairs[:, 1], 1]) / 2
    shut[eye.pairs[:, 0], 1] = shut[eye.pairs[:, 1], 1] = middle
    assert openness(eye, shut) < 0.05 and openness(eye, points) == pytest.approx(1.0)
    h, w = image.shape[:2]
    identity = np.dstack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
    out = image.copy()
    draw_closed(out, identity, eye, shut)
    opening = M._inside(image, points[T.RIGHT_EYE_LOOP, :2], 0.0)
    upper_y, lower_y = points[eye.pairs[:, 0], 1].mean(), points[eye.pairs[:, 1], 1].mean()
    lower_half = opening & (np.arange(image.shape[0])[:, None] > upper_y + 0.67 * (lower_y - upper_y))
    def spread_down_columns(x: np.ndarray) -> float:
        grey = np.where(lower_half, cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(float), np.nan)
        return float(np.nanmean(np.nanstd(grey[:, lower_half.any(0)], axis=0)))

    # the bottom of the eye (white, iris, the lid's edge): lid skin, one colour down each column
    assert spread_down_columns(out) < 0.4 * spread_down_columns(image)


def test_the_eye_squeezed_beside_a_shut_lid_is_repainted(photos):
    """The map squeezes the photo's opening into a sliver beside the closure line (and the
    tracker's upper contour runs a pixel inside the eye, so the lid carries a strip of eye
    down): those pixels show the closed look, not a line of eye white and iris above the
    lashes (the photo looking up blinked with a grey-green line over its lash line)."""
    image, points = photos["man_turned_looking_up"]
    eye = prepare_closings(image, points)[0]
    shut = points.copy()
    middle = (shut[eye.pairs[:, 0], 1] + shut[eye.pairs[:, 1], 1]) / 2
    shut[eye.pairs[:, 0], 1] = shut[eye.pairs[:, 1], 1] = middle
    h, w = image.shape[:2]
    warp = np.dstack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
    # Two rows above the closure line show the photo's eye, row for row from its middle.
    x0, x1 = int(points[eye.pairs[1:-1, 0], 0].min()), int(points[eye.pairs[1:-1, 0], 0].max())
    y = int(np.floor(middle.min())) - 3
    centre = (points[eye.pairs[1:-1, 0], 1] + points[eye.pairs[1:-1, 1], 1]).mean() / 2
    warp[y:y + 2, x0:x1, 1] = np.float32(centre) + np.arange(2, dtype=np.float32)[:, None] - 1
    out = cv2.remap(image, warp, None, cv2.INTER_LINEAR)
    before = out[y:y + 2, x0:x1].astype(float)
    draw_closed(out, warp, eye, shut)
    local = warp[y:y + 2, x0:x1] - np.float32(eye.origin)
    closed_look = cv2.remap(eye.texture, local, None, cv2.INTER_LINEAR).astype(float)
    after = out[y:y + 2, x0:x1].astype(float)
    assert np.abs(after - closed_look).mean() < 0.25 * np.abs(before - closed_look).mean()


def test_the_teeth_parting_follows_the_whole_row_of_teeth():
    """A smile showing only upper teeth, dark at its corners: the parting runs under the
    whole row (one share of the opening), not up into the corners' shadow, which handed
    the side teeth to the lower lip and tore the row apart in a V."""
    from facedyn.render.mouth import _teeth_parting

    h, w = 50, 120
    xs = np.arange(w, dtype=np.float64)
    top = np.full(w, 8.0)
    bottom = 8.0 + 32.0 * np.sin(np.pi * (xs + 0.5) / w)
    rows = np.arange(h)[:, None]
    roi = np.full((h, w, 3), 200.0, np.float32)  # lips
    inside = (rows > top) & (rows < bottom)
    roi[inside] = 235.0  # teeth
    roi[inside & (rows > bottom - 4)] = 30.0  # the shadow under the teeth, above the lower lip
    corners = inside & ((xs < 25) | (xs >= w - 25)) & (rows < top + 4)
    roi[corners] = 20.0  # a smile's dark corners, just under the upper lip
    split = _teeth_parting(roi, top, bottom)
    share = (split - top) / (bottom - top)
    sides = (bottom - top > 8) & ((xs < 25) | (xs >= w - 25))
    assert share[w // 2] > 0.7
    assert np.all(np.abs(share[sides] - share[w // 2]) < 0.1)


def test_barely_parted_lips_are_painted_only_between_them(photos):
    """The photo's own interior runs a sliver past the lips only as the mouth opens: over
    lips a pixel or two apart it drew a thick dark line along the seam."""
    image, points = photos["man_glasses_beard_smile"]
    target = points.copy()
    target[T.LIPS_INNER_LOWER, :2] = target[T.LIPS_INNER_UPPER, :2] + [0.0, 1.5]
    target[14, :2] = target[13, :2] + [0.0, 1.5]
    interior = MouthInterior(image, points)
    assert interior.own is not None  # he shows his teeth: his own interior is the one drawn
    out = image.copy()
    interior.draw(out, target)
    changed = np.abs(out.astype(int) - image.astype(int)).max(-1) > 8
    between = M._inside(out, target[T.MOUTH_INNER_LOOP, :2], 0.0)
    near = cv2.dilate(between.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert changed.any() and not (changed & ~near).any()


def test_the_strip_above_an_eye_spans_only_the_eye():
    """The strip above the upper lid runs corner to corner of the eye, and is empty when the
    eye lies outside the image (without the guard it would spread across the whole box)."""
    from facedyn.render.openings import _eye_above_contour

    hole = np.zeros((10, 12), bool)
    assert not _eye_above_contour(hole, np.full(12, 5.0), 2).any()
    hole[4:7, 3:8] = True
    strip = _eye_above_contour(hole, np.full(12, 5.0), 2)
    assert list(np.flatnonzero(strip.any(0))) == [3, 4, 5, 6, 7] and list(np.flatnonzero(strip.any(1))) == [3, 4]
