"""One service instance and its life: start, readiness, restarts with backoff, marked down.

Each instance runs as one asyncio task (`run`). It sees its process exit at once, checks its
readiness on its own schedule, and reports every change to the supervisor (`Hooks`), which
publishes the endpoints file and makes the decisions that concern the whole job (requeue off
a node whose GPUs are broken, the hand-over). Stopping, restarting in place and handing Neo4j
over are the supervisor's calls: `stop`, `restart`, `release`.
"""

from __future__ import annotations

import asyncio
import shlex
import signal
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from ..catalogue import Kind, ServiceSpec
from ..protocol import InstanceState
from . import policy
from .clock import Clock, within
from .processes import Launcher, Proc, exit_code, stop

State = InstanceState


@dataclass
class Hooks:
    """What an instance needs from the job: time, processes, readiness, the store, and ears."""

    clock: Clock
    launcher: Launcher
    ready: Callable[[Instance], Awaitable[bool]]  # one readiness check
    log: Callable[[str], None]
    event: Callable[[str], None]  # logged and kept in the endpoints file's EVENTS
    changed: Callable[[Instance], None]  # state, readiness or reason changed: publish
    may_start: Callable[[Instance], str] = lambda instance: ""  # why not now ("" = go): Neo4j's store lock
    marked_down: Callable[[Instance], None] = lambda instance: None
    restart_limit: int = 5
    env: dict[str, str] = field(default_factory=dict)  # the job's environment, for the children


class Instance:
    def __init__(self, spec: ServiceSpec, index: int, node: str, port: int, gpus: tuple[str, ...],
                 hooks: Hooks, argv: list[str], *, waiting: bool = False, hide_gpus: bool = False) -> None:
        self.spec, self.index, self.node, self.port, self.gpus = spec, index, node, port, gpus
        self.name = spec.name if spec.kind is Kind.NEO4J else f"{spec.name}{index}"
        self.hooks = hooks
        self.argv = argv
        self.hide_gpus = hide_gpus  # a CPU service in a job with GPUs sees none
        self.extra_env: dict[str, str] = {}  # Neo4j's memory settings
        self.state = State.WAITING if waiting else State.STOPPED
        self.proc: Proc | None = None
        self.fails = 0
        self.last_rc: int | None = None
        self.why = ""  # why it does not serve, in words (empty when it does or starts normally)
        self.since = 0.0  # when it was last started (monotonic)
        self.next_start = 0.0
        self.moving_until = 0.0  # until then readiness is checked ten times a second
        self.misses = 0
        self.starts = 0
        self._timed_out = False
        self._task: asyncio.Task[None] | None = None
        self._settled = asyncio.Event()  # set on every change of state

    @property
    def url(self) -> str:
        return self.spec.url(self.node, self.port)

    @property
    def ready(self) -> bool:
        return self.state is State.READY

    @property
    def clock(self) -> Clock:
        return self.hooks.clock

    def _set(self, state: State, why: str | None = None) -> None:
        self.state = state
        if why is not None:
            self.why = why
        self._settled.set()
        self.hooks.changed(self)

    # -- the task ----------------------------------------------------------------------------
    def begin(self) -> None:
        """Start the instance's task (again): it starts the service when it may."""
        if self._task is None or self._task.done():
            if self.state in (State.STOPPED, State.STOPPING, State.HANDED_OVER):
                self.state = State.STARTING  # starts at once
            self._task = asyncio.get_running_loop().create_task(self.run(), name=f"instance-{self.name}")

    async def run(self) -> None:
        while True:
            try:
                await self._one_life()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bug here must not leave the service unsupervised
                self.hooks.log(f"{self.name}: supervising failed ({type(exc).__name__}: {exc}); again in "
                               f"{policy.LOCKED_RETRY}s")
                await self.clock.sleep(policy.LOCKED_RETRY)

    async def _one_life(self) -> None:
        if self.proc is None or self.proc.returncode is not None:  # else: go on watching the one running
            if self.state in (State.BACKOFF, State.DOWN):
                await self.clock.sleep(self.next_start - self.clock.monotonic())
            if not await self._start():
                return
        rc = await self._watch()
        self._exited(rc)

    async def _start(self) -> bool:
        why = self.hooks.may_start(self)
        if why:
            self.next_start = self.clock.monotonic() + policy.LOCKED_RETRY
            self._set(State.BACKOFF, why)
            return False
        env = {**self.hooks.env, **self.extra_env, **dict(self.spec.env)}
        if self.gpus or self.hide_gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(self.gpus)
        try:
            self.proc = await self.hooks.launcher.spawn(self.argv, env)
        except OSError as exc:
            self.hooks.log(f"{self.name} could not start: {exc}")
            self._exited(127)
            return False
        self.since, self.misses, self._timed_out = self.clock.monotonic(), 0, False
        self.starts += 1
        self.hooks.log(f"started {self.name} (pid {self.proc.pid})")
        self._set(State.STARTING, "")
        return True

    async def _watch(self) -> int:
        """Until the process exits: readiness on schedule; its exit code."""
        assert self.proc is not None
        while True:
            moving = self.clock.monotonic() < self.moving_until
            done, rc = await within(self.clock, self.proc.wait(), policy.check_every(self.ready, moving))
            if done:
                return exit_code(rc if rc is not None else 0)
            await self._check()

    async def _check(self) -> None:
        clock = self.clock
        if await self.hooks.ready(self):
            self.misses = 0
            if not self.ready:
                self.hooks.log(f"{self.name} is ready after {clock.monotonic() - self.since:.0f}s")
                if self.fails:
                    self.hooks.event(f"{self.name} is back")
                self._set(State.READY, "")
        elif self.ready:
            self.misses += 1
            if self.misses >= policy.MISSES:
                self.hooks.log(f"{self.name} stopped answering its readiness check")
                self._set(State.STARTING)
        elif clock.monotonic() - self.since > self.spec.ready_timeout and not self._timed_out:
            self._timed_out = True
            self.hooks.log(f"{self.name} is not ready after {self.spec.ready_timeout}s: restarting it")
            self._signal(signal.SIGTERM)
        elif self._timed_out and clock.monotonic() - self.since > self.spec.ready_timeout + policy.REPLICA_STOP:
            self._signal(signal.SIGKILL)  # it ignored TERM (stuck in the driver, say)

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.returncode is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def _exited(self, rc: int) -> None:
        self.last_rc = rc
        decision = policy.after_exit(self.fails, self.clock.monotonic() - self.since, self.hooks.restart_limit)
        self.fails = decision.fails
        self.next_start = self.clock.monotonic() + decision.delay
        if decision.down:
            limit = self.hooks.restart_limit
            self._set(State.DOWN, f"{self.name} failed {limit + 1} times in a row (last exit {rc}); marked down")
            self.hooks.event(f"{self.why}; the other services keep serving; tried again in {policy.DOWN_RETRY}s")
            self.hooks.marked_down(self)
        else:
            self._set(State.BACKOFF)
            self.hooks.event(f"{self.name} exited ({rc}); restart {self.fails}/{self.hooks.restart_limit} "
                             f"in {decision.delay:.0f}s")

    # -- the supervisor's calls ------------------------------------------------------------------
    async def halt(self) -> None:
        """Stop supervising (the process, if any, keeps running until `stop`)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def stop(self, limit: float, state: State = State.STOPPED, why: str | None = None) -> None:
        """Stop supervising and stop the process (TERM, KILL after `limit`); says how long it took."""
        await self.halt()
        if self.ready or self.state is State.STARTING:
            self._set(State.STOPPING, why)  # out of the endpoints file first
        if self.proc is not None and self.proc.returncode is None:
            took, killed = await stop(self.proc, limit, self.clock)
            if killed:
                self.hooks.log(f"{self.name} did not stop within {limit:.0f}s: killed it")
            self.hooks.log(f"{self.name} stopped after {took:.0f}s")
        self._set(state, why)

    async def wait_ready(self, timeout: float) -> bool:
        """After a (re)start: True once ready; False if it exited or `timeout` passed."""
        deadline = self.clock.monotonic() + timeout
        while not self.ready:
            if self.state in (State.BACKOFF, State.DOWN, State.STOPPED, State.STOPPING) or \
                    self.clock.monotonic() >= deadline:
                return False
            self._settled.clear()
            await within(self.clock, self._settled.wait(), min(1.0, deadline - self.clock.monotonic()))
        return True

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "service": self.spec.name, "node": self.node, "port": self.port,
                "gpus": list(self.gpus), "url": self.url, "state": self.state.value, "why": self.why,
                "pid": self.proc.pid if self.proc is not None and self.proc.returncode is None else None,
                "fails": self.fails, "last_exit": self.last_rc, "restarts": max(0, self.starts - 1)}


def command_argv(spec: ServiceSpec, port: int, host: str, gpus: tuple[str, ...], api_key_file: str) -> list[str]:
    """What starts an instance, through bash so that the command's `$HOME` and `~` expand there."""
    if spec.kind is Kind.EMBED:
        flags = ["--model", spec.model, "--host", "0.0.0.0", "--port", str(port), "--device", spec.device,
                 "--dimension", str(spec.dimension)]
        if api_key_file:
            flags += ["--api-key-file", api_key_file]
        return ["bash", "-c", f'exec {spec.command} "$@"', spec.name, *flags]
    command = spec.command
    for key, value in (("port", str(port)), ("host", "0.0.0.0"), ("gpu", ",".join(gpus))):
        command = command.replace("{" + key + "}", shlex.quote(value) if value else "''")
    return ["bash", "-c", f"exec {command}"]
