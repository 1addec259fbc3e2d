"""The Redis backplane's append: one Lua script, and how its outcome is told apart.

The script (atomic: Redis runs a script as one command)
    1. With an idempotency key: ``GET`` it; when it holds an id, stop and
       return that id with the entry's fields (if the entry is still
       retained). A retry of a publish that did commit finds it here.
    2. On a new stream, count it against the channel cap (a set of names).
    3. Note the newest entry the trim is about to evict, ``XADD ... MAXLEN
       <n> *`` (exact, so that id is known), and record it with ``XSETID
       ... MAXDELETEDID``: Redis 7 moves ``max-deleted-entry-id`` on
       ``XDEL`` only, never when it trims.
    4. With a key: ``SET <key> <id> NX PX <window>``, so the key and the
       entry exist together or not at all, on every node sharing Redis.
    5. ``PEXPIRE`` the stream by ``channel_idle_ttl``: Redis drops a
       channel nobody published to for that long (subscribers or not), and
       a cursor into it then reads as a gap. At the channel cap, step 2
       first forgets a bounded sample of names whose stream expired.

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

Outcomes
    The connection is taken from the pool (and connected, and checked)
    before anything is sent: a failure there means the script never ran,
    ``RedisUnavailable`` (503, retry freely). Once the command is being
    written, a timeout or a lost connection means it may have run, and
    its reply will never be read: ``PublishOutcomeUnknown`` (504), and the
    connection is closed rather than handed to the next caller, who would
    read that stale reply as its own.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from .errors import HubError, PublishOutcomeUnknown
from .ids import IdKey, parse_id

__all__ = [
    "APPEND_LUA",
    "TOO_MANY",
    "RedisBackplaneError",
    "RedisUnavailable",
    "gap_in",
    "import_redis",
    "run_append",
]

TOO_MANY = "RAWPUSH_TOO_MANY_CHANNELS"

# KEYS: stream, channel-name set, idempotency key (unused when the window
# is 0). ARGV: maxlen, max channels (0: no limit), channel, window in ms
# (0: no key), idle expiry in ms (0: none), then the entry's field/value pairs.
APPEND_LUA = (
    """
local stream, names, idem = KEYS[1], KEYS[2], KEYS[3]
local maxlen, limit, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
if window > 0 then
  local seen = redis.call('GET', idem)
  if seen then
    local entry = redis.call('XRANGE', stream, seen, seen)
    if #entry > 0 then return {seen, 1, entry[1][2]} end
    return {seen, 1}
  end
end
if redis.call('EXISTS', stream) == 0 then
  if limit > 0 and redis.call('SISMEMBER', names, ARGV[3]) == 0
     and redis.call('SCARD', names) >= limit then
    -- Make room: forget a bounded sample of names whose stream expired.
    local prefix = string.sub(stream, 1, #stream - #ARGV[3])
    for _, name in ipairs(redis.call('SRANDMEMBER', names, 64)) do
      if redis.call('EXISTS', prefix .. name) == 0 then redis.call('SREM', names, name) end
    end
    if redis.call('SCARD', names) >= limit then
      return redis.error_reply('"""
    + TOO_MANY
    + """')
    end
  end
  redis.call('SADD', names, ARGV[3])
end
local excess = redis.call('XLEN', stream) + 1 - maxlen
local evicted = false
if excess > 0 then
  local old = redis.call('XRANGE', stream, '-', '+', 'COUNT', excess)
  if #old > 0 then evicted = old[#old][1] end
end
local id = redis.call('XADD', stream, 'MAXLEN', maxlen, '*', unpack(ARGV, 6))
if evicted then redis.call('XSETID', stream, id, 'MAXDELETEDID', evicted) end
if tonumber(ARGV[5]) > 0 then redis.call('PEXPIRE', stream, ARGV[5]) end
if window > 0 then redis.call('SET', idem, id, 'NX', 'PX', window) end
return {id, 0}
"""
)

_SHA = hashlib.sha1(APPEND_LUA.encode("utf-8")).hexdigest()
_ZERO: IdKey = (0, 0)


class RedisUnavailable(HubError):
    """Redis cannot be reached (down, restarting, loading): try again later."""

    status = 503


class RedisBackplaneError(HubError):
    """Redis answered with an error the backplane did not expect."""

    status = 500


def import_redis() -> Any:
    """``redis.asyncio``, or ``ImportError`` saying to install the redis extra."""
    try:
        import redis.asyncio as aioredis
    except ImportError as exc:
        raise ImportError(
            "the Redis backplane needs redis-py: pip install 'rawpush[redis]'"
        ) from exc
    return aioredis


async def run_append(
    pool: Any,
    keys: Sequence[str],
    args: Sequence[str | int],
    guard: Callable[[str], AbstractContextManager[None]],
    down: tuple[type[BaseException], ...],
) -> tuple[str, Mapping[str, str] | None]:
    """Run the script; the entry id, and the stored fields when it was a repeat.

    ``guard`` maps redis-py errors to the hub's (see ``RedisBackplane``);
    ``down`` are the errors that mean "no answer".
    """
    from redis.exceptions import NoScriptError

    # Two turns of the loop first (a socket found readable in one turn is
    # read after the tasks woken in it), so a hang-up that already reached
    # us is taken in: the pool then finds that connection closed and
    # reconnects (or fails: 503, not sent) instead of sending on it and
    # hearing EOF, which could not be told from a Redis that died mid-script.
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    with guard("XADD"):
        conn = await pool.get_connection()
    try:
        try:
            reply = await _send(conn, "EVALSHA", _SHA, keys, args, guard=guard, down=down)
        except NoScriptError:
            # Not run: Redis did not know the script (a restart, SCRIPT FLUSH).
            reply = await _send(conn, "EVAL", APPEND_LUA, keys, args, guard=guard, down=down)
    finally:
        await pool.release(conn)
    entry_id = str(reply[0])
    if int(reply[1]) and len(reply) > 2:
        flat = [str(x) for x in reply[2]]
        return entry_id, dict(zip(flat[::2], flat[1::2], strict=True))
    return entry_id, None


async def _send(
    conn: Any,
    command: str,
    script: str,
    keys: Sequence[str],
    args: Sequence[str | int],
    *,
    guard: Callable[[str], AbstractContextManager[None]],
    down: tuple[type[BaseException], ...],
) -> Any:
    from redis.exceptions import BusyLoadingError, NoScriptError

    try:
        await conn.send_command(command, script, len(keys), *keys, *args)
        return await conn.read_response()
    except NoScriptError:
        raise
    except BusyLoadingError:
        # An answer (LOADING): Redis refused to run anything yet. 503.
        with guard("XADD"):
            raise
    except down as exc:
        await conn.disconnect(nowait=True)
        raise PublishOutcomeUnknown(
            f"Redis did not answer the publish ({exc}): it may or may not be stored; "
            "retry with the same idempotency key"
        ) from exc
    except BaseException as exc:
        if isinstance(exc, Exception) and not isinstance(exc, HubError):
            # A reply was read (an error reply): the connection is in step.
            with guard("XADD"):
                raise
        # Cancelled mid-command: the reply may still arrive; never reuse.
        await conn.disconnect(nowait=True)
        raise


def gap_in(cursor: IdKey, info: Mapping[str, Any]) -> bool:
    """The gap rule of ``rawpush.hub.redis``, on one ``XINFO STREAM`` reply."""
    deleted = parse_id(str(info["max-deleted-entry-id"]))
    if deleted > cursor or cursor > parse_id(str(info["last-generated-id"])):
        return True
    first = info.get("first-entry")
    if deleted != _ZERO or cursor == _ZERO or not first:
        return False
    return cursor < parse_id(str(first[0]))
