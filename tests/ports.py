"""Ports for servers a test starts in a child process, picked so that nothing can take them first.

The usual trick, bind port 0 and hand the port the kernel gave to the child, leaves a window:
once the probe socket closes, the port is back in the kernel's ephemeral range, and any other
process that binds port 0 or connects out (the Temporal dev server picks its unnamed ports that
way) may be given it before the child binds it. So the ports here come from *outside*
/proc/sys/net/ipv4/ip_local_port_range: the kernel never hands those out on its own, only a
process that names one can take one. Each is picked at random, so that two test runs at once
rarely pick the same, and checked free by binding it, so that a running server is never chosen.
"""

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LINUX_DEFAULT_EPHEMERAL = (32768, 60999)
# Below this are the fixed defaults of many local services (7233, 8000, 5432, ...): skip them.
LOWEST = 10000
HIGHEST = 65535

_random = random.SystemRandom()  # not the `random` module: test plugins may seed that alike
_given: set[int] = set()  # never the same port twice in one test session


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel picks from for bind(0) and outgoing connections (inclusive)."""
    try:
        low, high = map(int, EPHEMERAL_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        return LINUX_DEFAULT_EPHEMERAL
    return low, high


def _candidates() -> list[int]:
    low, high = ephemeral_range()
    return [
        port
        for port in range(LOWEST, HIGHEST + 1)
        if not low <= port <= high and port not in _given
    ]


def _is_free(port: int, host: str) -> bool:
    # No SO_REUSEADDR: a port still in TIME_WAIT, or bound on any address, counts as taken.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct free ports outside the ephemeral range, for child processes to bind."""
    candidates = _candidates()
    _random.shuffle(candidates)
    ports: list[int] = []
    for port in candidates:
        if len(ports) == count:
            break
        if _is_free(port, host):
            ports.append(port)
            _given.add(port)
    if len(ports) < count:
        raise RuntimeError(
            f"found {len(ports)} of {count} free ports in {LOWEST}-{HIGHEST} outside the "
            f"ephemeral range {ephemeral_range()}; narrow {EPHEMERAL_RANGE_FILE}"
        )
    return ports


def free_port(host: str = "127.0.0.1") -> int:
    """One free port outside the ephemeral range, for a child process to bind."""
    return free_ports(1, host)[0]
