"""The sans-IO core: bytes in, events out; events in, bytes out.

Nothing below this package imports asyncio, socket, time, selectors or a
higher rawpush layer (checked in CI by import-linter). The caller passes
bytes, and ``now`` where time matters.
"""
