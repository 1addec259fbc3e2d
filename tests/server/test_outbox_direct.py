"""``Outbox.direct``: the one flag a subscriber's per-event path reads to
write past ``put``. It must be True exactly when ``put`` would write at
once (not paused, nothing queued, not closed), after any sequence of
operations, including a writer that pauses the outbox from inside a write
(asyncio calls ``pause_writing`` from ``transport.write``) and a drain that
clears ``paused`` by hand.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rawpush.server.config import OverflowPolicy
from rawpush.server.outbox import Outbox

OPS = st.lists(
    st.sampled_from(["put", "put_pausing", "pause", "resume", "drain", "close"]), max_size=30
)


def _would_write_at_once(box: Outbox[bytes]) -> bool:
    return not box.paused and not box.closed and len(box) == 0


def _delivered_like_a_session(box: Outbox[bytes], data: bytes) -> None:
    # What StreamSession._deliver does with each event.
    if box.direct:
        box.write(data)
    else:
        box.put(data)


@settings(max_examples=300, deadline=None)
@given(
    ops=OPS,
    policy=st.sampled_from([OverflowPolicy.DISCONNECT, OverflowPolicy.DROP_OLDEST]),
)
def test_direct_is_true_exactly_when_put_would_write_at_once(
    ops: list[str], policy: OverflowPolicy
) -> None:
    written: list[bytes] = []
    pause_next = [False]

    def write(data: bytes) -> None:
        written.append(data)
        if pause_next[0]:
            pause_next[0] = False
            box.pause()

    box: Outbox[bytes] = Outbox(
        write, max_bytes=1000, max_messages=4, policy=policy, gap_notice=b"GAP"
    )
    sent: list[bytes] = []
    assert box.direct
    for n, op in enumerate(ops):
        if op in ("put", "put_pausing"):
            pause_next[0] = op == "put_pausing"
            data = b"%d" % n
            sent.append(data)
            _delivered_like_a_session(box, data)
        elif op == "pause":
            box.pause()
        elif op == "resume":
            box.resume()
        elif op == "drain":
            box.paused = False  # as StreamSession.drain does
            box.flush()
        else:
            box.close()
        assert box.direct == _would_write_at_once(box), (ops[: n + 1], box.direct)
    # Whatever took the fast path kept the order ``put`` gives: what was
    # written is the events in order, less dropped ones, plus gap notices.
    events = [data for data in written if data != b"GAP"]
    assert events == sorted(events, key=sent.index)


def test_direct_follows_pause_queue_and_close() -> None:
    written: list[bytes] = []
    box: Outbox[bytes] = Outbox(written.append, max_bytes=100, max_messages=3)
    box.pause()
    assert not box.direct
    box.put(b"a")
    box.resume()
    assert box.direct and written == [b"a"]
    box.close()
    assert not box.direct
    box.resume()
    assert not box.direct
