"""A backplane on Redis Streams, so that several server processes share channels.

Each channel is one stream, ``<prefix>:ch:<channel>``, and an event's id IS
its stream entry id: a cursor or ``Last-Event-ID`` issued by one node
resumes on any other, so a load balancer needs no sticky sessions.

Appending (one Lua script, so it is atomic)
    ``XADD <stream> MAXLEN <n> * data <d> [event <e>]``, after noting the id
    of the newest entry that trim is about to evict, which the script then
    records as the stream's ``max-deleted-entry-id`` (``XSETID ...
    MAXDELETEDID``). Redis 7 keeps that field up to date for ``XDEL`` only,
    not for trimming, so without this it would read ``0-0`` forever. The
    trim is exact rather than ``~``: the evicted id must be known, and an
    exact trim of one entry per append is cheap.

Gap test (``read_since``, one ``MULTI``: ``XINFO STREAM`` + ``XRANGE (id +``)
    Events are evicted oldest first, so everything evicted precedes
    everything kept and a single id decides: some event after cursor ``c``
    is lost iff ``max-deleted-entry-id > c`` (the rule of
    ``rawpush.hub.history``). Comparing ``c`` with the first kept id instead
    would report a false gap for a client whose cursor is the very event
    evicted last. One more case is a gap: nothing was ever evicted, yet
    ``c`` is older than the stream's first entry. This stream never issued
    ``c``; it came from an incarnation Redis has lost (restart without
    persistence, ``FLUSHALL``, eviction), and what followed it is unknown.
    ``0-0`` (the long poll's "from the start" cursor, never issued) is not
    such a cursor. Nor was a cursor after ``last-generated-id`` issued here
    (made up, or another Redis's): a gap. So is any but ``0-0`` on a stream
    that does not exist. A gap answer's ``head`` is ``last-generated-id``
    (``0-0`` with no stream): resuming from it waits for the next entry.

Live delivery
    One reader task per backplane runs ``XREAD COUNT <batch> BLOCK <ms>``
    over every stream this node watches, from the last id it delivered per
    stream, and hands each entry to the local sinks in id order, awaiting
    what they return (so a ``block`` subscriber slows this node's reader,
    not the publisher). ``watch`` records the stream's ``last-generated-id``
    before returning, so nothing published after it is missed, and pokes
    the blocked reader with ``CLIENT UNBLOCK`` so that it re-issues the
    read with the new stream at once rather than after the block timeout.

Faults
    Commands fail fast with ``RedisUnavailable`` (a ``HubError``, status
    503) while Redis is down: no retries, short connect and command
    timeouts. Subscribers are untouched; the reader reconnects with
    exponential backoff and jitter and resumes from the ids it delivered,
    reading in bounded batches, so nothing is buffered without bound.
    A reader that falls more than the retained length behind (a stalled
    ``block`` subscriber) misses entries trimmed before it read them; it
    detects this on a full batch, logs it (``lost_live`` counts it) and
    sends its sinks a gap marker (``HubEvent.gap``) before the entries that
    survived, so every client behind the hole is told.

Limits: ``history_bytes`` is not enforced (Redis bounds entries, not
bytes); the stream keeps at least ``min_retained`` entries even when
``history_size`` is smaller, because the readers of every node read them.
``max_channels`` is enforced across nodes through a set of channel names.
Multi-key commands need one Redis (with replicas or Sentinel), not Redis
Cluster.
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

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    from redis.commands.core import AsyncScript

__all__ = ["RedisBackplane", "RedisBackplaneError", "RedisUnavailable"]

logger = logging.getLogger("rawpush.hub.redis")

_TOO_MANY = "RAWPUSH_TOO_MANY_CHANNELS"

# KEYS: stream, channel-name set. ARGV: maxlen, max channels (0: no limit),
# channel, then the entry's field/value pairs.
_APPEND_LUA = """
local stream, names = KEYS[1], KEYS[2]
local maxlen, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
if redis.call('EXISTS', stream) == 0 then
  if limit > 0 and redis.call('SISMEMBER', names, ARGV[3]) == 0
     and redis.call('SCARD', names) >= limit then
    return redis.error_reply('""" + _TOO_MANY + """')
  end
  redis.call('SADD', names, ARGV[3])
end
local excess = redis.call('XLEN', stream) + 1 - maxlen
local evicted = false
if excess > 0 then
  local old = redis.call('XRANGE', stream, '-', '+', 'COUNT', excess)
  if #old > 0 then evicted = old[#old][1] end
end
local id = redis.call('XADD', stream, 'MAXLEN', maxlen, '*', unpack(ARGV, 4))
if evicted then redis.call('XSETID', stream, id, 'MAXDELETEDID', evicted) end
return id
"""

_ZERO: IdKey = (0, 0)


class RedisUnavailable(HubError):
    """Redis cannot be reached (down, restarting, loading): try again later."""

    status = 503


class RedisBackplaneError(HubError):
    """Redis answered with an error the backplane did not expect."""

    status = 500


def _import_redis() -> Any:
    try:
        import redis.asyncio as aioredis
    except ImportError as exc:
        raise ImportError(
            "the Redis backplane needs redis-py: pip install 'rawpush[redis]'"
        ) from exc
    return aioredis


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
    up to ``command_timeout`` for a connection.
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
        backoff_min: float = 0.05,
        backoff_max: float = 2.0,
    ) -> None:
        if min_retained < 1 or batch < 1 or block_ms < 1:
            raise ValueError("min_retained, batch and block_ms must be >= 1")
        aio = _import_redis()
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
        self._down: tuple[type[BaseException], ...] = (
            RedisConnectionError,
            RedisTimeoutError,
            OSError,
        )
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
            timeout=command_timeout,
            socket_timeout=command_timeout,
            **common,
        )
        self._redis: aioredis.Redis = aio.Redis(connection_pool=pool)
        self._aio = aio
        self._append: AsyncScript = self._redis.register_script(_APPEND_LUA)
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
            if _TOO_MANY in str(exc):
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

    def _event(self, channel: str, entry_id: str, fields: Mapping[str, str]) -> HubEvent:
        return HubEvent(entry_id, channel, fields.get("event"), fields.get("data", ""))

    # -- the Backplane interface ------------------------------------------

    async def append(self, channel: str, data: str, event: str | None = None) -> HubEvent:
        self._check_open()
        args: list[str | int] = [self._maxlen, self.config.max_channels or 0, channel, "data", data]
        if event is not None:
            args += ["event", event]
        with self._guard("XADD"):
            entry_id = await self._append(keys=[self._key(channel), self._names_key], args=args)
        return HubEvent(str(entry_id), channel, event, data)

    async def read_since(self, channel: str, last_id: str | None) -> Replay:
        if last_id is None:
            return Replay()
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
        events = tuple(self._event(channel, i, f) for i, f in entries)
        gap = _gap(cursor, info)
        return Replay(events, gap, str(info["last-generated-id"]) if gap else None)

    async def latest_id(self, channel: str) -> str | None:
        info = await self._info(channel)
        if info is None:
            return None
        last = str(info["last-generated-id"])
        return None if parse_id(last) == _ZERO else last

    async def watch(self, channel: str, sink: Sink) -> None:
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
        if remove_sink(self._sinks, channel, sink):
            # The reader drops the stream from its next read; no need to
            # wake it: entries it still gets for the channel are ignored.
            del self._positions[channel]

    def counters(self) -> Mapping[str, int]:
        return {"lost_live": self.lost_live, "reconnects": self.reconnects}

    def history_stats(self) -> Mapping[str, HistoryStats]:
        return dict(self._stats)

    async def close(self) -> None:
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
        while not self._closed:
            conn: aioredis.Redis = self._aio.Redis.from_url(self.url, **self._reader_kwargs)
            try:
                self._reader_id = int(await conn.client_id())
                async for _ in self._read(conn):
                    delay = self._backoff[0]  # reset only once a read went through
            except self._down as exc:
                self.reconnects += 1
                logger.warning("backplane reader lost Redis (%s); retrying in %.2fs", exc, delay)
            except self._redis_error as exc:
                self.reconnects += 1
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
            item = self._event(channel, entry_id, fields)
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


def _gap(cursor: IdKey, info: Mapping[str, Any]) -> bool:
    """The gap rule of the module docstring, on one ``XINFO STREAM`` reply."""
    deleted = parse_id(str(info["max-deleted-entry-id"]))
    if deleted > cursor or cursor > parse_id(str(info["last-generated-id"])):
        return True
    first = info.get("first-entry")
    if deleted != _ZERO or cursor == _ZERO or not first:
        return False
    return cursor < parse_id(str(first[0]))
