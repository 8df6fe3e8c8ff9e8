"""The Ray engine's driver (:mod:`inpaint_anything.ray_pool`) against a scripted stand-in of Ray: what it
does when a worker is only unavailable for a moment, and when one is gone for good. Runs without Ray."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

from inpaint_anything.batch_spec import EngineOptions
from inpaint_anything.jobs import JobControl
from inpaint_anything.ray_pool import Driver, Task


class ActorUnavailableError(Exception):
    """Ray's "temporarily unavailable" (restarting, or its connection dropped)."""


class ActorDiedError(Exception):
    pass


class RayTaskError(Exception):
    pass


class FakeRay:
    """Every call answers at once. ``probes[n]`` lists what worker n's pings give, in turn (an exception
    to raise, or None for "ready"); items always succeed on a worker that is up."""

    exceptions = SimpleNamespace(ActorUnavailableError=ActorUnavailableError, RayTaskError=RayTaskError)

    def __init__(self, probes: dict[int, list]) -> None:
        self.probes = {n: list(answers) for n, answers in probes.items()}
        self.results: dict[int, object] = {}
        self.ids = itertools.count()
        self.workers = itertools.count()
        self.pings: dict[int, int] = {}
        self.ran: dict[int, list[str]] = {}

    def _ref(self, value: object) -> int:
        ref = next(self.ids)
        self.results[ref] = value
        return ref

    def remote(self, **_options):
        ray = self

        def wrap(_cls):
            class Remote:
                @staticmethod
                def remote(*_args):
                    n = next(ray.workers)

                    def ready():
                        ray.pings[n] = ray.pings.get(n, 0) + 1
                        answers = ray.probes.get(n) or [None]
                        answer = answers.pop(0) if len(answers) > 1 else answers[0]
                        return ray._ref(answer if answer is not None else {"error": None, "worker": f"w{n}"})

                    def process_inline(item):
                        ray.ran.setdefault(n, []).append(item.name)
                        return ray._ref(("done", [item.name], f"w{n}"))

                    return SimpleNamespace(
                        n=n, ready=SimpleNamespace(remote=ready), process_inline=SimpleNamespace(remote=process_inline)
                    )

            return Remote

        return wrap

    def wait(self, refs, num_returns=1, timeout=None):
        return list(refs)[: max(num_returns, 1)], list(refs)[max(num_returns, 1) :]

    def get(self, ref):
        value = self.results.pop(ref)
        if isinstance(value, BaseException):
            raise value
        return value

    def kill(self, _handle):
        pass


def run(ray: FakeRay, n_tasks: int = 5) -> dict[str, str]:
    done: dict[str, str] = {}
    tasks = [Task(i, SimpleNamespace(name=f"n{i:02d}")) for i in range(n_tasks)]
    driver = Driver(
        ray,
        EngineOptions(engine="ray", workers=2, max_retries=1),
        2,
        (),
        inline=True,
        overwrite=False,
        job=JobControl(),
        finish=lambda task, status, value, worker: done.__setitem__(task.item.name, status),
        retried=lambda task, reason: None,
        worker_class=object,
    )
    assert driver.run(tasks)
    return done


def test_a_worker_unavailable_for_a_moment_is_asked_again_and_then_used():
    # worker 0: two "unavailable" answers (restarting), then ready; worker 1: gone for good
    ray = FakeRay(
        {
            0: [ActorUnavailableError("Socket closed"), ActorUnavailableError("restarting"), None],
            1: [ActorDiedError("the actor died")],
        }
    )
    done = run(ray)
    assert done == {f"n{i:02d}": "done" for i in range(5)}  # the pool did not give up on worker 0
    assert ray.pings[0] == 3 and ray.pings[1] == 1 and sorted(ray.ran[0]) == sorted(done) and 1 not in ray.ran


def test_a_worker_gone_for_good_is_not_asked_again():
    ray = FakeRay({0: [None], 1: [ActorDiedError("out of restarts")]})
    done = run(ray, 3)
    assert set(done.values()) == {"done"} and ray.pings[1] == 1 and 1 not in ray.ran
