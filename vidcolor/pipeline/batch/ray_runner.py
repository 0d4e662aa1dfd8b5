"""The same job list as Ray tasks (one per film); the driver keeps the ledger. Ray is an optional extra."""

from __future__ import annotations

import os
from collections import deque
from typing import TYPE_CHECKING

from ...errors import ConfigError, InputError, VidcolorError
from ...media.temp_files import temp_files_of
from ..colorize import RunOptions
from ..config import PipelineConfig
from .jobs import ColorizerSpec, Job, colorize_job

if TYPE_CHECKING:
    from .runner import BatchDriver, StopControl

WAIT_POLL_S = 0.5
CANCEL_GRACE_S = 15.0
_ERROR_CHARS = 300
# Colorizers loaded in this worker process, reused by every task it runs (the model loads once per worker).
_WORKER_COLORIZERS: dict[ColorizerSpec, object] = {}


def import_ray():
    """The ray module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray-address needs Ray, which is not installed: pip install 'vidcolor[cluster]'") from None
    return ray


def _task(job: Job, config: PipelineConfig, spec: ColorizerSpec, options: RunOptions):
    """Body of one Ray task: ("ok", JobResult); ("damaged", sentence) for an input that cannot be colorized,
    ("failed", sentence) for another film that cannot be read or written, ("error", sentence) for a passing error
    worth a retry. Ctrl-C cancels it cleanly."""
    from .runner import one_line

    try:
        colorizer = _WORKER_COLORIZERS.get(spec)
        if colorizer is None:
            colorizer = _WORKER_COLORIZERS[spec] = spec.load()
        return "ok", colorize_job(job, config, colorizer, options)
    except InputError as e:
        return "damaged", one_line(e)
    except VidcolorError as e:
        return "failed", one_line(e)
    except Exception as e:  # noqa: BLE001 - reported to the driver, which records it
        return "error", one_line(e)


def _connect(ray, address: str) -> bool:
    """Join (or start) a Ray instance; returns True when this call started it."""
    if ray.is_initialized():
        return False
    kwargs = dict(include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        if address == "local":
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a private instance on this machine
            ray.init(**kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ConfigError(f"cannot connect to Ray at {address}: {' '.join(str(e).split())[:_ERROR_CHARS]}") from None
    return True


def _remove_partial(job: Job) -> None:
    """Delete a cancelled task's temp file (a worker killed hard cannot do it itself)."""
    for p in temp_files_of(job.output_path):
        p.unlink(missing_ok=True)


def run_on_ray(driver: "BatchDriver", todo: list[Job], config: PipelineConfig, spec: ColorizerSpec,
               options: RunOptions, stop: "StopControl", address: str) -> bool:
    """Run the jobs as Ray tasks (one GPU each when the cluster has GPUs); True when Ctrl-C aborted some."""
    ray = import_ray()
    if not todo:
        return False
    started_here = _connect(ray, address)
    try:
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        slots = gpus if gpus else max(1, int(resources.get("CPU", 1)))
        task = ray.remote(_task).options(num_gpus=1 if gpus else 0, num_cpus=1, max_retries=0)
        driver.echo(f"vidcolor: Ray: {len(todo)} film(s) on {slots} {'GPU' if gpus else 'CPU'} slot(s)")
        queue = deque(todo)
        inflight: dict = {}
        try:
            while queue or inflight:
                while queue and len(inflight) < slots and not stop.requested:
                    job = queue.popleft()
                    driver.started(job, "ray")
                    inflight[task.remote(job, config, spec, options)] = job
                if not inflight:
                    break
                ready, _ = ray.wait(list(inflight), num_returns=1, timeout=WAIT_POLL_S)
                for ref in ready:
                    job = inflight.pop(ref)
                    try:
                        status, value = ray.get(ref)
                    except Exception as e:  # noqa: BLE001 - a worker died or the task could not run
                        status, value = "error", f"Ray task failed: {' '.join(str(e).split())[:_ERROR_CHARS]}"
                    if status == "ok":
                        driver.succeeded(job, value)
                    elif driver.failed(job, value, passing=status == "error", input_fault=status == "damaged"):
                        queue.append(job)
        except KeyboardInterrupt as stop_signal:
            for ref in inflight:
                ray.cancel(ref)  # KeyboardInterrupt in the task: its sink deletes the temp file
            if inflight:
                ray.wait(list(inflight), num_returns=len(inflight), timeout=CANCEL_GRACE_S)
            for job in inflight.values():
                _remove_partial(job)
                driver.interrupted(job, stop_signal)
            return True
        return False
    finally:
        if started_here:
            ray.shutdown()
