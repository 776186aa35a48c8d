"""End to end on real media: photo + driving video -> video file."""

import av
import numpy as np
import pytest

from facedyn import AnimatorConfig, InputError, NoFaceError, RenderConfig, drivers
from facedyn.animator import Animator
from facedyn.io import iter_frames, probe_video
from facedyn.tracking import FaceTracker
from facedyn.tracking import topology as T


def track_all(frames):
    with FaceTracker() as tracker:
        tracker.reset_video()
        pts = [tracker.track(f) for f in frames]
    assert sum(p is None for p in pts) <= 0.02 * len(pts)
    last = next(p for p in pts if p is not None)
    filled = []
    for p in pts:
        last = p if p is not None else last
        filled.append(last)
    return np.array(filled)


@pytest.fixture(scope="module")
def crop_run(tmp_path_factory, image_path, video_path):
    """woman_frontal_neutral driven by woman_blinks_gaze_squint, working crop written."""
    out = tmp_path_factory.mktemp("anim") / "out.mp4"
    with Animator(AnimatorConfig(render=RenderConfig(paste_back=False))) as anim:
        source = anim.load_source(image_path("woman_frontal_neutral"))
        anim.animate(source, drivers.video(video_path("woman_blinks_gaze_squint"))).save(out)
    return source, out, video_path("woman_blinks_gaze_squint")


def test_output_keeps_frame_count_fps_and_audio(crop_run):
    _, out, driving = crop_run
    got, want = probe_video(out), probe_video(driving)
    assert (got.frame_count, got.fps, got.has_audio) == (want.frame_count, want.fps, True)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"


def test_eyes_and_mouth_follow_the_driver(crop_run):
    _, out, driving = crop_run
    produced, driver = track_all(list(iter_frames(out))), track_all(list(iter_frames(driving)))
    eyes = np.corrcoef(T.eye_opening(produced).mean(1), T.eye_opening(driver).mean(1))[0, 1]
    mouth = np.corrcoef(T.mouth_opening(produced), T.mouth_opening(driver))[0, 1]
    assert eyes > 0.8 and mouth > 0.8, (eyes, mouth)
    # Blinks close: the output's eyes get well below half of the source's opening.
    assert T.eye_opening(produced).mean(1).min() < 0.5 * T.eye_opening(produced[:1]).mean()


def test_gaze_follows_the_driver(crop_run):
    from facedyn.dynamics import dynamics_from_landmarks

    _, out, driving = crop_run

    def gaze_x(frames):
        return np.array([dynamics_from_landmarks(p)[0].gaze[:, 0].mean() for p in track_all(frames)])

    r = np.corrcoef(gaze_x(list(iter_frames(out))), gaze_x(list(iter_frames(driving))))[0, 1]
    assert r > 0.7, r


def test_background_outside_the_person_stays_still(crop_run):
    source, out, _ = crop_run
    import cv2

    person = (source.layers.mask > 0.02).astype(np.uint8)
    far = cv2.dilate(person, np.ones((41, 41), np.uint8)) == 0
    assert far.mean() > 0.1  # there is background to check
    frames = np.array(list(iter_frames(out)), dtype=np.float32)[:, : far.shape[0], : far.shape[1]]
    still = np.abs(frames - frames[0]).max(axis=-1)[:, far]
    assert np.percentile(still, 99) < 8  # codec noise only
    assert np.abs(frames[0][far] - source.layers.image[far]).mean() < 3


def test_paste_back_keeps_full_resolution(tmp_path, animator, image_path, video_path):
    photo = image_path("man_bw_photo")  # 2048 x 2048, small face
    driving = video_path("man_dreadlocks_expressive")  # 60 frames at 11.99 fps, no audio
    source = animator.load_source(photo)
    out = animator.animate(source, drivers.video(driving)).save(tmp_path / "o.mp4")
    info = probe_video(out)
    assert (info.width, info.height, info.frame_count, info.has_audio) == (2048, 2048, 60, False)
    assert info.fps == probe_video(driving).fps
    first = next(iter_frames(out)).astype(np.float32)
    crop = source.layers.crop
    outside = np.ones((2048, 2048), bool)
    outside[crop.y0: crop.y0 + crop.height, crop.x0: crop.x0 + crop.width] = False
    assert np.abs(first[outside] - source.layers.photo[outside]).mean() < 2


def test_several_faces_default_to_largest_and_face_selects(animator, image_path, caplog):
    from facedyn.io import load_image

    big = load_image(image_path("woman_frontal_neutral"))  # 474 x 474
    small = load_image(image_path("woman_sad"))[::2, ::2]  # 256 x 256
    photo = np.full((474, 474 + 256, 3), 120, np.uint8)
    photo[:, 256:] = big
    photo[:256, :256] = small
    source = animator.load_source(photo)
    assert (source.face_count, source.face_index) == (2, 1)
    assert "2 faces" in caplog.text
    assert animator.load_source(photo, face=0).layers.crop.x0 < 256
    with pytest.raises(InputError, match="out of range"):
        animator.load_source(photo, face=2)


def test_no_face_anywhere(animator, image_path, faceless_video):
    with pytest.raises(NoFaceError, match="no face"):
        animator.load_source(np.full((300, 300, 3), 200, np.uint8))
    source = animator.load_source(image_path("woman_sad"))
    with pytest.raises(NoFaceError, match="any frame"):
        animator.animate(source, drivers.video(faceless_video))


def test_frames_without_a_face_are_filled_and_counted(tmp_path, animator, image_path, video_path, caplog):
    from tests.conftest import write_video

    frames = list(iter_frames(video_path("woman_smile_happy")))[:30]
    for i in (0, 10, 11, 12):
        frames[i] = np.full_like(frames[i], 90)  # the face disappears
    driving = write_video(tmp_path / "gaps.mp4", frames)
    animation = animator.animate(animator.load_source(image_path("woman_sad")), drivers.video(driving))
    assert len(list(animation)) == 30
    assert animation.motion.missing_frames == [0, 10, 11, 12]
    assert "4 driving frame(s)" in caplog.text


def test_auto_reference_picks_a_frame_like_the_source(animator, image_path, video_path):
    source = animator.load_source(image_path("woman_open_mouth_surprised"))
    motion = drivers.video(video_path("woman_talking_gaze_surprise"), reference="auto").open(animator.tracker, source.dynamics)
    assert T.mouth_opening(motion.reference.shape) > 0.3  # the driver's surprise, like the photo's open mouth


def test_demo_motion_renders(tmp_path, animator):
    from skimage import data

    out = animator.animate(animator.load_source(data.astronaut()), drivers.demo(seconds=2)).save(tmp_path / "d.mp4")
    assert probe_video(out).frame_count == 50


def test_tracked_motion_file_moves_like_the_video(animator, image_path, video_path, tmp_path):
    """track -> motion file -> animate gives the same eye and mouth motion as the video itself."""
    video = video_path("woman_blinks_gaze_squint")
    track, gaze = drivers.track_video(video, animator.tracker)
    path = drivers.save_motion(track, tmp_path / "motion.json", gaze)
    source = animator.load_source(image_path("woman_frontal_neutral"))
    outputs = {
        "video": list(animator.animate(source, drivers.video(video))),
        "motion": list(animator.animate(source, drivers.motion(path))),
    }
    signals = {}
    with FaceTracker() as tracker:
        for name, frames in outputs.items():
            tracker.reset_video()
            pts = np.array([tracker.track(f) for f in frames])
            signals[name] = (T.eye_opening(pts).mean(1), T.mouth_opening(pts))
    for k, what in enumerate(("eyes", "mouth")):
        r = np.corrcoef(signals["video"][k], signals["motion"][k])[0, 1]
        print(f"{what}: r = {r:.3f}")
        assert r > 0.9, f"{what}: r = {r:.2f}"
