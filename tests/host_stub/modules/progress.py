"""``modules.progress`` (v1.10.1 subset): task ids and the pending/current/finished bookkeeping."""

from __future__ import annotations

import random
import string
import time
from collections import OrderedDict

current_task = None
pending_tasks: OrderedDict = OrderedDict()
finished_tasks: list = []
recorded_results: list = []
recorded_results_limit = 2


def start_task(id_task):
    global current_task
    current_task = id_task
    pending_tasks.pop(id_task, None)


def finish_task(id_task):
    global current_task
    if current_task == id_task:
        current_task = None
    finished_tasks.append(id_task)
    if len(finished_tasks) > 16:
        finished_tasks.pop(0)


def create_task_id(task_type):
    res = "".join(random.choices(string.ascii_uppercase + string.digits, k=7))
    return f"task({task_type}-{res})"


def record_results(id_task, res):
    recorded_results.append((id_task, res))
    if len(recorded_results) > recorded_results_limit:
        recorded_results.pop(0)


def add_task_to_queue(id_job):
    pending_tasks[id_job] = time.time()


def progress_fraction() -> float:
    """Stand-in helper: the value /internal/progress reports for the current task."""
    from modules import shared

    st = shared.state
    progress = 0.0
    if st.job_count > 0:
        progress += st.job_no / st.job_count
        if st.sampling_steps > 0:
            progress += 1 / st.job_count * st.sampling_step / st.sampling_steps
    return min(progress, 1.0)
