# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks on the fixed TCP ports the local flavor listens on.

A fixed listening port inside the kernel's ephemeral range
(``net.ipv4.ip_local_port_range``, 32768-60999 by default) works until some
outgoing connection happens to use it as its local port; the service then
fails to bind. Linux hands even ports to ``connect()`` first, so such a
failure is rare and random. These helpers turn it into a clear error up front.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket

PORT_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
RESERVED_PORTS_FILE = "/proc/sys/net/ipv4/ip_local_reserved_ports"


def parse_port_range(text):
    """``"32768\\t60999"`` -> ``(32768, 60999)``."""
    low, high = text.split()
    return int(low), int(high)


def parse_reserved_ports(text):
    """``"8080,9000-9010"`` -> ``[(8080, 8080), (9000, 9010)]``; empty text -> ``[]``."""
    ranges = []
    for item in text.strip().split(","):
        item = item.strip()
        if not item:
            continue
        low, dash, high = item.partition("-")
        ranges.append((int(low), int(high if dash else low)))
    return ranges


def ephemeral_conflicts(ports, port_range, reserved=()):
    """The ports (sorted, unique) that an outgoing connection may take: inside the range, not reserved."""
    low, high = port_range
    return sorted(
        set(p for p in ports if low <= p <= high and not any(r_low <= p <= r_high for r_low, r_high in reserved))
    )


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError):
        return None


def ephemeral_error(ports, what):
    """A clear message when one of ``ports`` lies in this host's ephemeral range, else None."""
    range_text = _read(PORT_RANGE_FILE)
    if range_text is None:  # not Linux, or no /proc: nothing to check against
        return None
    port_range = parse_port_range(range_text)
    conflicts = ephemeral_conflicts(ports, port_range, parse_reserved_ports(_read(RESERVED_PORTS_FILE) or ""))
    if not conflicts:
        return None
    return (
        "%s: port %s lies in this host's ephemeral port range %d-%d (net.ipv4.ip_local_port_range), "
        "where any outgoing connection may hold it and the bind then fails at random. Pick ports below %d, "
        "or reserve them with: sysctl -w net.ipv4.ip_local_reserved_ports=%s"
        % (what, ", ".join(str(p) for p in conflicts), port_range[0], port_range[1], port_range[0],
           ",".join(str(p) for p in conflicts))
    )


def in_use(port, host="127.0.0.1", timeout=1.0):
    """True when something already accepts connections on host:port."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except (IOError, OSError):
        return False
    sock.close()
    return True
