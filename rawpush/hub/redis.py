"""A backplane on Redis Streams, so that several server processes share channels.

Each channel is one stream, ``<prefix>:ch:<channel>``, and an event's id IS
its stream entry id: a cursor or ``Last-Event-ID`` issued by one node
resumes on any other, so a load balancer needs no sticky sessions.

Appending (one Lua script, so it is atomic; see ``rawpush.hub.redis_script``)
    ``XADD <stream> MAXLEN <n> * data <d> [event <e>]``, recording the id
    the trim evicts as ``max-deleted-entry-id``, and with an idempotency
    key ``SET <prefix>:idem:<len>:<channel>:<key> <id> NX PX <window>``; a
    key already set returns its id instead of adding an entry. A publish
    whose reply never came is ``PublishOutcomeUnknown`` (504), not
    ``RedisUnavailable`` (503: not stored).

Gap test (``read_since``, one ``MULTI``: ``XINFO STREAM`` + ``XRANGE (id +``)
    See ``rawpush.hub.redis_script.gap_in``: one id,
    ``max-deleted-entry-id``, decides, plus the cursors this stream could
    not have issued.

Live delivery
    One reader task per backplane runs ``XREAD COUNT <batch> BLOCK <ms>``
    over the streams this node watches, from the last id delivered per
    stream, and hands entries to the local sinks in id order, awaiting
    them (a ``block`` subscriber slows this node's reader, not the
    publisher). ``watch`` records ``last-generated-id`` before returning,
    so nothing published after it is missed, and pokes the reader with
    ``CLIENT UNBLOCK`` so that it reads the new stream at once.

Storms
    Concurrent reads of one ``(channel, cursor)`` share one round trip
    while they wait for a read slot (``read_slots`` in flight, so
    publishes keep connections); a caller waits up to ``pool_timeout``:
    5,000 clients resuming at once are served, not refused. A read joins
    only one not yet sent, so ``Hub.subscribe`` stays atomic.

Faults
    While Redis is down, commands fail fast with ``RedisUnavailable``
    (503); subscribers are untouched; the reader reconnects with jittered
    backoff and resumes from the ids it delivered, in bounded batches. A
    reader that falls behind the trim (a stalled ``block`` subscriber)
    sees it on a full batch, counts it (``lost_live``) and sends its sinks
    a gap marker (``HubEvent.gap``) before what survived.

Limits: ``history_bytes`` and ``history_memory`` are not enforced (Redis
bounds entries; bound the store with ``maxmemory``); a stream keeps at
least ``min_retained`` entries, which every node's reader reads.
``max_channels`` holds across nodes (a set of channel names). One Redis
(with replicas or Sentinel), not Redis Cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .backplane import Backplane, HistoryStats, Sink, remove_sink
from .config import HubConfig
from .errors import HubClosed, HubError, TooManyChannels
from .events import HubEvent, Replay
from .ids import IdKey, format_id, parse_id
from .redis_fields import entry_event, entry_fields
from .redis_script import (
    TOO_MANY,
    RedisBackplaneError,
    RedisUnavailable,
    gap_in,
    import_redis,
    run_append,
)

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = ["RedisBackplane", "RedisBackplaneError", "RedisUnavailable"]

logger = logging.getLogger("rawpush.hub.redis")

_ZERO: IdKey = (0, 0)


def _retrieve(future: asyncio.Future[Replay]) -> None:
    # A shared read whose every waiter was cancelled: nobody to report to.
    if not future.cancelled():
        future.exception()


class RedisBackplane(Backplane):
    """Channels as Redis streams, shared by every node on the same Redis.

    ``url``: ``redis://[:password@]host:port/db`` (any redis-py URL).
    ``prefix``: key prefix, so several hubs can share one Redis database.
    ``min_retained``: entries kept per stream even when
    ``config.history_size`` is smaller (see the module docstring).
    ``batch``: entries per stream per read, the bound on what the reader
    holds at once. ``block_ms``: how long one read blocks when idle.
    ``connect_timeout`` / ``command_timeout`` (seconds) bound how long a
    call waits for an unreachable Redis before ``RedisUnavailable``.
    ``max_connections``: the command pool's size; callers beyond it wait
    up to ``pool_timeout`` for a connection. ``read_slots``: history reads
    in flight at once (default: half the pool), the rest queue and share.
    ``backoff_min`` / ``backoff_max``: the reader's reconnection delays.
    """

    def __init__(
        self,
        url: str,
        *,
        config: HubConfig | None = None,
        prefix: str = "rawpush",
        min_retained: int = 100,
        batch: int = 100,
        block_ms: int = 5000,
        connect_timeout: float = 1.0,
        command_timeout: float = 2.0,
        max_connections: int = 32,
        pool_timeout: float = 10.0,
        read_slots: int | None = None,
        backoff_min: float = 0.05,
        backoff_max: float = 2.0,
    ) -> None:
        if min(min_retained, batch, block_ms, 1 if read_slots is None else read_slots) < 1:
            raise ValueError("min_retained, batch, block_ms and read_slots must be >= 1")
        aio = import_redis()
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import RedisError, ResponseError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        self.config = config if config is not None else HubConfig()
        self.url = url
        self._prefix = f"{prefix}:ch:"
        self._names_key = f"{prefix}:channels"
        self._maxlen = max(self.config.history_size, min_retained)
        # A full batch is the lag-loss alarm (see _dispatch); that reasoning
        # needs a batch no longer than what the stream retains.
        self._batch = min(batch, self._maxlen)
        self._block_ms = block_ms
        self._backoff = (backoff_min, backoff_max)
        down = (RedisConnectionError, RedisTimeoutError, OSError)
        self._down: tuple[type[BaseException], ...] = down
        self._redis_error: type[Exception] = RedisError
        self._response_error: type[Exception] = ResponseError
        # Fail fast: no retries here; the caller (a publisher) decides.
        common: dict[str, Any] = {
            "decode_responses": True,
            "socket_connect_timeout": connect_timeout,
            "retry": Retry(NoBackoff(), 0),
            # RESP2: with RESP3, redis-py 8 turns on maintenance notifications,
            # which skip its check for pooled connections the server closed,
            # and the first command after a Redis restart would fail.
            "protocol": 2,
        }
        self._reader_kwargs = dict(common, socket_timeout=block_ms / 1000 + command_timeout)
        pool = aio.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=pool_timeout,
            socket_timeout=command_timeout,
            **common,
        )
        self._redis: aioredis.Redis = aio.Redis(connection_pool=pool)
        self._aio = aio
        self._idem_prefix = f"{prefix}:idem:"
        self._pool_timeout = pool_timeout
        slots = read_slots if read_slots is not None else max(1, max_connections // 2)
        self._read_slots = asyncio.Semaphore(slots)
        # Reads waiting for a slot, by (channel, cursor): joinable until sent.
        self._reads: dict[tuple[str, str], asyncio.Task[Replay]] = {}
        self._sinks: dict[str, list[Sink]] = {}
        # Per watched channel, the id of the last entry the reader delivered
        # (or the stream's last id when the watch began).
        self._positions: dict[str, IdKey] = {}
        self._stats: dict[str, HistoryStats] = {}
        self._changed = asyncio.Event()  # the watched set grew
        self._reader: asyncio.Task[None] | None = None
        self._reader_id: int | None = None  # CLIENT ID of the reader's connection
        self._blocking = False  # the reader is inside XREAD
        self._poke: asyncio.Task[None] | None = None
        self._closed = False
        #: Entries trimmed before this node's reader could deliver them.
        self.lost_live = 0
        #: Times the reader lost its connection and reconnected.
        self.reconnects = 0

    # -- helpers ----------------------------------------------------------

    def _key(self, channel: str) -> str:
        return self._prefix + channel

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Turn redis-py's errors into the hub's, with their HTTP status."""
        try:
            yield
        except self._down as exc:
            raise RedisUnavailable(f"Redis unavailable ({what}): {exc}") from exc
        except self._response_error as exc:
            if TOO_MANY in str(exc):
                limit = self.config.max_channels
                raise TooManyChannels(f"cannot create a channel: {limit} exist") from None
            raise RedisBackplaneError(f"Redis refused {what}: {exc}") from exc
        except self._redis_error as exc:
            raise RedisBackplaneError(f"Redis failed {what}: {exc}") from exc

    def _check_open(self) -> None:
        if self._closed:
            raise HubClosed("backplane is closed")

    async def _info(self, channel: str) -> dict[str, Any] | None:
        """``XINFO STREAM``, or None when the stream does not exist."""
        key = self._key(channel)
        with self._guard("XINFO STREAM"):
            try:
                info: dict[str, Any] = await self._redis.xinfo_stream(key)
            except self._response_error as exc:
                if "no such key" not in str(exc).lower():
                    raise
                return None
        self._note(channel, info)
        return info

    def _note(self, channel: str, info: Mapping[str, Any]) -> None:
        # Redis bounds entries, not bytes: there is no byte count to show.
        self._stats[channel] = HistoryStats(int(info.get("length", 0)), 0)

    # -- the Backplane interface ------------------------------------------

    async def append(
        self,
        channel: str,
        data: str | bytes,
        event: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> HubEvent:
        """XADD, MAXLEN trim, idempotency key and channel bound in one script."""
        self._check_open()
        window = 0
        idem = self._idem_prefix
        if idempotency_key is not None:
            window = max(1, round(self.config.idempotency_window * 1000))
            # The length makes the key unambiguous: channels hold ":" too.
            idem += f"{len(channel)}:{channel}:{idempotency_key}"
        limit, ttl = self.config.max_channels or 0, self.config.channel_idle_ttl
        expiry = 0 if ttl is None else max(1, round(ttl * 1000))
        args = [self._maxlen, limit, channel, window, expiry, *entry_fields(data, event)]
        keys = [self._key(channel), self._names_key, idem]
        pool = self._redis.connection_pool
        entry_id, stored = await run_append(pool, keys, args, self._guard, self._down)
        if stored is not None:  # a repeat: the original, as stored
            return entry_event(channel, entry_id, stored)
        # New, or a repeat whose entry was trimmed: its id, with this payload.
        return HubEvent(entry_id, channel, event, data)

    async def read_since(self, channel: str, last_id: str | None) -> Replay:
        """The entries after ``last_id``; equal concurrent reads share a trip."""
        if last_id is None:
            return Replay()
        parse_id(last_id)
        key = (channel, last_id)
        shared = self._reads.get(key)
        if shared is None:
            shared = self._reads[key] = asyncio.ensure_future(self._read_shared(key))
            shared.add_done_callback(_retrieve)
        # Shielded: one cancelled subscriber must not cancel the others' read.
        return await asyncio.shield(shared)

    async def _read_shared(self, key: tuple[str, str]) -> Replay:
        try:
            with self._guard("XRANGE (waiting for a read slot)"):
                async with asyncio.timeout(self._pool_timeout):
                    await self._read_slots.acquire()
        finally:
            # From here on the read is sent: a later subscriber's buffer
            # would start after its snapshot, so it must not join.
            if self._reads.get(key) is asyncio.current_task():
                del self._reads[key]
        try:
            return await self._range(*key)
        finally:
            self._read_slots.release()

    async def _range(self, channel: str, last_id: str) -> Replay:
        cursor = parse_id(last_id)
        key = self._key(channel)
        with self._guard("XRANGE"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xinfo_stream(key)
                pipe.xrange(key, min=f"({last_id}", max="+")
                info, entries = await pipe.execute(raise_on_error=False)
        if isinstance(entries, Exception):
            with self._guard("XRANGE"):
                raise entries
        if isinstance(info, Exception):  # no such stream: no id of it exists
            return Replay() if cursor == _ZERO else Replay(gap=True, head="0-0")
        self._note(channel, info)
        events = tuple(entry_event(channel, i, f) for i, f in entries)
        gap = gap_in(cursor, info)
        return Replay(events, gap, str(info["last-generated-id"]) if gap else None)

    async def latest_id(self, channel: str) -> str | None:
        """The stream's last generated id, or None (see ``Backplane.latest_id``)."""
        info = await self._info(channel)
        if info is None:
            return None
        last = str(info["last-generated-id"])
        return None if parse_id(last) == _ZERO else last

    async def watch(self, channel: str, sink: Sink) -> None:
        """Deliver the channel's entries after its current last id to ``sink``;
        the first sink of a channel adds its stream to the shared reader."""
        self._check_open()
        if channel not in self._sinks:
            info = await self._info(channel)
            self._check_open()
            start = parse_id(str(info["last-generated-id"])) if info is not None else _ZERO
            if channel not in self._sinks:  # still first, after the await
                self._sinks[channel] = []
                self._positions[channel] = start
                self._wake()
        self._sinks[channel].append(sink)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.ensure_future(self._run())

    def unwatch(self, channel: str, sink: Sink) -> None:
        """Remove ``sink``; the reader stops reading a stream left with none."""
        if remove_sink(self._sinks, channel, sink):
            # No wake: the reader drops the stream at its next read.
            del self._positions[channel]

    def counters(self) -> Mapping[str, int]:
        """``lost_live`` and ``reconnects``, for the metrics."""
        return {"lost_live": self.lost_live, "reconnects": self.reconnects}

    def history_stats(self) -> Mapping[str, HistoryStats]:
        """Each stream's length when last seen (no byte count); may be stale."""
        return dict(self._stats)

    async def close(self) -> None:
        """Stop the reader and release the connection; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._changed.set()  # an idle reader wakes up and sees _closed
        tasks = {t for t in (self._reader, self._poke) if t is not None}
        for task in tasks:
            task.cancel()
        if tasks:
            # redis-py may swallow a cancellation that lands inside a
            # command; the reader then stops on its own at _closed.
            await asyncio.wait(tasks, timeout=2.0)
        with contextlib.suppress(Exception):
            await self._redis.aclose()
            await self._redis.connection_pool.disconnect()

    # -- the reader -------------------------------------------------------

    def _wake(self) -> None:
        self._changed.set()
        if self._blocking and (self._poke is None or self._poke.done()):
            self._poke = asyncio.ensure_future(self._unblock())

    async def _unblock(self) -> None:
        """Make the reader re-issue its XREAD now that it must read one more stream."""
        # CLIENT UNBLOCK answers 0 when our XREAD has not reached Redis yet
        # (it travels on another connection): try again, briefly; the block
        # timeout bounds the delay if every try misses.
        for delay in (0.0, 0.001, 0.005, 0.02, 0.05, 0.1, 0.2):
            if delay:
                await asyncio.sleep(delay)
            if not (self._blocking and self._changed.is_set()) or self._reader_id is None:
                return
            try:
                if await self._redis.client_unblock(self._reader_id):
                    await asyncio.sleep(0)  # let the reader pick up the new set
            except Exception:
                # Redis is down: the reader is reconnecting, and will read
                # the new stream once it is back. Nothing to report here.
                return

    async def _run(self) -> None:
        delay = self._backoff[0]
        lost = 0.0  # loop time the reader lost Redis at; 0: connected
        clock = asyncio.get_running_loop().time
        while not self._closed:
            conn: aioredis.Redis = self._aio.Redis.from_url(self.url, **self._reader_kwargs)
            try:
                self._reader_id = int(await conn.client_id())
                if lost:  # an operator who saw the loss must see the return
                    logger.warning("backplane reader has Redis again after %.1fs", clock() - lost)
                    lost = 0.0
                async for _ in self._read(conn):
                    delay = self._backoff[0]  # reset only once a read went through
            except self._down as exc:
                self.reconnects += 1
                lost = lost or clock()
                logger.warning("backplane reader lost Redis (%s); retrying in %.2fs", exc, delay)
            except self._redis_error as exc:
                self.reconnects += 1
                lost = lost or clock()
                logger.error("backplane reader: Redis error %s; retrying in %.2fs", exc, delay)
            finally:
                self._reader_id = None
                self._blocking = False
                with contextlib.suppress(Exception):
                    await conn.aclose()
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self._backoff[1])

    async def _read(self, conn: aioredis.Redis) -> AsyncIterator[None]:
        """Read and deliver until the connection fails; yields after each read."""
        while not self._closed:
            if not self._positions:
                self._changed.clear()
                await self._changed.wait()
                continue
            self._changed.clear()
            streams: dict[Any, Any] = {
                self._key(c): format_id(p) for c, p in self._positions.items()
            }
            self._blocking = True
            try:
                reply: Any = await conn.xread(streams, count=self._batch, block=self._block_ms)
            finally:
                self._blocking = False
            yield
            prefix = len(self._prefix)
            for key, entries in reply or ():
                await self._dispatch(key[prefix:], entries)

    async def _dispatch(self, channel: str, entries: list[tuple[str, dict[str, str]]]) -> None:
        before = self._positions.get(channel)
        if before is not None and len(entries) >= self._batch:
            # Only a full batch can hide a hole (the store keeps at least a
            # batch): tell the sinks before the events that follow it.
            lost = await self._check_lag(channel, before)
            sinks = self._sinks.get(channel)
            if lost is not None and sinks:
                # XINFO ran after XREAD: a trim in between may have passed
                # entries this batch did read. Keep the marker below them, or
                # the hub would drop them as already seen (a false gap is
                # possible then; a silent one is not).
                ms, seq = parse_id(entries[0][0])
                below_first = (ms, seq - 1) if seq else (ms - 1, 2**64 - 1)
                marker = HubEvent(format_id(min(lost, below_first)), channel, None, "", gap=True)
                await self._deliver(channel, sinks, marker)
        for entry_id, fields in entries:
            sinks = self._sinks.get(channel)
            position = self._positions.get(channel)
            if not sinks or position is None:
                return  # unwatched meanwhile
            key = parse_id(entry_id)
            if key <= position:
                continue  # re-watched from a later id meanwhile
            self._positions[channel] = key
            item = entry_event(channel, entry_id, fields)
            await self._deliver(channel, sinks, item)

    async def _deliver(self, channel: str, sinks: list[Sink], item: HubEvent) -> None:
        # Call every sink before awaiting any, as the memory backplane does.
        pending: list[Awaitable[object]] = []
        for sink in tuple(sinks):
            try:
                result = sink(item)
            except Exception:
                logger.exception("sink of channel %r failed; unwatching it", channel)
                self.unwatch(channel, sink)
                continue
            if result is not None:
                pending.append(result)
        for result in pending:
            try:
                await result
            except Exception:
                logger.exception("sink of channel %r failed", channel)

    async def _check_lag(self, channel: str, before: IdKey) -> IdKey | None:
        """Were entries after ``before`` trimmed unread? The last lost id, or None."""
        try:
            info = await self._info(channel)
        except HubError:
            return None  # the next read will find Redis down, or not
        if info is None:
            return None
        deleted = parse_id(str(info["max-deleted-entry-id"]))
        if deleted <= before:
            return None
        self.lost_live += 1
        logger.error(
            "backplane reader fell behind on %r: entries up to %s were trimmed "
            "before this node delivered them (raise history_size/min_retained)",
            channel,
            format_id(deleted),
        )
        return deleted
