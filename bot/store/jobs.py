"""APScheduler's job store, its writes queued with the event log's (see eventlog's module note).

The scheduler writes a job's next run time each time it fires it; at start-up twenty ticks
fire at once and append to the log while it does, and each of its writes used to wait in
SQLite's busy handler behind theirs: the last team's first tick started ~1.3 s after the first.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore


class SerialJobStore(SQLAlchemyJobStore):  # type: ignore[misc]  # APScheduler 3 has no type hints
    """SQLAlchemyJobStore whose writes hold `write_lock` (the store's: one writer of this process at a time)."""

    def __init__(self, write_lock: AbstractContextManager[Any], **options: Any) -> None:
        super().__init__(**options)
        self.write_lock = write_lock

    def add_job(self, job: Any) -> None:
        """Store a new job."""
        with self.write_lock:
            super().add_job(job)

    def update_job(self, job: Any) -> None:
        """Store a job's new state (its next run time, after firing it)."""
        with self.write_lock:
            super().update_job(job)

    def remove_job(self, job_id: str) -> None:
        """Forget a job."""
        with self.write_lock:
            super().remove_job(job_id)

    def remove_all_jobs(self) -> None:
        """Forget every job."""
        with self.write_lock:
            super().remove_all_jobs()
