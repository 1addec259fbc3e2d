"""What ``rawpush serve`` can hold: connections from the descriptor limit.

Every connection costs the server one file descriptor, and a process that
runs out of them cannot even accept the connection it would refuse. So
the serve command raises the soft ``RLIMIT_NOFILE`` to the hard one at
start and, unless ``--max-connections`` is given, allows what is left of
it after a reserve for everything else a node opens (its listening
sockets, Redis connections, log files, the TLS files, DNS lookups).
"""

from __future__ import annotations

import logging
import resource

__all__ = ["RESERVE_FRACTION", "connections_allowed", "raise_descriptor_limit"]

logger = logging.getLogger("rawpush.cli")

#: the share of the descriptor limit kept for what is not a connection
RESERVE_FRACTION = 0.05
#: and never fewer than this many descriptors
_MIN_RESERVE = 64
#: the soft limit asked for when the hard one is unlimited
_UNLIMITED_TARGET = 1 << 20


def raise_descriptor_limit() -> int:
    """Raise the soft descriptor limit as far as the hard one allows;
    return the soft limit in force afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:  # a container may refuse
            logger.debug("descriptor limit stays %d: %s", soft, exc)
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def connections_allowed(limit: int) -> tuple[int, int]:
    """``(max_connections, reserve)`` for a descriptor ``limit``."""
    reserve = max(_MIN_RESERVE, int(limit * RESERVE_FRACTION))
    return max(1, limit - reserve), reserve
