"""``rawpush serve --workers N`` and ``--loop``: more cores, another event loop.

**Workers.** A Python process runs on one core. With ``--workers N`` the
command forks N workers (before any event loop exists), each a whole
server listening on the same address with ``SO_REUSEPORT``: the kernel
spreads new connections over their listening sockets (Linux picks one by
a hash of the connection's addresses), so each worker holds a share of
the connections on a core of its own. A worker knows only its own
connections, so channels, ids, history and tickets must live in a store
they all share: more than one worker needs ``--redis`` (refused without
it, as a usage error). An event published on any worker is appended to the
Redis stream, and every worker's reader hands it to its own subscribers.

**Signals and drain.** SIGTERM or SIGINT to the parent is passed to every
worker once, as SIGTERM; each drains as a lone ``rawpush serve`` does and
the parent exits 0 once all have. Workers ignore SIGINT (a Ctrl-C reaches
the whole process group; the parent alone decides), and on Linux get
SIGTERM when the parent dies (``PR_SET_PDEATHSIG``), so none is orphaned.

**A worker that dies is not restarted**: the parent says which one and
how, drains the others and exits 1. A process manager (systemd, a
container runtime) then restarts the whole group, which keeps one
supervisor policy in one place; a worker restarted in silence would hide
a crash loop and leave its clients' load on the survivors meanwhile. A
worker that fails to start has said why in its own line; the parent stops
the others and exits with that worker's status.

**Metrics are per worker**: each worker answers ``/metrics`` from its own
connections and counters, with ``rawpush_worker_info{pid,worker} 1`` to
say which one answered. A scrape through the shared port reaches whichever
worker the kernel picks (aggregate in the monitoring system by ``worker``;
counters of one worker never move backwards).

**--loop uvloop** runs the server (every worker) on uvloop instead of
asyncio's own loop; refused, as a usage error, when uvloop is not installed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import dataclasses
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from rawpush.cli.checks import check_redis
from rawpush.cli.errors import CLIError, Exit, bind_error, say
from rawpush.server.config import ServerConfig

__all__ = ["LOOPS", "add_flags", "loop_factory", "run", "run_loop"]

#: the event loops ``--loop`` offers
LOOPS = ("asyncio", "uvloop")
#: prctl(2) option: the signal a process gets when its parent dies
_PR_SET_PDEATHSIG = 1

LoopFactory = Callable[[], asyncio.AbstractEventLoop] | None
Serve = Callable[[ServerConfig, argparse.Namespace], Coroutine[Any, Any, None]]


def add_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("processes")
    g.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="server processes sharing the port (SO_REUSEPORT); more than 1 needs --redis; "
        "a worker that dies stops the group (default 1)",
    )
    g.add_argument(
        "--loop",
        choices=LOOPS,
        default="asyncio",
        help="event loop to run on; uvloop must be installed (default asyncio)",
    )


def loop_factory(name: str) -> LoopFactory:
    """The loop factory ``--loop name`` asks for (None: asyncio's own)."""
    if name == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        raise CLIError(
            f"--loop {name}", "uvloop is not installed", Exit.USAGE,
            "pip install uvloop (it is in rawpush[bench]), or leave --loop out",
        ) from None  # fmt: skip
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run_loop(factory: LoopFactory, main: Coroutine[Any, Any, None]) -> None:
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)


def run(config: ServerConfig, args: argparse.Namespace, serve: Serve) -> int:
    """What ``rawpush serve`` runs: ``serve`` in this process, or N workers."""
    factory = loop_factory(args.loop)
    count = args.workers
    if count < 1:
        raise CLIError("--workers", f"{count} is not a number of processes", Exit.USAGE,
                       "give 1 or more")  # fmt: skip
    if count == 1:
        run_loop(factory, serve(config, args))
        return Exit.OK
    if args.redis is None:
        raise CLIError(
            f"--workers {count}", "more than one worker needs a shared backplane", Exit.USAGE,
            "add --redis URL, so that every worker sees every channel",
        )  # fmt: skip
    run_loop(factory, check_redis(args.redis, wait=args.redis_wait))
    return _Group(config, args.redis, count, factory).run()


def _reserve(host: str, port: int) -> socket.socket:
    """A socket bound (not listening) to the workers' address: it picks the
    port for ``--port 0`` and holds it until every worker listens there."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
        except BaseException:
            sock.close()
            raise
    except OSError as exc:
        raise bind_error(exc, host, port) from None
    return sock


def _url(config: ServerConfig, port: int) -> str:
    scheme = "https" if config.certfile else "http"
    host = f"[{config.host}]" if ":" in config.host else config.host
    return f"{scheme}://{host}:{port}"


@dataclasses.dataclass(eq=False)
class _Worker:
    index: int
    process: BaseProcess
    ready: Connection  # readable once the worker listens (or EOF: it died)
    listening: bool = False


class _Group:
    """The parent: starts the workers, passes signals on, watches them end."""

    def __init__(
        self, config: ServerConfig, redis_url: str, count: int, factory: LoopFactory
    ) -> None:
        self.config = config
        self.redis_url = redis_url
        self.count = count
        self.factory = factory
        self.workers: list[_Worker] = []
        self.stopping = False
        self.status = int(Exit.OK)
        self.pid = os.getpid()

    def run(self) -> int:
        probe = _reserve(self.config.host, self.config.port)
        port = probe.getsockname()[1]
        config = dataclasses.replace(self.config, port=port)
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            context = multiprocessing.get_context("fork")
            for index in range(1, self.count + 1):
                reader, writer = context.Pipe(duplex=False)
                start = _Start(index, config, self.redis_url, self.factory, writer, probe, self.pid)
                process = context.Process(
                    target=_worker_main,
                    args=(start,),
                    name=f"rawpush-worker-{index}",
                )
                process.start()
                writer.close()
                self.workers.append(_Worker(index, process, reader))
            self._watch(config, port, probe)
        finally:
            probe.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.status

    def _on_signal(self, signum: int, frame: object) -> None:
        if os.getpid() != self.pid or self.stopping:
            return  # a worker before it set its own handlers; or said already
        self.stopping = True
        say(f"draining {self.count} workers")
        self._stop_all()

    def _stop_all(self) -> None:
        for worker in self.workers:
            if worker.process.exitcode is None and worker.process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.process.pid, signal.SIGTERM)

    def _watch(self, config: ServerConfig, port: int, probe: socket.socket) -> None:
        alive = {worker.process.sentinel: worker for worker in self.workers}
        starting = {worker.ready: worker for worker in self.workers}
        while alive:
            objects: list[Any] = [*alive, *starting]
            for ready in wait(objects):
                if ready in starting:
                    worker = starting.pop(ready)
                    try:
                        ready.recv()
                        worker.listening = True
                    except EOFError:
                        continue  # it died first: its sentinel says how
                    if not starting and not self.stopping:
                        probe.close()
                        self._announce(config, port)
                elif ready in alive:
                    worker = alive.pop(ready)
                    starting.pop(worker.ready, None)
                    worker.process.join()
                    self._ended(worker)
        if self.status == Exit.OK:
            say("all workers drained")

    def _announce(self, config: ServerConfig, port: int) -> None:
        from rawpush.server.security import auth_config, is_open

        say(f"listening on {_url(config, port)}")
        pids = ", ".join(str(w.process.pid) for w in self.workers)
        say(f"{self.count} workers sharing the port (SO_REUSEPORT), pids {pids}")
        if is_open(auth_config(config)):
            say(
                "no credential configured: anyone who can reach this server "
                "may subscribe and publish (see --publish-token, --jwt-secret)"
            )

    def _ended(self, worker: _Worker) -> None:
        code = worker.process.exitcode
        if self.stopping and code in (0, -signal.SIGTERM):
            return  # drained; or stopped before it had its own handler
        if not worker.listening and not self.stopping and code in (Exit.USAGE, Exit.NETWORK):
            self.status = int(code)  # it failed to start and said why
        elif self.status == Exit.OK:
            assert code is not None
            how = (
                f"was killed by {signal.Signals(-code).name}" if code < 0
                else f"exited with status {code}"
            )  # fmt: skip
            say(f"worker {worker.index} (pid {worker.process.pid}) {how}: stopping the others")
            self.status = int(Exit.FAILED)
        if not self.stopping:
            self.stopping = True
            self._stop_all()


def _die_with_parent(parent: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before we asked
        os.kill(os.getpid(), signal.SIGTERM)


@dataclasses.dataclass(frozen=True)
class _Start:
    """What a worker is given (inherited through the fork, never pickled)."""

    index: int
    config: ServerConfig
    redis_url: str
    factory: LoopFactory
    ready: Connection
    probe: socket.socket
    parent: int


def _worker_main(start: _Start) -> None:
    index, config = start.index, start.config
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    start.probe.close()  # the parent's; it must not outlive the parent here
    _die_with_parent(start.parent)
    from rawpush.server.app import Server, WorkerRole, serve_forever

    def listening(server: Server) -> None:
        start.ready.send(index)
        start.ready.close()

    async def main() -> None:
        try:
            await serve_forever(
                config, redis_url=start.redis_url, worker=WorkerRole(index, listening)
            )
        except OSError as exc:
            raise bind_error(exc, config.host, config.port) from None

    from rawpush.server import access_log

    try:
        run_loop(start.factory, main())
    except CLIError as exc:
        say(f"worker {index}: {exc.line.removeprefix('rawpush: ')}")
        sys.exit(exc.code)
    except Exception as exc:  # one line, never a traceback
        say(f"worker {index}: unexpected {type(exc).__name__}: {exc} (please report this)")
        sys.exit(Exit.FAILED)
    finally:
        # The fork gave this worker its own access-log writer: flush it.
        access_log.disable()
