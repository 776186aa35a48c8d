"""facedyn.ui without a browser: who may connect, logins, and the Studio behind the page."""

from __future__ import annotations

import numpy as np
import pytest

from facedyn.errors import InputError, NoFaceError
from facedyn.jobs import JobOptions
from facedyn.ui import is_loopback, launch, parse_auth
from facedyn.ui.studio import Studio


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.8.0.1", True), ("localhost", True),
                                            ("::1", True), ("[::1]", True), ("0.0.0.0", False), ("::", False),
                                            ("192.168.1.5", False), ("example.org", False)])
def test_only_this_machine_counts_as_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_another_host_needs_a_login():
    with pytest.raises(InputError, match="--host 0.0.0.0 lets other machines reach the app; give --auth"):
        launch("0.0.0.0", 7860)


def test_logins_from_the_option_or_a_file(tmp_path):
    assert parse_auth("ana:correct horse") == [("ana", "correct horse")]
    logins = tmp_path / "logins"
    logins.write_text("# who may log in\nana:correct horse\n\ns3cr3t-token-value\n")
    assert parse_auth(str(logins)) == [("ana", "correct horse"), ("facedyn", "s3cr3t-token-value")]
    for bad, message in [("ana:short", "at least 8"), (":longenough", "user name"), ("justaword", "neither USER:PASSWORD")]:
        with pytest.raises(InputError, match=message):
            parse_auth(bad)
    (tmp_path / "empty").write_text("# nothing\n")
    with pytest.raises(InputError, match="holds no login"):
        parse_auth(str(tmp_path / "empty"))


@pytest.fixture(scope="module")
def studio():
    with Studio() as s:
        yield s


def test_preview_then_render_reuses_the_prepared_photo(studio):
    photo = studio.example_photo()
    job = studio.job(photo, "expression:smile:1s", JobOptions(size=256))
    first = studio.preview(job)
    assert first.shape == (512, 512, 3) and first.dtype == np.uint8  # the astronaut, pasted back
    assert len(studio._sources) == 1
    result = studio.render(job)
    assert result.frames == 25 and result.output.parent == studio.work_dir
    side = studio.preview(studio.job(photo, "imagine:1s", JobOptions(size=256, mouth=2.0, side_by_side=True)))
    assert side.shape == (512, 1024, 3)  # photo | result (a generated motion has no driving panel)
    assert len(studio._sources) == 1  # other motion options, the same prepared photo


def test_studio_errors_are_facedyn_errors(studio, tmp_path):
    with pytest.raises(InputError, match="no photo"):
        studio.job(None, "expression:smile", JobOptions())
    with pytest.raises(InputError, match="no driver"):
        studio.job(studio.example_photo(), "", JobOptions())
    from PIL import Image

    Image.new("RGB", (200, 150), (30, 120, 60)).save(tmp_path / "blank.png")
    with pytest.raises(NoFaceError):
        studio.preview(studio.job(tmp_path / "blank.png", "expression:smile", JobOptions()))


def test_encode_shows_the_bitrate(studio, video_path):
    summary = studio.encode(video_path("woman_smile_happy"))
    assert summary.stream.suffix == ".fdyn" and summary.frames > 50 and 50 < summary.bits_per_second < 5000
    assert f"{summary.bits_per_second:.0f} bit/s" in summary.describe()


def test_closing_removes_the_work_folder():
    with Studio() as s:
        folder = s.work_dir
        s.example_photo()
    assert not folder.exists()
