"""The daemon's scheduler: APScheduler 3 with its jobs in the state database, a thread per
team, and a shutdown order that cannot deadlock (issue 15 item 4).

APScheduler's `shutdown(wait=True)` holds the job store's lock while it waits for running
jobs, and a finishing tick needs that lock to schedule its next wake-up: SIGTERM under a slow
forge deadlocked 7 times in 8. So the daemon pauses, waits a bounded time for its own ticks
(which start nothing new once it is stopping), stops the git of ticks it gives up on, and only
then shuts the scheduler down — waiting on it only when nothing can still need the lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import BaseJobStore, JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from bot.repo.gitprocess import stop_running

log = logging.getLogger("faultbot.daemon")
MAX_WORKERS = 64
SHUTDOWN_GRACE_SECONDS = 7.0  # SIGTERM: how long running ticks may finish (docker stop waits 10 s)


class TickExecutor(ThreadPoolExecutor):
    """APScheduler's pool, minus one race: its loop may hand over one more batch of due jobs
    after shutdown() marked it stopped (the loop checks only for "paused"); those are dropped
    here instead of failing with a logged traceback."""

    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers)
        self.closed = False

    def shutdown(self, wait: bool = True) -> None:
        """Refuse further jobs, then shut the pool down."""
        self.closed = True
        super().shutdown(wait)

    def _do_submit_job(self, job: Any, run_times: Any) -> None:
        if not self.closed:
            super()._do_submit_job(job, run_times)


def make_scheduler(job_store: BaseJobStore, teams: int) -> BackgroundScheduler:
    """A scheduler whose jobs coalesce, survive a long downtime once, and never overlap themselves.

    A thread per team and a few spare: a team whose forge hangs holds only its own.
    """
    return BackgroundScheduler(
        jobstores={"default": job_store},
        executors={"default": TickExecutor(min(MAX_WORKERS, teams + 4))},
        job_defaults={"coalesce": True, "misfire_grace_time": 6 * 3600, "max_instances": 1},
        timezone="UTC",
    )


def drop_job(scheduler: BackgroundScheduler, job_id: str, jobstore: str | None = None) -> None:
    """Remove a job if the store has it (one an earlier release scheduled)."""
    try:
        scheduler.remove_job(job_id, jobstore)
    except JobLookupError:
        pass


def shut_down(scheduler: BackgroundScheduler, wait_idle: Callable[[float], int], workdir: Path,
              grace: float = SHUTDOWN_GRACE_SECONDS) -> int:
    """Stop `scheduler` once the daemon's ticks are done (see the module's note); how many
    ticks were abandoned. The caller has already told its ticks to start nothing new."""
    scheduler.pause()
    abandoned = wait_idle(grace)
    if abandoned:  # a forge holds them: stop their git (the intent log makes that safe)
        stopped = stop_running(workdir)
        log.warning("stopping: gave up waiting for ticks", extra={"ticks": abandoned, "git_stopped": stopped})
        abandoned = wait_idle(2.0)
    scheduler.shutdown(wait=not abandoned)  # nothing left that could need the job store's lock
    return abandoned
