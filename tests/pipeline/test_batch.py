"""Directory batches: mirrored outputs, failures with reasons, resume, retries, Ctrl-C, SIGKILL, report, Ray."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import pytest

import media_factory as mf
from vidcolor.errors import ConfigError, InputError, MediaError
from vidcolor.pipeline.batch import LEDGER_NAME, ColorizerSpec, Ledger, run_directory
from vidcolor.pipeline.batch import runner as runner_mod
from vidcolor.pipeline.colorize import RunOptions
from vidcolor.pipeline.batch.scan import settings_hash
from vidcolor.pipeline.config import PipelineConfig, load_pipeline_config

FAST = load_pipeline_config("fast").replace(x264_preset="ultrafast")
QUIET = RunOptions(progress=False)
TEMP_MARKER = ".vidcolor-tmp-"


def _quiet_echo(message: str) -> None:
    pass


@pytest.fixture
def films(tmp_path) -> Path:
    """Two good clips (one nested), a corrupt file, a zero-byte .mp4, a text file named .mp4, a readme."""
    d = tmp_path / "films"
    (d / "reel2").mkdir(parents=True)
    mf.make_clip(d / "a.mp4", frames=12, audio="aac")
    mf.make_clip(d / "reel2" / "b.mkv", frames=10, width=64, height=48)
    good = (d / "a.mp4").read_bytes()
    (d / "corrupt.mp4").write_bytes(good[: len(good) // 3] + bytes(range(256)) * 16)  # valid header, then garbage
    (d / "empty.mp4").write_bytes(b"")
    (d / "notes.mp4").write_text("not a film, only a name\n")
    (d / "readme.txt").write_text("shot lists\n")
    return d


@pytest.fixture(scope="module")
def spec(tiny_model) -> ColorizerSpec:
    return ColorizerSpec(tiny_model, device="cpu")


def _run(films: Path, spec: ColorizerSpec, config=FAST, **kwargs):
    return run_directory(films, None, config, spec, QUIET, echo=_quiet_echo, **kwargs)


def _results(summary) -> dict[str, str]:
    return {o.rel: o.result for o in summary.outcomes}


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if TEMP_MARKER in p.name]


def _frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _mtimes(out: Path) -> dict[str, int]:
    return {p: (out / p).stat().st_mtime_ns for p in ("a.mp4", "reel2/b.mkv")}


def test_batch_mirrors_good_films_and_records_failures(films, spec):
    summary = _run(films, spec)
    out = films.with_name("films.colorized")
    assert summary.output_dir == out
    assert _results(summary) == {"a.mp4": "done", "reel2/b.mkv": "done", "corrupt.mp4": "failed",
                                 "empty.mp4": "failed", "notes.mp4": "failed"}
    assert _frames(out / "a.mp4") == 12 and _frames(out / "reel2" / "b.mkv") == 10
    with av.open(str(out / "a.mp4")) as c:
        assert len(c.streams.audio) == 1  # sound kept
    assert not (out / "corrupt.mp4").exists() and not (out / "notes.mp4").exists()
    assert _temps(out) == []
    assert summary.exit_code == 1
    with Ledger(out / LEDGER_NAME) as ledger:
        rows = {r.path: r for r in ledger.rows()}
    assert set(rows) == set(_results(summary))  # readme.txt is not a job
    assert "truncated or corrupt" in rows["corrupt.mp4"].error
    assert "empty" in rows["empty.mp4"].error
    assert "not a video" in rows["notes.mp4"].error
    done = rows["a.mp4"]
    assert (done.state, done.attempts, done.frames) == ("done", 1, 12)
    assert done.fps > 0 and done.model_id.startswith("tiny") and done.settings_hash and done.duration_s > 0
    assert (out / done.still).is_file()
    table = summary.table()
    assert "corrupt.mp4" in table and "2 done, 0 skipped, 3 failed" in table
    assert (out / "report.html").is_file()


def test_rerun_is_a_noop_and_only_a_new_version_is_redone(films, spec):
    first = _run(films, spec)
    out = first.output_dir
    before = _mtimes(out)
    again = _run(films, spec)
    assert _results(again)["a.mp4"] == "skipped" and _results(again)["reel2/b.mkv"] == "skipped"
    assert _mtimes(out) == before
    assert again.exit_code == 1  # the bad files are still reported

    time.sleep(0.01)
    os.utime(films / "reel2" / "b.mkv")  # touched, or copied to a new drive without its times: the same film
    touched = _run(films, spec)
    assert _results(touched)["reel2/b.mkv"] == "skipped" and _mtimes(out) == before
    mf.make_clip(films / "reel2" / "b.mkv", frames=11, width=64, height=48)  # a new version
    third = _run(films, spec)
    assert _results(third)["reel2/b.mkv"] == "done" and _results(third)["a.mp4"] == "skipped"
    after = _mtimes(out)
    assert after["a.mp4"] == before["a.mp4"] and after["reel2/b.mkv"] != before["reel2/b.mkv"]
    assert _frames(out / "reel2" / "b.mkv") == 11


def test_a_damaged_output_is_redone(films, spec):
    out = _run(films, spec).output_dir
    whole = (out / "a.mp4").read_bytes()
    (out / "a.mp4").write_bytes(whole[: len(whole) // 3])  # cut short on a failing disk, or replaced
    assert _results(_run(films, spec))["a.mp4"] == "done"
    assert _frames(out / "a.mp4") == 12


def test_one_output_folder_serves_one_input_folder(tmp_path, films, spec):
    out = tmp_path / "shared"
    run_directory(films, out, FAST, spec, QUIET, echo=_quiet_echo)
    other = tmp_path / "other"
    other.mkdir()
    mf.make_clip(other / "a.mp4", frames=5)
    before = (out / "a.mp4").read_bytes()
    with pytest.raises(ConfigError, match=f"holds the batch of {re.escape(str(films))}; give each input folder"):
        run_directory(other, out, FAST, spec, QUIET, echo=_quiet_echo)
    assert (out / "a.mp4").read_bytes() == before
    films.rename(tmp_path / "unplugged")  # the drive is gone: another folder still may not take its batch,
    shutil.copy(tmp_path / "unplugged" / "reel2" / "b.mkv", other / "b.mkv")  # not even one holding a copy of a film
    (other / "reel2").mkdir()
    shutil.copy(tmp_path / "unplugged" / "reel2" / "b.mkv", other / "reel2" / "b.mkv")
    with pytest.raises(ConfigError, match="it is not there now, and these are not its films"):
        run_directory(other, out, FAST, spec, QUIET, echo=_quiet_echo)
    assert (out / "a.mp4").read_bytes() == before
    moved = tmp_path / "films_moved"
    (tmp_path / "unplugged").rename(moved)  # the input folder moved: its batch goes on, its films still done
    said: list[str] = []
    summary = run_directory(moved, out, FAST, spec, QUIET, echo=said.append)
    assert _results(summary)["a.mp4"] == "skipped" and any("has moved here" in line for line in said)


def test_a_ledger_of_the_previous_version_is_brought_up_to_date(films, spec):
    out = _run(films, spec).output_dir
    db = sqlite3.connect(out / LEDGER_NAME)
    for column in ("input_fault", "fingerprint", "output_size"):  # as the last version wrote it
        db.execute(f"ALTER TABLE jobs DROP COLUMN {column}")
    db.commit()
    db.close()
    again = _run(films, spec)
    assert _results(again)["a.mp4"] == "skipped" and _results(again)["reel2/b.mkv"] == "skipped"


def test_an_output_folder_inside_the_input_is_left_out(films, spec):
    run_directory(films, films / "colorized", FAST, spec, QUIET, echo=_quiet_echo)
    said: list[str] = []
    summary = run_directory(films, None, FAST, spec, QUIET, echo=said.append)  # now into films.colorized
    assert not [o.rel for o in summary.outcomes if o.rel.startswith("colorized/")]
    assert any("left out" in line and "colorized" in line for line in said)


def test_symlinked_subfolders_are_walked_once(tmp_path, spec):
    d, elsewhere = tmp_path / "films", tmp_path / "other_drive" / "reel9"
    d.mkdir()
    elsewhere.mkdir(parents=True)
    mf.make_clip(d / "a.mp4", frames=6)
    mf.make_clip(elsewhere / "c.mp4", frames=6)
    (d / "reel9").symlink_to(elsewhere, target_is_directory=True)  # a folder linked in from another drive
    (d / "sub").mkdir()
    (d / "sub" / "up").symlink_to(d, target_is_directory=True)  # a loop back up the tree
    (d / "sub" / "same").symlink_to(d / "sub", target_is_directory=True)
    summary = _run(d, spec)
    assert _results(summary) == {"a.mp4": "done", "reel9/c.mp4": "done"}
    assert _frames(summary.output_dir / "reel9" / "c.mp4") == 6


def test_new_settings_keep_finished_films_unless_overwrite(tmp_path, spec):
    d = tmp_path / "good"
    d.mkdir()
    mf.make_clip(d / "x.mp4", frames=8)
    mf.make_clip(d / "y.mp4", frames=8)
    assert _run(d, spec).exit_code == 0
    out = d.with_name("good.colorized")
    made = (out / "x.mp4").read_bytes()
    (d / "y.mp4").unlink()
    mf.make_clip(d / "y.mp4", frames=6)  # a new version of one film
    said: list[str] = []
    kept = run_directory(d, None, FAST.replace(crf=30), spec, QUIET, echo=said.append)
    assert _results(kept) == {"x.mp4": "skipped", "y.mp4": "done"}  # last night's work is not thrown away
    assert (out / "x.mp4").read_bytes() == made and kept.exit_code == 0
    assert any("1 finished film(s) were made with other settings" in line and "--overwrite" in line for line in said)
    assert "other settings" in {o.rel: o for o in kept.outcomes}["x.mp4"].error
    report = (out / "report.html").read_text()
    x_row = next(line for line in report.splitlines() if ">x.mp4<" in line)
    y_row = next(line for line in report.splitlines() if ">y.mp4<" in line)
    assert "made with other settings" in x_row and "other settings" not in y_row  # the morning report says so too
    redo = run_directory(d, None, FAST.replace(crf=30), spec, RunOptions(progress=False, overwrite=True),
                         echo=_quiet_echo)
    assert _results(redo) == {"x.mp4": "done", "y.mp4": "skipped"}
    assert (out / "x.mp4").read_bytes() != made
    # settings that do not change the pictures never redo a film: batch size, thread counts
    quiet = FAST.replace(crf=30, batch_size=2, decode_threads=1, encode_threads=1, opencv_threads=1)
    assert _results(_run(d, spec, config=quiet)) == {"x.mp4": "skipped", "y.mp4": "skipped"}


def test_an_input_added_later_takes_its_own_name_from_a_converted_film(tmp_path, spec):
    d = tmp_path / "films"
    d.mkdir()
    mf.make_clip(d / "bar.mpg", frames=6)  # written as Matroska: bar.mkv
    out = _run(d, spec).output_dir
    assert (out / "bar.mkv").is_file()
    mf.make_clip(d / "bar.mkv", frames=9)  # added since: an .mkv keeps its own name
    summary = _run(d, spec)
    assert _results(summary) == {"bar.mkv": "done", "bar.mpg": "done"} and summary.exit_code == 0
    assert _frames(out / "bar.mkv") == 9 and _frames(out / "bar.mpg.mkv") == 6
    assert _results(_run(d, spec)) == {"bar.mkv": "skipped", "bar.mpg": "skipped"}


def test_ogg_films_are_found_by_content(tmp_path, spec):
    d = tmp_path / "films"
    d.mkdir()
    mf.make_clip(d / "reel.mkv", frames=6)
    with av.open(str(d / "reel.mkv")) as src, av.open(str(d / "reel.ogg"), "w", format="ogg") as dst:
        vs = dst.add_stream("libvpx", rate=24)  # VP8 in Ogg (this PyAV has no Theora encoder)
        vs.width, vs.height, vs.pix_fmt = 96, 64, "yuv420p"
        for frame in src.decode(video=0):
            frame.pts = None
            dst.mux(vs.encode(frame))
        dst.mux(vs.encode())
    with av.open(str(d / "song.ogg"), "w", format="ogg") as dst:  # music: not a film, not a failure
        mf._mux_audio(dst, mf._add_audio_stream(dst, "opus"), "opus", 0.5)
    assert _results(_run(d, spec)) == {"reel.mkv": "done", "reel.ogg": "done"}


def test_a_file_in_the_way_of_an_output_folder_is_named(films, spec):
    out = films.with_name("films.colorized")
    out.mkdir()
    (out / "reel2").write_text("in the way")
    summary = _run(films, spec, retries=0)
    error = {o.rel: o for o in summary.outcomes}["reel2/b.mkv"].error
    assert error == f"cannot make the output folder {out / 'reel2'}: {out / 'reel2'} is a file, not a folder"
    (out / "reel2").unlink()
    assert _results(_run(films, spec, retries=0))["reel2/b.mkv"] == "done"  # mended: done on the next run


def test_an_output_folder_is_refused_as_input(films, spec):
    out = _run(films, spec).output_dir
    with pytest.raises(ConfigError, match="output folder"):
        _run(out, spec)


def test_thread_counts_are_out_of_the_settings_hash_as_older_ledgers_wrote_it():
    # the hash of the default preset as ledgers written before thread counts were left out hold it
    config = load_pipeline_config("default")
    before = settings_hash(config, "m", True, True)
    assert settings_hash(config.replace(decode_threads=2, encode_threads=3, opencv_threads=1), "m", True, True) == before


def test_settings_hash_moves_only_with_the_pixels():
    """A ledger written by an earlier vidcolor stays valid: settings that do not change the output (and settings
    added since, at their defaults) leave the hash as it was; a setting that changes pixels moves it."""
    config = PipelineConfig()
    before = settings_hash(config, "m", True, True)
    assert before == "7c93407f65b62a46"  # as the ledgers of vidcolor 9f4d71f (before model_calls_in_flight) hold it
    for same in (config.replace(batch_size=3), config.replace(queue_frames=7),
                 config.replace(model_calls_in_flight=1)):
        assert settings_hash(same, "m", True, True) == before
    assert settings_hash(config.replace(keep_10_bit=False), "m", True, True) == before  # added since, at its default
    for other in (config.replace(crf=30), config.replace(temperature=0.5), config.replace(keep_10_bit=True)):
        assert settings_hash(other, "m", True, True) != before
    assert settings_hash(config, "m", False, True) != before


def test_interrupted_row_and_stale_temp_are_redone_cleanly(films, spec):
    out = _run(films, spec).output_dir
    with Ledger(out / LEDGER_NAME) as ledger:
        ledger.update("a.mp4", state="running")
    (out / "a.mp4").unlink()
    stale = out / f".a.mp4{TEMP_MARKER}{_dead_pid()}-k2x9q1z8.mp4"
    stale.write_bytes(b"\0" * 1000)
    summary = _run(films, spec)
    assert summary.stale_temps_removed == 1
    assert _results(summary)["a.mp4"] == "done" and _results(summary)["reel2/b.mkv"] == "skipped"
    assert _temps(out) == [] and _frames(out / "a.mp4") == 12


def test_a_failing_film_is_retried_then_given_up(films, spec, monkeypatch):
    real = runner_mod.colorize_job
    calls: list[str] = []

    def flaky(job, *args):
        calls.append(job.rel)
        if job.rel == "a.mp4" and calls.count("a.mp4") == 1:
            raise RuntimeError("CUDA out of memory (simulated)")
        if job.rel == "reel2/b.mkv":
            raise RuntimeError("always broken")
        return real(job, *args)

    monkeypatch.setattr(runner_mod, "colorize_job", flaky)
    summary = _run(films, spec, retries=1)
    assert calls == ["a.mp4", "reel2/b.mkv", "a.mp4", "reel2/b.mkv"]  # retries go to the back of the queue
    assert _results(summary)["a.mp4"] == "done"
    failed = {o.rel: o for o in summary.outcomes}["reel2/b.mkv"]
    assert failed.result == "failed" and failed.attempts == 2 and "always broken" in failed.error
    calls.clear()
    again = _run(films, spec, retries=1)  # run again (the cause may have been mended): tried again, with retries
    assert _results(again)["reel2/b.mkv"] == "failed" and calls == ["reel2/b.mkv", "reel2/b.mkv"]
    assert {o.rel: o for o in again.outcomes}["reel2/b.mkv"].attempts == 4  # counted over the runs
    monkeypatch.setattr(runner_mod, "colorize_job", real)  # mended
    assert _results(_run(films, spec, retries=0))["reel2/b.mkv"] == "done"


def test_a_film_that_cannot_be_read_is_not_retried_in_the_same_run(films, spec, monkeypatch):
    calls: list[str] = []

    def unwritable(job, *args):
        calls.append(job.rel)
        raise MediaError(f"writing {job.rel} failed: No space left on device (simulated)")  # the same again now

    monkeypatch.setattr(runner_mod, "colorize_job", unwritable)
    summary = _run(films, spec, retries=3)
    assert calls == ["a.mp4", "reel2/b.mkv"] and _results(summary)["a.mp4"] == "failed"
    calls.clear()
    _run(films, spec, retries=3)
    assert calls == ["a.mp4", "reel2/b.mkv"]  # the next run tries again: the disk may have room by then


def test_a_stop_after_a_film_is_written_counts_it_done(films, spec, monkeypatch):
    def stopped_while_making_its_still(*args):
        raise KeyboardInterrupt  # Ctrl-C or SIGTERM between the film's end and the next film

    monkeypatch.setattr(runner_mod, "make_still_strip", stopped_while_making_its_still)
    summary = _run(films, spec)
    assert _results(summary)["a.mp4"] == "done" and (summary.output_dir / "a.mp4").is_file()
    assert summary.stopped and not summary.aborted and "after the current film" in summary.table()
    assert summary.exit_code == 130


def test_a_damaged_film_is_tried_again_only_once_it_changes(films, spec, monkeypatch):
    real = runner_mod.colorize_job
    calls: list[str] = []

    def damaged_a(job, *args):
        calls.append(job.rel)
        if job.rel == "a.mp4":
            raise InputError("a.mp4 is truncated or corrupt at 0.40 s: Invalid data (simulated)")
        return real(job, *args)

    monkeypatch.setattr(runner_mod, "colorize_job", damaged_a)
    assert _results(_run(films, spec))["a.mp4"] == "failed" and calls.count("a.mp4") == 1
    calls.clear()
    again = _run(films, spec)
    assert calls == [] and "unchanged since the last run" in {o.rel: o for o in again.outcomes}["a.mp4"].error
    mf.make_clip(films / "a.mp4", frames=9)  # a new transfer of the film
    monkeypatch.setattr(runner_mod, "colorize_job", real)
    assert _results(_run(films, spec))["a.mp4"] == "done"


@pytest.fixture
def ctrl_c_on():
    """SIGINT as an interactive terminal gives it (the suite may run as a background job, which ignores it)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_first_ctrl_c_finishes_the_current_film_then_stops(films, spec, monkeypatch, ctrl_c_on):
    real = runner_mod.colorize_job

    def interrupting(job, *args):
        os.kill(os.getpid(), signal.SIGINT)
        return real(job, *args)

    monkeypatch.setattr(runner_mod, "colorize_job", interrupting)
    messages: list[str] = []
    summary = run_directory(films, None, FAST, spec, QUIET, echo=messages.append)
    assert summary.exit_code == 130 and summary.stopped and not summary.aborted
    assert sorted(_results(summary).values()).count("done") == 1
    assert "not started" in _results(summary).values()
    assert any("stopping after the current film" in m for m in messages)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_a_batch_started_with_ctrl_c_ignored_keeps_ignoring_it(films, spec, monkeypatch):
    """A background job of a shell script (SIGINT ignored): a Ctrl-C meant for the foreground does not stop it."""
    real = runner_mod.colorize_job

    def interrupting(job, *args):
        os.kill(os.getpid(), signal.SIGINT)
        return real(job, *args)

    monkeypatch.setattr(runner_mod, "colorize_job", interrupting)
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        summary = run_directory(films, None, FAST, spec, QUIET, echo=lambda m: None)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
    assert not summary.stopped and "not started" not in _results(summary).values()
    assert _results(summary)["a.mp4"] == "done"


def test_second_ctrl_c_aborts_the_film_leaving_no_output(films, spec, monkeypatch, ctrl_c_on):
    import vidcolor.pipeline.colorize as colorize_mod

    real = colorize_mod.chroma_planes
    count = {"n": 0}

    def interrupting(*args, **kwargs):
        count["n"] += 1
        if count["n"] in (3, 6):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.3)  # chroma runs in a worker thread: let the main thread take this Ctrl-C first
        return real(*args, **kwargs)

    monkeypatch.setattr(colorize_mod, "chroma_planes", interrupting)
    summary = _run(films, spec)
    out = summary.output_dir
    assert summary.exit_code == 130 and summary.aborted
    assert not (out / "a.mp4").exists() and _temps(out) == []
    with Ledger(out / LEDGER_NAME) as ledger:
        row = ledger.get("a.mp4")
    assert row.state == "pending" and "Ctrl-C" in row.error
    assert row.attempts == 0  # the user stopped it: no retry used up
    monkeypatch.setattr(colorize_mod, "chroma_planes", real)
    assert _results(_run(films, spec))["a.mp4"] == "done"  # the next run finishes it


def test_sigkill_mid_film_resumes_cleanly(tmp_path, spec):
    d = tmp_path / "long"
    d.mkdir()
    mf.make_clip(d / "p.mp4", frames=240, width=160, height=96, gop=48)
    mf.make_clip(d / "q.mp4", frames=24, width=160, height=96)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "vidcolor", "run", str(d), "-o", str(out), "--model", str(spec.checkpoint),
           "--pipeline", "fast", "--device", "cpu", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if out.is_dir() and _temps(out):
                break
            time.sleep(0.01)
        killed_mid_film = proc.poll() is None and bool(_temps(out))
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    if not killed_mid_film:
        pytest.skip("the batch finished before it could be killed mid-film")
    with sqlite3.connect(out / LEDGER_NAME) as db:
        states = dict(db.execute("SELECT path, state FROM jobs"))
    assert "running" in states.values()
    summary = run_directory(d, out, FAST, spec, QUIET, echo=_quiet_echo)
    assert summary.stale_temps_removed >= 1 and _temps(out) == []
    assert summary.exit_code == 0 and set(_results(summary).values()) <= {"done", "skipped"}
    assert _frames(out / "p.mp4") == 240 and _frames(out / "q.mp4") == 24


def test_unwritable_container_falls_back_to_mkv(tmp_path, spec):
    d = tmp_path / "odd"
    d.mkdir()
    src = mf.make_clip(tmp_path / "clip.mkv", frames=6)
    shutil.copy(src, d / "clip.webm")  # a matroska file with a WebM name: no .webm muxer in the sink
    summary = _run(d, spec)
    assert _results(summary) == {"clip.webm": "done"}
    assert (summary.output_dir / "clip.mkv").is_file()


def test_refuses_output_folder_equal_to_input(films, spec):
    from vidcolor.errors import ConfigError, InputError, MediaError

    with pytest.raises(ConfigError):
        run_directory(films, films, FAST, spec, QUIET, echo=_quiet_echo)


def test_existing_foreign_output_is_not_replaced_without_overwrite(films, spec):
    out = films.with_name("films.colorized")
    out.mkdir()
    (out / "a.mp4").write_bytes(b"precious")
    summary = _run(films, spec)
    assert _results(summary)["a.mp4"] == "failed" and (out / "a.mp4").read_bytes() == b"precious"
    assert _results(_run(films, spec))["a.mp4"] == "failed"  # still refused on the next run
    over = run_directory(films, None, FAST, spec, RunOptions(progress=False, overwrite=True), echo=_quiet_echo)
    assert _results(over)["a.mp4"] == "done"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _headless(browser: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


def test_report_renders_offline_in_headless_chromium(films, spec, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium chromium-driver)")
    out = _run(films, spec).output_dir
    report = out / "report.html"
    html_text = report.read_text()
    assert "http://" not in html_text and "https://" not in html_text and "<script" not in html_text  # offline
    # A copy with a probe script that writes, once loaded, which images decoded and their sizes.
    probe = out / "report-probe.html"
    probe.write_text(html_text.replace("</body>", """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images].map(i => `${i.complete}:${i.naturalWidth}x${i.naturalHeight}`);
  const rows = [...document.querySelectorAll('tr.job')].map(r => r.innerText.replace(/\\s+/g, ' '));
  document.body.setAttribute('data-probe', JSON.stringify({imgs, rows}));
});
</script></body>"""))
    dom = _headless(browser, tmp_path, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-500:]
    import html
    import json
    import re

    found = re.search(r'data-probe="([^"]*)"', dom.stdout)
    assert found, dom.stdout[:500]
    probe_data = json.loads(html.unescape(found.group(1)))
    assert len(probe_data["imgs"]) == 2  # one still strip per colorized film
    for img in probe_data["imgs"]:
        complete, size = img.split(":")
        w, h = map(int, size.split("x"))
        assert complete == "true" and w > 100 and h > 100  # 3 frames wide, before above after
    rows = " | ".join(probe_data["rows"])
    assert "a.mp4 done" in rows and "reel2/b.mkv done" in rows
    assert "notes.mp4 failed" in rows and "not a video file" in rows and "empty (0 bytes)" in rows
    shot = tmp_path / "report.png"
    result = _headless(browser, tmp_path, "--window-size=1200,600", f"--screenshot={shot}", report.as_uri())
    assert result.returncode == 0 and shot.stat().st_size > 10_000


@pytest.mark.slow
def test_ray_runs_the_same_jobs_with_the_driver_writing_the_ledger(films, spec, monkeypatch):
    ray = pytest.importorskip("ray", reason="ray is an optional extra: pip install 'vidcolor[cluster]'")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        summary = _run(films, spec, ray_address="local")
    finally:
        ray.shutdown()
    out = summary.output_dir
    assert _results(summary) == {"a.mp4": "done", "reel2/b.mkv": "done", "corrupt.mp4": "failed",
                                 "empty.mp4": "failed", "notes.mp4": "failed"}
    assert _frames(out / "a.mp4") == 12 and _frames(out / "reel2" / "b.mkv") == 10 and _temps(out) == []
    with Ledger(out / LEDGER_NAME) as ledger:
        workers = {r.path: r.worker for r in ledger.rows() if r.state == "done"}
    assert all(w and ":" in w for w in workers.values())  # host:pid of the Ray worker
    assert _results(_run(films, spec))["a.mp4"] == "skipped"  # same ledger, same settings hash


def test_a_run_that_failed_after_planning_does_not_disown_outputs(films, spec, monkeypatch):
    out = _run(films, spec).output_dir
    mf.make_clip(films / "a.mp4", frames=13, audio="aac")  # a new version

    def cluster_down(*args):
        from vidcolor.errors import ConfigError, InputError, MediaError

        raise ConfigError("cannot connect to Ray at host:1 (simulated)")

    monkeypatch.setattr(runner_mod, "_run_local", cluster_down)
    with pytest.raises(Exception, match="simulated"):
        _run(films, spec)
    monkeypatch.undo()
    summary = _run(films, spec)
    assert _results(summary)["a.mp4"] == "done" and (out / "a.mp4").is_file()


def test_films_of_one_stem_converted_to_one_container_get_distinct_outputs(tmp_path, spec):
    """bar.mpg and bar.ts are both written as Matroska: one must not overwrite the other."""
    d = tmp_path / "films"
    d.mkdir()
    shutil.copy(mf.make_clip(tmp_path / "six.mkv", frames=6), d / "bar.mpg")
    shutil.copy(mf.make_clip(tmp_path / "nine.mkv", frames=9), d / "bar.ts")
    summary = _run(d, spec)
    out = summary.output_dir
    assert _results(summary) == {"bar.mpg": "done", "bar.ts": "done"}
    with Ledger(out / LEDGER_NAME) as ledger:
        outputs = {r.path: r.output for r in ledger.rows()}
    assert len(set(outputs.values())) == 2
    assert _frames(out / outputs["bar.mpg"]) == 6 and _frames(out / outputs["bar.ts"]) == 9
    assert _results(_run(d, spec)) == {"bar.mpg": "skipped", "bar.ts": "skipped"}  # names are stable


def test_rows_that_share_an_output_are_redone_apart(tmp_path, spec):
    """A ledger where two films name the same output (as older versions wrote) redoes both, apart."""
    d = tmp_path / "films"
    d.mkdir()
    shutil.copy(mf.make_clip(tmp_path / "six.mkv", frames=6), d / "bar.mpg")
    shutil.copy(mf.make_clip(tmp_path / "nine.mkv", frames=9), d / "bar.ts")
    out = _run(d, spec).output_dir
    with Ledger(out / LEDGER_NAME) as ledger:
        for rel in ("bar.mpg", "bar.ts"):
            ledger.update(rel, output="bar.mkv")
    summary = _run(d, spec)
    assert _results(summary) == {"bar.mpg": "done", "bar.ts": "done"}
    with Ledger(out / LEDGER_NAME) as ledger:
        outputs = {r.path: r.output for r in ledger.rows()}
    assert _frames(out / outputs["bar.mpg"]) == 6 and _frames(out / outputs["bar.ts"]) == 9


def test_a_name_that_is_not_utf8_is_colorized_under_a_readable_name(tmp_path, spec):
    d = tmp_path / "films"
    d.mkdir()
    mf.make_clip(d / "good.mp4", frames=6)
    shutil.copy(d / "good.mp4", os.fsdecode(os.fsencode(d) + b"/caf\xe9 1952.mp4"))  # a Latin-1 name
    summary = _run(d, spec)
    assert _results(summary) == {"caf\\xe9 1952.mp4": "done", "good.mp4": "done"}
    assert _frames(summary.output_dir / "caf\\xe9 1952.mp4") == 6
    assert "caf\\xe9 1952.mp4" in (summary.output_dir / "report.html").read_text()


def test_only_vidcolor_temps_of_dead_runs_are_removed(tmp_path, spec):
    """OUTDIR holding other files (even the input folder): only vidcolor's own partial outputs go."""
    top = tmp_path / "project"
    d = top / "films"
    d.mkdir(parents=True)
    mf.make_clip(d / "a.mp4", frames=6)
    dead = _dead_pid()
    keep = [d / ".draft.part", d / f".a.mp4{TEMP_MARKER}{dead}-k2x9q1z8.mp4", top / ".config.part",
            top / f".x{TEMP_MARKER}notes.txt", top / f".b.mp4{TEMP_MARKER}{os.getpid()}-abcd1234.mp4"]
    for p in keep:
        p.write_text("mine")
    stale = top / f".b.mp4{TEMP_MARKER}{dead}-abcd1234.mp4"
    stale.write_text("partial")
    summary = run_directory(d, top, FAST, spec, QUIET, echo=_quiet_echo)
    assert summary.stale_temps_removed == 1 and not stale.exists()
    assert all(p.read_text() == "mine" for p in keep)
    assert _results(summary) == {"a.mp4": "done"}


def test_a_second_batch_into_the_same_folder_is_refused(films, spec):
    from vidcolor.errors import ConfigError, InputError, MediaError
    from vidcolor.pipeline.batch.lock import BatchLock

    out = films.with_name("films.colorized")
    out.mkdir()
    with BatchLock(out):
        with pytest.raises(ConfigError, match=f"another vidcolor batch \\(pid {os.getpid()}\\) is writing into"):
            _run(films, spec)
    assert _results(_run(films, spec))["a.mp4"] == "done"  # released: the next run goes ahead


def test_a_corrupt_ledger_is_one_line(films, spec):
    from vidcolor.errors import ConfigError, InputError, MediaError

    out = films.with_name("films.colorized")
    out.mkdir()
    (out / LEDGER_NAME).write_text("junk, not a database\n" * 100)
    with pytest.raises(ConfigError, match="is not a vidcolor ledger"):
        _run(films, spec)


def test_ctrl_c_twice_while_planning_stops_cleanly(films, spec, monkeypatch):
    real = runner_mod.probe
    calls = {"n": 0}

    def interrupted_probe(*args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the second Ctrl-C, between seeing a film and deciding its fate
        return real(*args)

    monkeypatch.setattr(runner_mod, "probe", interrupted_probe)
    summary = _run(films, spec)
    assert summary.exit_code == 130 and summary.stopped and not summary.aborted  # no film was in progress
    assert set(_results(summary).values()) <= {"failed", "not started"}
    assert "stopped by Ctrl-C" in summary.table()


@pytest.mark.parametrize("kwargs,panel_width", [({}, 108), ({"rotation": 90}, 48), ({"sar": Fraction(2, 1)}, 216)])
def test_report_stills_show_films_as_players_do(tmp_path, kwargs, panel_width):
    """96x64 clips, 72 px high panels: turned upright when rotated, stretched when pixels are not square."""
    import cv2

    from vidcolor.pipeline.batch.stills import STILL_HEIGHT_PX, STILL_POSITIONS, make_still_strip

    clip = mf.make_clip(tmp_path / "c.mp4", frames=12, **kwargs)
    strip = cv2.imread(str(make_still_strip(clip, clip, tmp_path / "s.jpg")))
    n = len(STILL_POSITIONS)
    assert strip.shape[:2] == (2 * STILL_HEIGHT_PX + 2, n * panel_width + 2 * (n - 1))


def test_a_truncated_film_is_done_with_a_note_in_the_ledger_and_report(tmp_path, spec):
    d = tmp_path / "films"
    d.mkdir()
    mf.truncate_file(mf.make_clip(d / "cut.mkv", frames=48), 0.5)
    summary = _run(d, spec)
    assert _results(summary) == {"cut.mkv": "done"}
    with Ledger(summary.output_dir / LEDGER_NAME) as ledger:
        note = ledger.get("cut.mkv").error
    assert note and re.fullmatch(r"the input ends after 0\.\d s, before its declared end \(truncated\?\): only that "
                                 r"much was colorized", note), note
    assert "before its declared end" in (summary.output_dir / "report.html").read_text()
    assert "before its declared end" in summary.table()
    again = _run(d, spec)  # the morning after: still said, for the film skipped as done
    assert _results(again) == {"cut.mkv": "skipped"} and "before its declared end" in again.table()
