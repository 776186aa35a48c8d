"""facedyn.jobs: options by the CLI's names, driver specs, and one run with shared models."""

from __future__ import annotations

import click
import pytest

from facedyn import cli, codec, drivers
from facedyn.errors import InputError
from facedyn.io import probe_video
from facedyn.jobs import Job, JobOptions, driver_from_spec, run_job

# Options that define the driver itself: a job writes them into its driver spec.
DRIVER_OPTIONS = {"driving", "motion_file", "landmark_file", "output", "label", "duration", "intensity", "timeline",
                  "seed"}


@pytest.mark.parametrize("command", ["animate", "express", "imagine"])
def test_every_cli_option_of_a_run_is_a_job_option(command):
    params = [p for p in cli.main.commands[command].params if isinstance(p, click.Option)]
    names = {p.name for p in params} - DRIVER_OPTIONS
    assert names <= set(JobOptions.__dataclass_fields__), names - set(JobOptions.__dataclass_fields__)


def test_options_from_text_as_the_cli_spells_them():
    options = JobOptions.from_strings({"pose-scale": "0.5", "--mouth": "1.5", "paste_back": "no", "output-size": "full",
                                       "face": "1", "side-by-side": "yes", "mode": "relative", "eyes": ""})
    assert (options.pose_scale, options.mouth, options.paste_back, options.output_size) == (0.5, 1.5, False, None)
    assert (options.face, options.side_by_side, options.mode, options.eyes) == (1, True, "relative", 1.0)
    config = options.config()
    assert config.retarget.mouth == 1.5 and config.output_size is None and not config.render.paste_back


@pytest.mark.parametrize("values, message", [
    ({"mouht": "1"}, "unknown option 'mouht'"),
    ({"mouth": "abc"}, "option 'mouth' must be a number, got 'abc'"),
    ({"mouth": "4"}, "mouth must be in 0..3"),
    ({"size": "12.5"}, "option 'size' must be a whole number"),
    ({"size": "64"}, "size must be a whole number in 128..2048"),
    ({"paste-back": "maybe"}, "must be true or false"),
    ({"mode": "sideways"}, "mode must be one of hybrid, relative, absolute"),
    ({"audio": "loud"}, "audio must be driving or none"),
])
def test_bad_options_say_which_and_why(values, message):
    with pytest.raises(InputError, match=message):
        JobOptions.from_strings(values)


def test_job_paths_relative_to_the_jobs_file_and_output_folder(tmp_path):
    job = Job.from_strings({"photo": "me.jpg", "driver": "clips/a.mp4", "output": "x/out.mp4"}, tmp_path / "in",
                           tmp_path / "out")
    assert job.photo == tmp_path / "in" / "me.jpg" and job.driver == str(tmp_path / "in" / "clips" / "a.mp4")
    assert job.output == tmp_path / "out" / "x" / "out.mp4"
    assert Job.from_strings({"photo": "/p.jpg", "driver": "imagine:2s", "output": "o.mp4"}, tmp_path).driver == "imagine:2s"
    assert Job.from_dict(job.to_dict()) == job
    with pytest.raises(InputError, match="missing driver, output"):
        Job.from_strings({"photo": "me.jpg", "driver": " "})


def test_driver_specs_name_every_kind_of_driver(testdata, tmp_path):
    motion = testdata / "motion"
    assert len(driver_from_spec("expression:smile:1s:0.5")) == 25
    assert len(driver_from_spec("expression:surprise", JobOptions(fps=10))) == 20
    assert len(driver_from_spec("imagine:2s:3")) == 50
    assert isinstance(driver_from_spec(str(testdata / "videos" / "woman_smile_happy.mp4")), drivers.VideoDriver)
    assert isinstance(driver_from_spec(str(motion / "livelinkface_jm_mouth_smile_5s_60fps.csv")), drivers.MotionTrack)
    assert isinstance(driver_from_spec(str(motion / "openface_facsvatar_demo_expressions.csv")), drivers.LandmarkDriver)
    assert isinstance(driver_from_spec(str(motion / "landmarks68_lrnet_ffpp_real_normalized.txt")), drivers.LandmarkDriver)
    assert isinstance(driver_from_spec(str(motion / "landmarks68_vid2vid_faceforensics_0001")), drivers.LandmarkDriver)
    stream = tmp_path / "s.fdyn"
    codec.encode_motion(drivers.expression("smile", 1.0).open(), stream, codec.CodecConfig())
    assert isinstance(driver_from_spec(str(stream)), codec.StreamDriver)
    stream.write_bytes(b"not a stream")
    with pytest.raises(InputError):
        driver_from_spec(str(stream))
    with pytest.raises(InputError, match="unknown expression"):
        driver_from_spec("expression:grin")
    with pytest.raises(InputError, match="expected imagine:DURATION"):
        driver_from_spec("imagine:2s:1:extra")
    with pytest.raises(InputError, match="intensity"):
        driver_from_spec("expression:smile:1s:lots")
    with pytest.raises(InputError, match="not found"):
        driver_from_spec(str(tmp_path / "missing.mp4"))


def test_run_job_uses_the_jobs_options_with_the_animators_models(animator, image_path, tmp_path):
    job = Job.from_strings({"photo": str(image_path("woman_sad")), "driver": "expression:smile:1s", "output": "o.mp4",
                            "size": "256", "paste-back": "false", "yaw": "10"}, out_dir=tmp_path)
    seen = []
    result = run_job(animator, job, progress=lambda done, total: seen.append((done, total)))
    info = probe_video(result.output)
    assert result.frames == 25 == info.frame_count and seen[-1] == (25, 25)
    assert (info.width, info.height) == (256, 256)  # the working crop: paste-back off, size 256
    assert animator.config.size == 512  # the animator's own options are untouched, its models still open
    assert animator.tracker.detect_faces is not None
