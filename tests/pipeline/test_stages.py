"""The queues between pipeline stages: back-pressure, and the waits that show which stage is the bottleneck."""

from __future__ import annotations

import threading
import time

from vidcolor.pipeline.stages import END, Channel, start_stage

ITEMS = 10
STEP_SECONDS = 0.02


def _run(producer_delay_s: float, consumer_delay_s: float) -> Channel:
    stop = threading.Event()
    ch = Channel(stop, max_items=2)

    def produce() -> None:
        for i in range(ITEMS):
            time.sleep(producer_delay_s)
            ch.put(i)
        ch.put(END)

    thread = start_stage("producer", produce, ch)
    got = []
    for item in ch:
        time.sleep(consumer_delay_s)
        got.append(item)
    thread.join()
    assert got == list(range(ITEMS))
    return ch


def test_slow_consumer_makes_the_producer_wait():
    ch = _run(producer_delay_s=0.0, consumer_delay_s=STEP_SECONDS)
    assert ch.producer_wait_s > 0.5 * (ITEMS - 3) * STEP_SECONDS  # blocked on a full queue most of the run
    assert ch.consumer_wait_s < 0.5 * ITEMS * STEP_SECONDS


def test_slow_producer_makes_the_consumer_wait():
    ch = _run(producer_delay_s=STEP_SECONDS, consumer_delay_s=0.0)
    assert ch.consumer_wait_s > 0.5 * ITEMS * STEP_SECONDS
    assert ch.producer_wait_s < 0.5 * ITEMS * STEP_SECONDS


def test_a_run_reports_its_waits(gray_clip, tiny_model, tmp_path):
    from vidcolor.model.colorizer import Colorizer
    from vidcolor.pipeline.colorize import RunOptions, colorize_video
    from vidcolor.pipeline.config import load_pipeline_config

    config = load_pipeline_config("fast")
    stats = colorize_video(gray_clip, tmp_path / "out.mp4", config, Colorizer(tiny_model, device="cpu"),
                           RunOptions(progress=False))
    assert list(stats.waits_s) == ["decode->model", "model->compose", "compose->encode"]
    for producer_s, consumer_s in stats.waits_s.values():
        assert 0.0 <= producer_s <= stats.seconds and 0.0 <= consumer_s <= stats.seconds
