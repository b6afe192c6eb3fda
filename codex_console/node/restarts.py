"""Restarts in place, inside the running job: the services named in the request file (or `embed`)
on USR1, Neo4j on USR2. One instance at a time, so that the others keep serving: each leaves the
endpoints file, the tools get DRAIN seconds to re-read it, then it stops and starts again and is
ready before the next one goes. Neo4j gets its whole stop time."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

from ..catalogue import Kind
from ..protocol import DEFAULT_RESTART, InstanceState, request_file
from . import policy

if TYPE_CHECKING:
    from .supervisor import Supervisor

State = InstanceState


class Restarts:
    def _requested(self: Supervisor) -> list[str]:
        """The services named in the request file (taken, so each request counts once); else embed."""
        path = request_file(self.endpoints_file, self.job_id)
        try:
            os.rename(path, path + ".taken")
            with open(path + ".taken") as fh:
                names = [w for w in fh.read().split() if w]
            os.unlink(path + ".taken")
        except OSError:
            names = []
        return list(dict.fromkeys(names)) or [DEFAULT_RESTART]

    def _queue_restart(self: Supervisor, which: list[str]) -> None:
        previous = self.restarts

        async def after_previous() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            await self.restart_in_place(which)

        self.restarts = asyncio.get_running_loop().create_task(after_previous(), name="restart-in-place")
        if self.workers is not None:
            self.workers.restart(which)

    async def restart_in_place(self: Supervisor, which: list[str]) -> None:
        """One instance at a time, so the others keep serving; Neo4j gets its whole stop time."""
        self.event(f"in-place restart of {', '.join(which)} requested")
        for name in which:
            targets = [i for i in self.instances if i.spec.name == name]
            if not targets and not any(s.name == name for s in self.spec.services):
                self.event(f"no service {name} in this job")
                continue
            for instance in targets:
                if instance.state in (State.WAITING, State.HANDED_OVER):
                    self.log(f"{instance.name} is not this job's to restart")
                    continue
                if instance.spec.kind is Kind.NEO4J:
                    await instance.stop(self.spec.stop_timeout)
                else:
                    await instance.halt()
                    instance.state = State.STOPPING  # out of the endpoints file, then the tools re-read it
                    self.publish()
                    await self.clock.sleep(policy.DRAIN)
                    await instance.stop(policy.REPLICA_STOP)
                instance.fails = 0
                instance.begin()
                await instance.wait_ready(instance.spec.ready_timeout)
            self.event(f"{name} restarted in place")
