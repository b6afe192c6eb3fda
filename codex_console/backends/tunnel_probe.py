"""The tunnels' forwards, the `ssh` that carries them, and a real round trip through each one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from ..catalogue import resolve
from ..config import Config
from ..models import Endpoints
from ..protocol import BOLT_HANDSHAKE
from .sshconfig import override_args

HELLO = {"embed": b"GET /health HTTP/1.0\r\nHost: codex\r\n\r\n", "bolt": BOLT_HANDSHAKE,
         "http": b"HEAD / HTTP/1.0\r\n\r\n"}


@dataclass(frozen=True)
class Forward:
    name: str
    local_port: int
    remote_port: int
    remote_host: str = ""  # "": the node the endpoints file names; a service on another node says its own
    hello: bytes = b""  # what is sent through it to get an answer ("": by its name, HELLO)


@dataclass(frozen=True)
class ForwardCheck:
    up: bool
    hung: bool  # no answer at all: the link (ssh, TCP, a sleeping laptop) is dead
    error: str = ""


def wanted_forwards(cfg: Config) -> list[Forward]:
    """embed, bolt and http as `tunnels.forwards` says, and one for every other service of the
    catalogue, on its `local_port` (default: its own port; 0: none)."""
    t, s = cfg.tunnels, cfg.services
    every = [Forward("embed", t.embed_local_port, s.embed_port),
             Forward("bolt", t.bolt_local_port, s.bolt_port),
             Forward("http", t.http_local_port, s.http_port)]
    fixed = [f for f in every if f.name in t.forwards]
    ports = {table.name: table.local_port for table in cfg.catalogue}
    services = [Forward(spec.name, spec.port if ports.get(spec.name) is None else int(ports[spec.name] or 0),
                        spec.port, hello=f"GET {spec.health or '/'} HTTP/1.0\r\nHost: codex\r\n\r\n".encode())
                for spec in resolve(s, cfg.slurm, cfg.catalogue) if spec.name not in ("embed", "neo4j")]
    return fixed + [f for f in services if f.local_port]


def aimed(forwards: list[Forward], ep: Endpoints) -> list[Forward]:
    """The forwards with the hosts and ports the endpoints file names (a successor on its
    predecessor's node serves on the next block of ports; a service may run on another node)."""
    urls = {"embed": ep.embed_url, "bolt": ep.neo4j_uri,
            **{s.name: s.urls[0] for s in ep.services if s.urls and s.name not in ("embed", "neo4j")}}
    out = []
    for f in forwards:
        parts = urlsplit(urls[f.name]) if urls.get(f.name) else None
        host = parts.hostname if parts is not None and parts.hostname and parts.hostname != ep.node else ""
        out.append(replace(f, remote_port=(parts.port if parts is not None else None) or f.remote_port,
                           remote_host=host or ""))
    return out


def ssh_argv(cfg: Config, node: str, forwards: list[Forward]) -> list[str]:
    """One `ssh -N` for every forward, with the console's overrides over ~/.ssh/config; the
    host key is always checked, and ssh never asks anything (it runs with no terminal)."""
    argv = ["ssh", "-N", *override_args(cfg.login), "-o", "ExitOnForwardFailure=yes",
            "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=2", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", "ControlMaster=no", "-o", "ControlPath=none"]
    for f in forwards:
        argv += ["-L", f"127.0.0.1:{f.local_port}:{f.remote_host or node}:{f.remote_port}"]
    return argv + [cfg.login.host]


def master_argv(cfg: Config, control_path: str, op: str, node: str = "",
                forwards: tuple[Forward, ...] | list[Forward] = ()) -> list[str]:
    """`ssh -O forward|cancel|check`: forwards kept by the user's OpenSSH master connection."""
    argv = ["ssh", *override_args(cfg.login), "-o", f"ControlPath={control_path}", "-O", op]
    for f in forwards:
        argv += ["-L", f"127.0.0.1:{f.local_port}:{f.remote_host or node}:{f.remote_port}"]
    return argv + [cfg.login.host]


async def probe_forward(forward: Forward, timeout: float = 3.0) -> ForwardCheck:
    """Talk to the service itself through the forward: ssh accepts on the local port even when
    nothing answers on the node, so a bare connect proves nothing."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", forward.local_port)
    except TimeoutError:
        return ForwardCheck(False, True, "connect timed out")
    except OSError as exc:
        return ForwardCheck(False, False, f"nothing listens on 127.0.0.1:{forward.local_port} ({exc.strerror})")
    try:
        writer.write(forward.hello or HELLO[forward.name])
        async with asyncio.timeout(timeout):
            answer = await reader.read(4)
    except TimeoutError:
        return ForwardCheck(False, True, "no answer through the tunnel")
    except OSError as exc:
        return ForwardCheck(False, False, f"connection broke ({exc.strerror or exc})")
    finally:
        writer.close()
    if not answer:
        return ForwardCheck(False, False, "closed by the far end (service down?)")
    return ForwardCheck(True, False)
