"""The supervisor's Neo4j dump helpers: command lines, dated folders, retention, the schedule
(with an injected clock), and running neo4j-admin (small stand-in commands, no Neo4j)."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from codex_console.config_schema import Neo4jConfig
from codex_console.node import neo4j_admin as na
from codex_console.node import neo4j_dump as nd
from codex_console.node.neo4j_dump import ScheduleState, dump_decision

HOME = {"HOME": "/home/alice"}
T0 = datetime(2026, 12, 4, 15, 30, 0, tzinfo=timezone.utc)
H = 3600.0


# -- command lines -----------------------------------------------------------------------------
def test_the_default_prefix_is_apptainer_with_the_data_bind_and_paths_stay_single_words():
    prefix = nd.admin_prefix(Neo4jConfig().admin_command, HOME)
    assert prefix == ["apptainer", "exec", "--bind", "/home/alice/neo4j/data:/data", "/home/alice/neo4j/neo4j.sif",
                      "neo4j-admin"]
    folder = Path("/home/alice/neo4j dumps/20261204T153000Z")  # a space stays inside one argument
    assert nd.dump_argv(prefix, "neo4j", folder) == [*prefix, "database", "dump", "neo4j", f"--to-path={folder}"]
    assert nd.dump_argv(prefix, "system", folder, overwrite=True)[-1] == "--overwrite-destination=true"
    assert nd.load_argv(prefix, "neo4j", folder) == [*prefix, "database", "load", "neo4j", f"--from-path={folder}",
                                                     "--overwrite-destination=true"]


def test_a_prefix_is_split_like_shell_words_but_runs_no_shell():
    command = "'/opt/my tools/neo4j-admin' --verbose ${SCRATCH}/x ~/y $NOPE; rm"
    prefix = nd.admin_prefix(command, HOME | {"SCRATCH": "/s"})
    assert prefix == ["/opt/my tools/neo4j-admin", "--verbose", "/s/x", "/home/alice/y", "$NOPE;", "rm"]
    with pytest.raises(ValueError, match="empty"):
        nd.admin_prefix("  ")


@pytest.mark.parametrize("name", ["", "ne", "1db", "neo4j; rm -rf ~", "--to-path=/", "a" * 64])
def test_a_database_name_neo4j_would_refuse_never_reaches_the_command_line(name):
    with pytest.raises(ValueError, match="not a Neo4j database name"):
        nd.dump_argv(["neo4j-admin"], name, "/d")


def test_the_target_of_a_command_line_is_read_back():
    argv = nd.load_argv(["x", "--bind", "a:b"], "system", "/d/20261204T153000Z")
    assert nd.admin_target(argv) == ("load", "system", "/d/20261204T153000Z")
    assert nd.admin_target(["neo4j-admin", "server", "report"]) == ("", "", "")


# -- dump folders and retention ---------------------------------------------------------------
def make_dump(root: Path, at: datetime, sizes: dict[str, int]) -> Path:
    folder = nd.dump_folder(root, at)
    folder.mkdir(parents=True)
    for db, size in sizes.items():
        (folder / f"{db}.dump").write_bytes(b"x" * size)
    return folder


def test_folders_are_named_in_utc_and_listed_newest_first_with_sizes(tmp_path):
    paris = timezone(timedelta(hours=1))
    assert nd.dump_folder(tmp_path, T0.astimezone(paris)).name == "20261204T153000Z"
    make_dump(tmp_path, T0, {"system": 10, "neo4j": 2000})
    make_dump(tmp_path, T0 + timedelta(days=1), {"system": 10})  # a failed dump: system only
    (tmp_path / "keep-me").mkdir()  # not ours: never listed, never pruned
    dumps = nd.list_dumps(tmp_path)
    assert [d.folder.name for d in dumps] == ["20261205T153000Z", "20261204T153000Z"]
    assert [d.complete for d in dumps] == [False, True] and dumps[1].bytes == 2010
    assert nd.last_dump(dumps) == dumps[1]
    assert dumps[1].describe(T0 + timedelta(hours=3)) == \
        "2026-12-04 15:30 UTC (3.0h ago), 2.0 kB: system 10 B, neo4j 2.0 kB"
    assert "(incomplete)" in dumps[0].describe(T0)
    assert nd.list_dumps(tmp_path / "none-yet") == []


def test_retention_keeps_the_newest_complete_dumps_and_drops_failed_ones_before_them(tmp_path):
    full = {"system": 1, "neo4j": 1}
    for day in range(5):
        make_dump(tmp_path, T0 + timedelta(days=day), full)
    make_dump(tmp_path, T0 + timedelta(days=2, hours=1), {"system": 1})  # failed, older than the newest
    make_dump(tmp_path, T0 + timedelta(days=6), {"system": 1})  # newest: may still be being written
    names = {d.folder.name for d in nd.to_prune(nd.list_dumps(tmp_path), keep=2)}
    assert names == {"20261204T153000Z", "20261205T153000Z", "20261206T153000Z", "20261206T163000Z"}
    removed = nd.prune(tmp_path, keep=2)
    assert len(removed) == 4 and not any(p.exists() for p in removed)
    assert [d.folder.name for d in nd.list_dumps(tmp_path)] == ["20261210T153000Z", "20261208T153000Z",
                                                                "20261207T153000Z"]
    assert nd.to_prune(nd.list_dumps(tmp_path), keep=7) == []


def test_what_a_load_would_load_is_named_with_its_date_and_size(tmp_path):
    folder = make_dump(tmp_path, T0, {"system": 5, "neo4j": 50})
    dump, databases = nd.load_source(folder)
    assert databases == ("system", "neo4j") and dump.bytes == 55 and dump.taken == T0
    dump, databases = nd.load_source(folder / "neo4j.dump")
    assert databases == ("neo4j",) and dump.sizes == (("neo4j", 50),)
    (tmp_path / "backup.tar").write_bytes(b"x")
    for path, message in ((tmp_path / "backup.tar", "loads <database>.dump"), (tmp_path / "gone", "no such"),
                          (tmp_path / "empty", "no <database>.dump")):
        if path.name == "empty":
            path.mkdir()
        with pytest.raises(ValueError, match=message):
            nd.load_source(path)


# -- the schedule ------------------------------------------------------------------------------
NOW = 1_800_000_000.0


def state(**kw) -> ScheduleState:
    return ScheduleState(**{"now": NOW, "every": 24 * H, "last_dump": NOW - 24.5 * H, **kw})


@pytest.mark.parametrize("kw,due,reason", [
    ({"every": 0}, False, "scheduled dumps are off"),
    ({"busy": "hand-over under way"}, False, "not now: hand-over under way"),
    ({"last_dump": NOW - 2 * H}, False, "next dump in 22.0h"),
    ({"last_dump": NOW - 24 * H + 30}, False, "next dump in 30s"),
    ({"last_dump": None}, True, "due (no dump yet"),
    ({}, True, "due (last dump 24.5h ago, every 24.0h)"),
    ({"end_time": NOW + 34 * 60, "handover_lead": 30 * 60}, False, "too close to the hand-over (34m to the time"),
    ({"end_time": NOW + 45 * 60, "handover_lead": 30 * 60, "expected": 60}, True, "due"),
    ({"last_traffic": NOW - 5}, False, "waiting for a quiet moment"),
    ({"last_traffic": NOW - 61}, True, "due"),
    ({"last_dump": NOW - 26 * H, "last_traffic": NOW - 1}, True, "not waiting for a quiet moment"),
])
def test_a_scheduled_dump_starts_when_due_quiet_and_clear_of_the_hand_over(kw, due, reason):
    decision = dump_decision(state(**kw))
    assert decision.due is due and reason in decision.reason


def test_the_decision_says_when_to_ask_again():
    assert dump_decision(state(last_dump=NOW - 23 * H)).check_again == pytest.approx(H)
    assert dump_decision(state(last_traffic=NOW - 20)).check_again == pytest.approx(40)
    # an hour overdue at most, even while traffic never stops
    assert dump_decision(state(last_dump=NOW - 24 * H - 3590, last_traffic=NOW)).check_again == pytest.approx(10)


def test_a_dump_older_than_twice_the_schedule_is_overdue():
    assert not nd.dump_overdue(NOW, NOW - 47 * H, 24 * H)
    assert nd.dump_overdue(NOW, NOW - 49 * H, 24 * H) and nd.dump_overdue(NOW, None, 24 * H)
    assert not nd.dump_overdue(NOW, None, 0)


# -- running neo4j-admin -----------------------------------------------------------------------
def test_the_message_is_neo4js_own_reason_without_the_log_prefix():
    out = ("2026-12-04 15:30:00.000+0000 INFO  [o.n.c.d.DumpCommand] Starting dump of database 'neo4j'\n"
           "2026-12-04 15:30:00.100+0000 ERROR [o.n.c.d.DumpCommand] Failed to dump database 'neo4j': The database "
           "is in use. Stop database 'neo4j' and try again.\nDump failed for databases: 'neo4j'\n")
    assert na.summarize(out, 1) == ("Failed to dump database 'neo4j': The database is in use. "
                                    "Stop database 'neo4j' and try again.")
    assert na.summarize("INFO  [o.n.c.d.DumpCommand] Dump completed successfully\n", 0) == "Dump completed successfully"
    assert na.summarize("FATAL:   could not open image /x/neo4j.sif: no such file\n", 255).startswith("FATAL")
    assert na.summarize("", 3, "load neo4j") == "load neo4j: exit code 3"


FAKE_DUMP = ("import sys, pathlib; to = [a for a in sys.argv if a.startswith('--to-path=')][0].split('=', 1)[1]; "
             "pathlib.Path(to, sys.argv[sys.argv.index('dump') + 1] + '.dump').write_bytes(b'x' * 1234); "
             "print('INFO  [o.n.c.d.DumpCommand] Dump completed successfully')")


async def test_run_admin_reports_exit_code_size_and_message(tmp_path):
    ticks = iter([100.0, 102.5])
    argv = nd.dump_argv([sys.executable, "-c", FAKE_DUMP, "neo4j-admin"], "neo4j", tmp_path)
    result = await na.run_admin(argv, timeout=30, clock=lambda: next(ticks))
    assert result.ok and (result.action, result.database) == ("dump", "neo4j")
    assert result.bytes == 1234 and result.archive == str(tmp_path / "neo4j.dump") and result.seconds == 2.5
    assert result.message == "Dump completed successfully"


async def test_run_admin_reports_a_failure_a_missing_program_and_a_deadline(tmp_path):
    (tmp_path / "neo4j.dump").write_bytes(b"an older dump")
    fail = "print('ERROR [o.n.c.d.DumpCommand] Failed to dump database: Archive already exists'); raise SystemExit(1)"
    failed = await na.run_admin(nd.dump_argv([sys.executable, "-c", fail], "neo4j", tmp_path), timeout=30)
    assert failed.exit_code == 1 and failed.bytes is None  # the older archive is not this dump's
    assert failed.message == "Failed to dump database: Archive already exists"
    missing = await na.run_admin(nd.dump_argv(["/nonexistent/neo4j-admin"], "neo4j", tmp_path), timeout=30)
    assert missing.exit_code == 127 and "cannot run /nonexistent/neo4j-admin" in missing.message
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    hung = await na.run_admin(nd.load_argv(sleeper, "neo4j", tmp_path), timeout=0.2)
    assert hung.exit_code is None and hung.message == "load neo4j did not finish within 0.2s: stopped"
