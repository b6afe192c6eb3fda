"""Neo4j's operations inside the job: a dump (asked for, or on the schedule) and a load.

Community edition dumps and loads only a stopped DBMS, so each stops Neo4j cleanly (its whole
stop time), runs `neo4j-admin` for `system` and `neo4j`, and starts it again, whatever happened;
the model servers keep serving throughout. What it did, how long Bolt was down and why it failed
go into the endpoints file (EVENTS, and the JSON twin's `neo4j` facts) for the console. Nothing
of this runs during a hand-over (Neo4j moves then) or while another operation runs.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ..catalogue import Kind
from ..config import seconds
from ..protocol import InstanceState
from ..units import human_bytes
from .files import expand
from .neo4j_admin import run_admin
from .neo4j_dump import (
    DATABASES,
    ScheduleState,
    admin_prefix,
    dump_argv,
    dump_decision,
    dump_folder,
    last_dump,
    list_dumps,
    load_argv,
    load_source,
    prune,
)
from .neo4j_store import locking_warning, size_memory, store_free

if TYPE_CHECKING:
    from .instance import Instance
    from .supervisor import Supervisor

ADMIN_TIMEOUT = 6 * 3600.0  # a dump of a big store takes its time; a hung one is stopped
FIRST_DUMP_AFTER = 3600.0  # with no dump at all, the first comes this long after the job started
DUMPS_FAIL = "scheduled Neo4j dumps fail"


class Neo4jOps:
    def _size_neo4j(self: Supervisor) -> None:
        assert self.neo4j is not None
        other = sum(2048 for _ in self.model_servers)  # a model server's own memory, roughly
        memory = size_memory(self.where.mem_mb or 4096, self.spec.neo4j_heap, self.spec.neo4j_pagecache, other)
        self.neo4j.extra_env = memory.env()
        lock = expand(self.spec.neo4j_lock)
        self.neo4j_info = {"heap": memory.heap, "pagecache": memory.pagecache, "memory": memory.source,
                           "store_lock": lock}
        self._last_dump_facts()
        warning = locking_warning(lock)
        if warning:
            self.warnings.append(warning)
            self.event(f"warning: {warning}")

    def _may_start(self: Supervisor, instance: Instance) -> str:
        if instance.spec.kind is not Kind.NEO4J:
            return ""
        ok, said = store_free(expand(self.spec.neo4j_lock))
        if ok:
            if said:
                self.log(said)
            return ""
        if instance.why != said:
            self.log(f"{said}; waiting for it to be free")
        return said

    def _busy(self: Supervisor, ready: bool = True) -> str:
        """Why Neo4j may not be stopped for an operation now; "" when it may (a load may replace a
        store Neo4j cannot start on: `ready=False`)."""
        h = self.handover
        if self.neo4j is None:
            return "this job runs no Neo4j"
        if not h.taken_over or h.successor or h.released:
            return "a hand-over to the next job is under way"
        if self.stopping:
            return "the job is stopping"
        if self.neo4j.state in (InstanceState.WAITING, InstanceState.HANDED_OVER):
            return f"Neo4j is {self.neo4j.state.value}"
        if ready and self.neo4j.state is not InstanceState.READY:
            return f"Neo4j is {self.neo4j.state.value}"
        return ""

    def _report(self: Supervisor, request: str, verb: str, state: str, message: str, **facts: object) -> None:
        self.neo4j_info.update({"operation_id": request, "operation": verb, "operation_state": state,
                                "operation_message": message, **facts})
        self.publish()

    @property
    def dump_dir(self: Supervisor) -> Path:
        return Path(expand(self.spec.neo4j_dump_dir))

    def _last_dump_facts(self: Supervisor) -> None:
        newest = last_dump(list_dumps(self.dump_dir))
        if newest is not None:
            self.neo4j_info.update(last_dump_at=newest.taken.timestamp(), last_dump_bytes=newest.bytes,
                                   last_dump_folder=str(newest.folder))

    async def _stopped_neo4j(self: Supervisor, why: str) -> float:
        """Stop Neo4j cleanly for an operation: when Bolt went down (epoch)."""
        assert self.neo4j is not None
        down = self.clock.time()
        await self.neo4j.stop(self.spec.stop_timeout, InstanceState.STOPPED, why)
        return down

    async def _restarted_neo4j(self: Supervisor, down: float) -> float | None:
        """Start Neo4j again and wait for Bolt: seconds Bolt was down (None: not back yet; the
        supervisor goes on starting it by its rules)."""
        assert self.neo4j is not None
        self.neo4j.why = ""
        self.neo4j.fails = 0
        self.neo4j.begin()
        ready = await self.neo4j.wait_ready(self.neo4j.spec.ready_timeout)
        return round(self.clock.time() - down, 1) if ready else None

    async def neo4j_dump(self: Supervisor, request: str = "", scheduled: bool = False) -> None:
        busy = self._busy()
        if busy:
            self.event(f"Neo4j dump refused: {busy}")
            self._report(request, "dump", "refused", busy)
            return
        folder = dump_folder(self.dump_dir, datetime.fromtimestamp(self.clock.time(), timezone.utc))
        self.event(f"Neo4j dump {'(scheduled) ' if scheduled else ''}to {folder}: stopping Neo4j")
        self._report(request, "dump", "running", f"dumping to {folder}")
        down = await self._stopped_neo4j("Neo4j is stopped for a dump")
        # Written under a name no listing counts, renamed when whole: a cut dump never looks complete.
        partial = folder.with_name(folder.name + ".partial")
        failed, size = "", 0
        try:
            prefix = admin_prefix(self.spec.neo4j_admin_command, self.parts.env)
            partial.mkdir(parents=True, exist_ok=True)  # neo4j-admin writes only into a folder that exists
            os.chmod(partial, 0o750 if self.spec.group else 0o700)  # the whole graph: the team's at most
            for database in DATABASES:
                result = await run_admin(dump_argv(prefix, database, partial), ADMIN_TIMEOUT)
                size += result.bytes or 0
                if not result.ok:
                    failed = f"{database}: {result.message}"
                    break
            if not failed:
                partial.rename(folder)
        except (OSError, ValueError) as exc:
            failed = f"{getattr(exc, 'strerror', None) or exc}: {getattr(exc, 'filename', '') or folder}"
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        outage = await self._restarted_neo4j(down)
        took = self.clock.time() - down
        bolt = f"Bolt down {outage:.1f}s" if outage is not None else "Neo4j not answering yet"
        self.warnings = [w for w in self.warnings if not w.startswith(DUMPS_FAIL)]
        if failed:
            if scheduled:
                self.dump_failures, self.dump_failed_at = self.dump_failures + 1, self.clock.monotonic()
                if self.dump_failures >= 2:
                    self.warnings.append(f"{DUMPS_FAIL} ({self.dump_failures} in a row): {failed}")
            self.event(f"Neo4j dump failed ({failed}); Neo4j started again, {bolt}")
            self._report(request, "dump", "failed", failed, bolt_down=outage)
            return
        self.dump_failures = 0
        removed = prune(self.dump_dir, self.spec.neo4j_dump_keep)
        self._last_dump_facts()
        said = (f"Neo4j dumped: {folder} ({human_bytes(size)}) in {took:.1f}s; {bolt}"
                + (f"; removed {len(removed)} older dump(s)" if removed else ""))
        self.event(said)
        self._report(request, "dump", "done", said, last_dump_seconds=round(took, 1), bolt_down=outage)

    async def neo4j_load(self: Supervisor, request: str, path: str) -> None:
        busy = self._busy(ready=False)
        source = Path(expand(path))
        try:
            dump, databases = load_source(source)
        except ValueError as exc:
            busy = busy or str(exc)
        if busy:
            self.event(f"Neo4j load refused: {busy}")
            self._report(request, "load", "refused", busy)
            return
        self.event(f"Neo4j load of {dump.folder} ({', '.join(databases)}): stopping Neo4j")
        self._report(request, "load", "running", f"loading {dump.folder}")
        down = await self._stopped_neo4j("Neo4j is stopped for a load")
        failed = ""
        try:
            prefix = admin_prefix(self.spec.neo4j_admin_command, self.parts.env)
            for database in databases:
                result = await run_admin(load_argv(prefix, database, dump.folder), ADMIN_TIMEOUT)
                if not result.ok:
                    failed = f"{database}: {result.message}"
                    break
        except (OSError, ValueError) as exc:
            failed = str(exc)
        outage = await self._restarted_neo4j(down)
        bolt = f"Bolt down {outage:.1f}s" if outage is not None else "Neo4j not answering yet"
        if failed:
            self.event(f"Neo4j load failed ({failed}); Neo4j started again, {bolt}")
            self._report(request, "load", "failed", failed, bolt_down=outage)
            return
        said = f"Neo4j loaded {dump.folder} ({', '.join(databases)}); {bolt}"
        self.event(said)
        self._report(request, "load", "done", said, bolt_down=outage)

    def schedule_dumps(self: Supervisor) -> None:
        """A scheduled dump when it is due (looked at again when the decision says)."""
        every = seconds(self.spec.neo4j_dump_every)
        if every <= 0 or self.neo4j is None or self.clock.monotonic() < self.next_dump_look:
            return
        times = self.handover.times
        last = self.neo4j_info.get("last_dump_at")  # none yet: as if one had been taken just so long ago
        since = float(last) if last else self.started_at - every + min(every, FIRST_DUMP_AFTER)
        decision = dump_decision(ScheduleState(
            now=self.clock.time(), every=every, last_dump=since,
            end_time=times[1] if times else None, handover_lead=self.spec.rollover_lead,
            expected=float(self.neo4j_info.get("bolt_down") or 300.0), busy=self._busy()))
        self.next_dump_look = self.clock.monotonic() + max(1.0, min(decision.check_again, 600.0))
        if not decision.due:
            return
        if self.dump_failures:  # a dump that cannot work must not stop Neo4j over and over: an hour
            again = self.dump_failed_at + min(every, FIRST_DUMP_AFTER * 2 ** (self.dump_failures - 1))
            if self.clock.monotonic() < again:  # after the first failure, doubling, up to the period
                self.next_dump_look = again
                return
        self.next_dump_look = self.clock.monotonic() + 60.0
        self._queue(lambda: self.neo4j_dump("", scheduled=True))
