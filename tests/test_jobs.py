"""JobControl: progress fractions, interrupt, callbacks."""

from __future__ import annotations

import pytest

from inpaint_anything.errors import JobInterrupted
from inpaint_anything.jobs import JobControl


def test_progress_fraction_and_callback():
    seen = []
    job = JobControl(on_progress=lambda j: seen.append(round(j.fraction, 3)))
    job.begin("inpaint", job_count=2)
    job.step(1, 4)
    job.step(4, 4)
    job.next_job()
    job.step(2, 4)
    assert seen == [0.0, 0.125, 0.5, 0.5, 0.75]


def test_interrupt_stops_at_the_next_step():
    job = JobControl()
    job.begin("x", 1)
    job.step(1, 10)
    job.interrupt()
    assert job.interrupted
    with pytest.raises(JobInterrupted):
        job.step(2, 10)
