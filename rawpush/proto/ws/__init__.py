"""RFC 6455 WebSocket core: frames, masking, close codes, connection state.

The public import path is ``rawpush.ws``.
"""
