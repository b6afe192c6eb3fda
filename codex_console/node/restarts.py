"""Restarts in place, inside the running job: the services named in the request file (or `embed`)
on USR1, Neo4j on USR2 (the request file also carries Neo4j dumps and loads: `neo4j_ops.py`).
One instance at a time, so that the others keep serving: each leaves the endpoints file, the
tools get DRAIN seconds to re-read it, then it stops and starts again and is ready before the
next one goes. Neo4j gets its whole stop time."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Awaitable, Callable

from ..catalogue import Kind
from ..protocol import DEFAULT_RESTART, REQUEST_MAX_AGE, InstanceState, Request, parse_request, request_file
from . import policy

if TYPE_CHECKING:
    from .supervisor import Supervisor

State = InstanceState


class Restarts:
    def _take_requests(self: Supervisor) -> list[tuple[Request, tuple[str, ...]]]:
        """The request file's lines (taken, so that each request counts once); one older than
        REQUEST_MAX_AGE (its signal never came: the console's second step failed) is dropped."""
        path = request_file(self.endpoints_file, self.job_id)
        try:
            os.rename(path, path + ".taken")
            with open(path + ".taken") as fh:
                lines = fh.read().splitlines()
            os.unlink(path + ".taken")
        except OSError:
            return []
        taken = []
        for verb, args, at in filter(None, map(parse_request, lines)):
            if at is not None and self.clock.time() - at > REQUEST_MAX_AGE:
                self.log(f"ignoring a request of {self.clock.time() - at:.0f}s ago: {verb.value} {' '.join(args)}")
            else:
                taken.append((verb, args))
        return taken

    def _on_restart_signal(self: Supervisor) -> None:
        """The request file says what to do: restarts, a Neo4j dump or load; nothing: restart embed
        (each request comes with a signal of its own: one signal that took several lines makes
        the others' signals, when they come to an empty file, mean nothing)."""
        requests = self._take_requests()
        if not requests and self.covered_signals:
            self.covered_signals -= 1
            return
        self.covered_signals += max(0, len(requests) - 1)
        names = [args[0] for verb, args in requests if verb is Request.RESTART and args]
        if names or not requests:
            self._queue_restart(list(dict.fromkeys(names)) or [DEFAULT_RESTART])
        for verb, args in requests:
            if verb is Request.NEO4J_DUMP:
                self._queue(lambda id=args[0] if args else "": self.neo4j_dump(id))
            elif verb is Request.NEO4J_LOAD and len(args) >= 2:
                self._queue(lambda id=args[0], path=args[1]: self.neo4j_load(id, path))

    def in_place_busy(self: Supervisor) -> bool:
        """A restart, dump or load is running or waiting its turn."""
        return self.restarts is not None and not self.restarts.done()

    def _queue(self: Supervisor, work: Callable[[], Awaitable[None]]) -> None:
        """One thing at a time touches the instances: restarts, dumps and loads wait their turn."""
        previous = self.restarts

        async def after_previous() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            try:
                await work()
            except Exception as exc:  # noqa: BLE001 - said, and a Neo4j operation it held reported failed
                said = f"{type(exc).__name__}: {exc}"
                self.event(f"in-place work failed: {said}")
                if self.neo4j_info.get("operation_state") == "running":
                    self._report(str(self.neo4j_info.get("operation_id", "")), str(self.neo4j_info.get("operation")),
                                 "failed", said)

        self.restarts = asyncio.get_running_loop().create_task(after_previous(), name="in-place")

    def _queue_restart(self: Supervisor, which: list[str]) -> None:
        async def every_node() -> None:  # this node's instances, then each other node's in turn
            await self.restart_in_place(which)
            if self.workers is not None:
                await self.workers.restart_each(which)

        self._queue(every_node)

    async def restart_in_place(self: Supervisor, which: list[str]) -> None:
        """One instance at a time, so the others keep serving; Neo4j gets its whole stop time."""
        self.event(f"in-place restart of {', '.join(which)} requested")
        for name in which:
            targets = [i for i in self.instances if i.spec.name == name]
            if not targets and not any(s.name == name for s in self.spec.services):
                self.event(f"no service {name} in this job")
                continue
            for instance in targets:
                if instance.state in (State.WAITING, State.HANDED_OVER) or (
                        instance.spec.kind is Kind.NEO4J and self._busy(ready=False)):
                    self.log(f"{instance.name} is not this job's to restart now: {self._busy(ready=False)}")
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
