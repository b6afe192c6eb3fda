"""The tunnel keeper: one `ssh -N` carrying every forward, kept up without the console.

Run as its own process (`tunnel start` spawns it; one per user and login node, held by a lock
file). Every few seconds it reads the endpoints file, sends a real request through each
forward and writes what it found to a status file. It restarts `ssh`, with capped backoff, when
ssh exits or a forward stops answering (a laptop that slept, a stopped process, a login node
that restarted sshd), and re-targets when the job moved to another node. A forward whose far
end refuses (the service is down) is reported, not "fixed" by restarting ssh.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

from .. import config as config_mod
from .connect import make_runner
from .endpoints import EndpointsReader
from .openssh import control_path
from .tunnel_probe import aimed, master_argv, probe_forward, ssh_argv, wanted_forwards

log = logging.getLogger("codex-console.tunnel-keeper")
HANG_LIMIT = 2  # checks in a row with no answer through a forward before ssh is restarted


class Keeper:
    def __init__(self, cfg: config_mod.Config, state: Path) -> None:
        self.cfg, self.state = cfg, state
        self.wanted = wanted_forwards(cfg)
        self.forwards = self.wanted
        self.runner = make_runner(cfg)
        self.endpoints = EndpointsReader(self.runner, cfg.services.endpoints_file)
        self.proc: asyncio.subprocess.Process | None = None
        self.node = ""
        self.started: float | None = None
        self.restarts = 0
        self.hangs = 0
        self.failures = 0
        self.next_start = 0.0
        self.last_error = ""
        self.results: dict[str, tuple[bool, str]] = {}
        self.exited = asyncio.Event()
        self.master_path = ""  # the OpenSSH transport: the master connection's socket
        self.carried: tuple[list, str] | None = None  # the forwards the master holds for us

    async def run(self) -> None:
        interval = self.cfg.tunnels.check_interval
        while True:
            await self.step()
            self.write_status()
            soon = self.hangs or not self.results  # just hung, or not checked since ssh started
            try:
                async with asyncio.timeout(1.0 if soon else interval):
                    await self.exited.wait()
            except TimeoutError:
                pass

    async def step(self) -> None:
        try:
            ep = await self.endpoints.read()
            if ep.node and (ep.embed_urls or ep.neo4j_uri):  # the services are somewhere
                forwards = aimed(self.wanted, ep)
                if (ep.node, forwards) != (self.node, self.forwards) and self.proc is not None:
                    log.info("services moved (%s -> %s): re-targeting", self.node, ep.node)
                    await self.kill_ssh("re-target")
                self.node, self.forwards = ep.node, forwards
        except Exception as exc:  # noqa: BLE001 - keep the old target; say why
            self.last_error = f"endpoints: {exc}"
        if not self.node:
            self.last_error = self.last_error or "no endpoints file yet: nothing to forward to"
            return
        if self.proc is None or self.proc.returncode is not None:
            self.exited.clear()
            if time.monotonic() >= self.next_start:
                await self.start_ssh()
            return
        results = await asyncio.gather(*(probe_forward(f) for f in self.forwards))
        self.results = {f.name: (r.up, r.error) for f, r in zip(self.forwards, results)}
        if any(r.hung for r in results):
            self.hangs += 1
            if self.hangs >= HANG_LIMIT:
                await self.kill_ssh("no answer through the tunnel: restarting ssh")
        else:
            self.hangs = 0
            if self.started and time.monotonic() - self.started > 60:
                self.failures = 0  # healthy a while: the next failure backs off from the start

    async def start_ssh(self) -> None:
        if self.cfg.login.transport == "openssh":
            return await self.start_master_forwards()
        argv = ssh_argv(self.cfg, self.node, self.forwards)
        await self._carry(argv)

    async def _carry(self, argv: list[str]) -> None:
        """Run the process whose life is the tunnels' life, and watch it."""
        log.info("starting %s", " ".join(argv))
        with open(self.state / "ssh.log", "ab") as fh:
            self.proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=fh, stderr=fh)
        self.started, self.hangs = time.monotonic(), 0
        asyncio.get_running_loop().create_task(self._watch(self.proc))

    async def start_master_forwards(self) -> None:
        """With the OpenSSH transport the forwards live in the user's master connection (one
        login): ask it for them, then watch the master (`-O check` every 5 s)."""
        path = self.master_path = self.master_path or await asyncio.to_thread(control_path, self.cfg.login)
        self.carried = list(self.forwards), self.node
        argv = master_argv(self.cfg, path, "forward", self.node, self.forwards)
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        if proc.returncode != 0:
            self.failures += 1
            delay = min(30.0, 2.0 ** (self.failures - 1))
            self.next_start = time.monotonic() + delay
            self.last_error = (f"the master connection did not forward: {err.decode(errors='replace').strip()} "
                               "(is it up? `codex-console login`)")
            return
        check = master_argv(self.cfg, path, "check")
        await self._carry(["sh", "-c", 'while "$@" 2>/dev/null; do sleep 5; done', "sh", *check])

    async def cancel_master_forwards(self) -> None:
        carried = self.carried
        if carried is None:
            return
        forwards, node = carried
        argv = master_argv(self.cfg, self.master_path, "cancel", node, forwards)
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.DEVNULL)
        await proc.wait()
        self.carried = None

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        if proc is self.proc:
            self.failures += 1
            delay = min(30.0, 2.0 ** (self.failures - 1))
            self.next_start = time.monotonic() + delay
            self.restarts += 1
            self.last_error = f"ssh exited {code}: {self._ssh_said()}; again in {delay:.0f}s"
            log.warning(self.last_error)
            self.results = {}
            self.exited.set()

    async def kill_ssh(self, why: str) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.returncode is None:
            proc.kill()  # SIGKILL also ends a stopped (SIGSTOP) process
            await proc.wait()
            self.restarts += 1
        await self.cancel_master_forwards()
        self.last_error, self.results, self.hangs = why, {}, 0
        self.exited.set()

    def _ssh_said(self) -> str:
        try:
            lines = (self.state / "ssh.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no output"
        return lines[-1] if lines else "no output"

    def write_status(self) -> None:
        running = self.proc is not None and self.proc.returncode is None
        status = {
            "pid": os.getpid(), "ssh_pid": self.proc.pid if running and self.proc else None,
            "node": self.node, "checked": time.time(), "restarts": self.restarts,
            "started": time.time() - (time.monotonic() - self.started) if running and self.started else None,
            "last_error": self.last_error,
            "forwards": [{"name": f.name, "local_port": f.local_port, "remote_port": f.remote_port,
                          "up": running and self.results.get(f.name, (False, ""))[0],
                          "error": self.results.get(f.name, (False, "not checked yet"))[1]
                          if running else self.last_error} for f in self.forwards]}
        tmp = self.state / "status.json.tmp"
        tmp.write_text(json.dumps(status))
        tmp.replace(self.state / "status.json")

    async def close(self) -> None:
        await self.kill_ssh("stopped")
        await self.runner.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="keep the codex-console tunnels up")
    p.add_argument("state_dir")
    args = p.parse_args(argv)
    state = Path(args.state_dir)
    logging.basicConfig(filename=state / "keeper.log", level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    lock = open(state / "keeper.lock", "a")
    try:
        fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print("codex-console tunnel keeper: already running", file=sys.stderr)
        return 1
    cfg = config_mod.load(str(state / "config.toml"), environ={})
    tmp = state / "keeper.pid.tmp"
    tmp.write_text(str(os.getpid()))
    tmp.replace(state / "keeper.pid")
    return asyncio.run(_serve(Keeper(cfg, state)))


async def _serve(keeper: Keeper) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    task = loop.create_task(keeper.run())
    await stop.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await keeper.close()
    (keeper.state / "status.json").unlink(missing_ok=True)
    (keeper.state / "keeper.pid").unlink(missing_ok=True)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
