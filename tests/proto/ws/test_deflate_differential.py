"""RFC 7692 against wsproto's independent permessage-deflate.

wsproto's extension negotiates with ours (its offer answered by
``deflate_response``, our offer answered by its ``accept``), then the
conversation of ``test_differential_wsproto`` runs over it: frames it
compresses must inflate with ours and the other way round, under the
parameters each side asked for.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto.connection import Connection as WsprotoConnection
from wsproto.connection import ConnectionType
from wsproto.extensions import PerMessageDeflate as WsprotoDeflate

from rawpush.ws import (
    ClientConnection,
    DeflateParams,
    ServerConnection,
    deflate_from_response,
    deflate_offer,
    deflate_response,
)
from tests.proto.ws.test_differential_wsproto import Op, WsprotoPeer, closes, converse, ops

windows = st.one_of(st.none(), st.integers(9, 15))
wsproto_sides = st.builds(
    WsprotoDeflate,
    client_no_context_takeover=st.booleans(),
    client_max_window_bits=windows,
    server_no_context_takeover=st.booleans(),
    server_max_window_bits=windows,
)
our_params = st.builds(
    DeflateParams,
    server_no_context_takeover=st.booleans(),
    client_no_context_takeover=st.booleans(),
    server_max_window_bits=windows,
)
# Larger, repetitive payloads so that compression (and the shared window)
# really happens.
big = st.tuples(
    st.sampled_from(["text", "binary"]),
    st.lists(st.sampled_from(["abc" * 200, "Hello", "", "x" * 5000]), min_size=1, max_size=3),
).map(lambda op: op if op[0] == "text" else (op[0], [p.encode() for p in op[1]]))
scripts = st.lists(st.one_of(ops, big), max_size=8)
Talk = tuple[list[Op], list[Op], tuple[int, str], bool]
talks = st.tuples(scripts, scripts, closes, st.booleans())


def peer(kind: ConnectionType, extension: WsprotoDeflate) -> WsprotoPeer:
    out = WsprotoPeer(kind)
    out.conn = WsprotoConnection(kind, extensions=[extension])
    return out


@given(wsproto_sides, our_params, talks)
@settings(max_examples=80, deadline=None)
def test_7_rawpush_server_with_a_wsproto_deflate_client(
    theirs: WsprotoDeflate,
    params: DeflateParams,
    talk: Talk,
) -> None:
    script, back, close, rawpush_closes = talk
    # wsproto's offer() and accept() leave the extension name to its caller.
    found = deflate_response([f"permessage-deflate; {theirs.offer()}"], params)
    assert found is not None
    header, extension = found
    theirs.finalize(header)
    assert theirs.enabled()
    converse(
        ServerConnection(extension=extension),
        peer(ConnectionType.CLIENT, theirs),
        script=script,
        back=back,
        close=close,
        rawpush_closes=rawpush_closes,
    )


@given(our_params, talks)
@settings(max_examples=80, deadline=None)
def test_7_wsproto_deflate_server_with_a_rawpush_client(
    params: DeflateParams,
    talk: Talk,
) -> None:
    script, back, close, rawpush_closes = talk
    theirs = WsprotoDeflate()
    answer = theirs.accept(deflate_offer(params))
    assert isinstance(answer, str)
    extension = deflate_from_response([f"permessage-deflate; {answer}".rstrip("; ")], params)
    assert extension is not None
    converse(
        ClientConnection(extension=extension),
        peer(ConnectionType.SERVER, theirs),
        script=script,
        back=back,
        close=close,
        rawpush_closes=rawpush_closes,
    )
