#!/usr/bin/env python3
"""A scripted host behind a TUN device, for the ping tests.

Run as root inside a network namespace of its own: it creates tun `sk0`
with 10.77.0.1/24 and fd77::1/64 on our side, prints "ready", and then
answers echo requests to 10.77.0.2 and fd77::2 by sequence number:

  1  an ICMP error from a "router" (10.77.0.254 / fd77::fe): host
     unreachable (IPv4 type 3 code 1; IPv6 type 1 code 3)
  2  a reply with TTL / hop limit 42
  3  the reply twice (a duplicate)
  4  the reply 0.75 s late, after request 5 went out
  5+ a reply at once

It ends when its stdin closes.
"""

import fcntl
import os
import select
import socket
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454ca
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
LATE = 0.75  # the tests send every 0.5 s: after request 5, before the end


def checksum(data):
    data += b"\0" * (len(data) % 2)
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ip4(src, dst, ttl, payload):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, ttl,
                      1, 0, socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def icmp4(type_, code, rest, body):
    msg = struct.pack("!BBH", type_, code, 0) + rest + body
    return msg[:2] + struct.pack("!H", checksum(msg)) + msg[4:]


def ip6(src, dst, hops, payload):
    s, d = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(
        socket.AF_INET6, dst)
    pseudo = s + d + struct.pack("!I3xB", len(payload), 58)
    payload = payload[:2] + struct.pack("!H", checksum(pseudo + payload)) + \
        payload[4:]
    return struct.pack("!IHBB", 6 << 28, len(payload), 58, hops) + s + d + \
        payload


def answers(pkt):
    """[(delay, packet)] for one packet from the kernel."""
    if pkt[0] >> 4 == 4 and pkt[9] == 1:
        hl = (pkt[0] & 15) * 4
        icmp, src, dst = pkt[hl:], pkt[12:16], pkt[16:20]
        if icmp[0] != 8 or dst != socket.inet_aton("10.77.0.2"):
            return []
        me, peer = "10.77.0.2", socket.inet_ntoa(src)
        reply = lambda ttl: ip4(me, peer, ttl, icmp4(0, 0, icmp[4:8],
                                                     icmp[8:]))
        error = ip4("10.77.0.254", peer, 64,
                    icmp4(3, 1, b"\0" * 4, pkt[:hl + 8]))
    elif pkt[0] >> 4 == 6 and pkt[6] == 58 and pkt[40] == 128:
        if pkt[24:40] != socket.inet_pton(socket.AF_INET6, "fd77::2"):
            return []
        icmp = pkt[40:]
        me, peer = "fd77::2", socket.inet_ntop(socket.AF_INET6, pkt[8:24])
        reply = lambda hops: ip6(me, peer, hops, struct.pack(
            "!BBH", 129, 0, 0) + icmp[4:])
        error = ip6("fd77::fe", peer, 64,
                    struct.pack("!BBHI", 1, 3, 0, 0) + pkt[:1232])
    else:
        return []
    seq = struct.unpack("!H", icmp[6:8])[0]
    return {1: [(0, error)], 2: [(0, reply(42))],
            3: [(0, reply(64)), (0, reply(64))],
            4: [(LATE, reply(64))]}.get(seq, [(0, reply(64))])


def main():
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"sk0",
                                           IFF_TUN | IFF_NO_PI))
    subprocess.run("ip link set lo up && ip link set sk0 up && "
                   "ip addr add 10.77.0.1/24 dev sk0 && "
                   "ip -6 addr add fd77::1/64 dev sk0 nodad",
                   shell=True, check=True)
    print("ready", flush=True)
    later = []  # (when, packet)
    while True:
        now = time.monotonic()
        wait = min([w for w, _ in later], default=now + 60) - now
        ready, _, _ = select.select([fd, sys.stdin], [], [], max(wait, 0))
        if sys.stdin in ready and not sys.stdin.buffer.read1(1):
            return
        if fd in ready:
            for delay, out in answers(os.read(fd, 65536)):
                later.append((time.monotonic() + delay, out))
        now = time.monotonic()
        for item in [i for i in later if i[0] <= now]:
            os.write(fd, item[1])
            later.remove(item)


if __name__ == "__main__":
    main()
