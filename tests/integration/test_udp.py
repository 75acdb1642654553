#!/usr/bin/env python3
"""Integration tests for sockit's UDP extras: multicast (--mcast-join,
--mcast-ttl, --mcast-loop), broadcast (-b) and the UDP port check (-z -u).

Multicast and broadcast run in a private network namespace (`ip netns`)
whose lo gets the MULTICAST flag there: the machine's lo is never
touched. Those tests need root and skip with a message without it.

    python3 tests/integration/test_udp.py [-v] [TestClass[.test_name]]
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (TIMEOUT, Proc, binary, free_port,  # noqa: E402
                    wait_listening)

ROOT = os.geteuid() == 0
NEED_ROOT = "needs root (a network namespace with multicast on lo)"
LISTENING = re.compile(rb"(?:[Ll]istening|Bound) on")

TTL_RECEIVER = r"""
import socket, struct, sys
group, iface, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
v6 = ":" in group
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET,
                  socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", port))
index = socket.if_nametoindex(iface)
if v6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                 socket.inet_pton(socket.AF_INET6, group) +
                 struct.pack("@I", index))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
else:
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                 socket.inet_aton(group) + socket.inet_aton("0.0.0.0") +
                 struct.pack("@i", index))
    s.setsockopt(socket.IPPROTO_IP, 12, 1)  # IP_RECVTTL
print("ready", flush=True)
while True:
    data, anc, _, _ = s.recvmsg(1024, 256)
    ttl = [struct.unpack("@i", d[:4])[0] for _, _, d in anc]
    print(data.strip().decode(), *ttl, flush=True)
"""


def sockit():
    return binary("sockit", subdir="")


def run(argv):
    return subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=3 * TIMEOUT)


@unittest.skipUnless(ROOT, NEED_ROOT)
class NetnsCase(unittest.TestCase):
    """A network namespace with lo up and multicast on, deleted after."""

    def setUp(self):
        self.ns = "sockit-udp-" + uuid.uuid4().hex[:8]
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", self.ns])
        self.sh("ip link set lo up multicast on")
        # Linux adds no IPv6 multicast route for a loopback device.
        self.sh("ip -6 route add multicast ff00::/8 dev lo table local")

    def sh(self, cmd):
        subprocess.run(["ip", "netns", "exec", self.ns, "sh", "-ec", cmd],
                       check=True)

    def start(self, *args):
        p = Proc(["ip", "netns", "exec", self.ns, sockit()] + list(args))
        self.addCleanup(p.stop)
        return p

    def ttl_receiver(self, group, iface, port):
        """A Python receiver in the namespace that prints each datagram's
        text and the TTL / hop limit it arrived with."""
        p = Proc(["ip", "netns", "exec", self.ns, sys.executable, "-c",
                  TTL_RECEIVER, group, iface, str(port)])
        self.addCleanup(p.stop)
        p.out.wait_line(b"ready")
        return p

    def receiver(self, group, port, *extra):
        p = self.start("-u", "-l", "-v", "--mcast-join", group, *extra,
                       str(port))
        p.err.wait_line(LISTENING)
        return p


class Multicast(NetnsCase):
    def test_ipv4_two_receivers_one_group(self):
        a = self.receiver("239.255.42.42,lo", 40001)
        b = self.receiver("239.255.42.42,lo", 40001)
        s = self.start("-u", "--mcast-ttl", "1", "--mcast-loop", "on",
                       "--mcast-if", "lo", "239.255.42.42", "40001")
        s.write(b"to the group\n")
        a.out.wait_line(b"to the group")
        b.out.wait_line(b"to the group")
        a.out.assert_quiet()  # once each, not twice

    def test_ipv4_ttl(self):
        r = self.ttl_receiver("239.255.42.44", "lo", 40003)
        s = self.start("-u", "--mcast-ttl", "9", "--mcast-if", "lo",
                       "239.255.42.44", "40003")
        s.write(b"ttl\n")
        self.assertEqual(r.out.wait_line(re.compile(rb"^ttl ")), b"ttl 9")

    def test_ipv4_group_without_join_is_not_received(self):
        # a joined 239.255.42.42 only; b (another program) joined .43:
        # .43's datagrams to the same port reach b, never a.
        a = self.receiver("239.255.42.42,lo", 40001)
        b = self.receiver("239.255.42.43,lo", 40001)
        s = self.start("-u", "--mcast-if", "lo", "239.255.42.43", "40001")
        s.write(b"other group\n")
        b.out.wait_line(b"other group")
        t = self.start("-u", "--mcast-if", "lo", "239.255.42.42", "40001")
        t.write(b"right group\n")
        self.assertEqual(a.out.wait_line(re.compile(rb"group")),
                         b"right group")


class Multicast6(NetnsCase):
    """IPv6 over a veth pair v0 -- v1 in the namespace: Linux delivered no
    IPv6 multicast over lo here (Python's sockets neither), so the sender
    sends through v0 and the receivers listen on v1, or on v0 itself,
    which gets a copy only while --mcast-loop is on."""

    def setUp(self):
        super().setUp()
        # No duplicate address detection: the link-local addresses (the
        # source of what v0 sends) are usable as soon as they exist.
        self.sh("sysctl -qw net.ipv6.conf.default.accept_dad=0 && "
                "ip link add v0 type veth peer name v1 && "
                "ip link set v0 up && ip link set v1 up")
        deadline = time.monotonic() + TIMEOUT
        while not all(self.has_link_local(d) for d in ("v0", "v1")):
            self.assertLess(time.monotonic(), deadline,
                            "no IPv6 link-local address on v0/v1")
            time.sleep(0.05)  # polling the address state, bounded

    def has_link_local(self, dev):
        out = subprocess.run(["ip", "netns", "exec", self.ns, "ip", "-6",
                              "addr", "show", "dev", dev, "scope", "link"],
                             stdout=subprocess.PIPE, check=True).stdout
        return b"inet6 fe80" in out and b"tentative" not in out

    def send(self, text, *opts):
        s = self.start("-u", "--mcast-if", "v0", *opts, "ff02::4242",
                       "40002")
        s.write(text + b"\n")
        return s

    def test_two_receivers(self):
        a = self.receiver("ff02::4242,v1", 40002)
        b = self.receiver("ff02::4242,v1", 40002)
        self.send(b"six", "--mcast-ttl", "1")
        a.out.wait_line(b"six")
        b.out.wait_line(b"six")

    def test_loop_off_and_on(self):
        # A receiver on the sender's own interface gets the host's copy,
        # which --mcast-loop off withholds.
        r = self.receiver("ff02::4242,v0", 40002)
        self.send(b"no copy", "--mcast-loop", "off")
        self.send(b"copy", "--mcast-loop", "on")
        self.assertEqual(r.out.wait_line(re.compile(rb"copy")), b"copy")

    def test_hop_limit_on_the_wire(self):
        r = self.ttl_receiver("ff02::4242", "v1", 40002)
        self.send(b"hops", "--mcast-ttl", "7")
        self.assertEqual(r.out.wait_line(re.compile(rb"^hops ")), b"hops 7")


class Broadcast(NetnsCase):
    def test_b_allows_broadcast(self):
        r = self.start("-u", "-l", "-v", "-4", "40005")
        r.err.wait_line(LISTENING)
        p = run(["ip", "netns", "exec", self.ns, sockit(), "-u",
                 "127.255.255.255", "40005"])
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"Permission denied", p.stderr)
        s = self.start("-u", "-b", "127.255.255.255", "40005")
        s.write(b"to everyone\n")
        r.out.wait_line(b"to everyone")


class Usage(unittest.TestCase):
    def check(self, args, msg):
        p = run([sockit()] + args)
        self.assertEqual(p.returncode, 2, p)
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        self.assertIn(msg, p.stderr)

    def test_errors(self):
        self.check(["--mcast-join", "239.1.1.1", "-l", "1"], b"need -u")
        self.check(["-u", "--mcast-join", "239.1.1.1", "239.1.1.1", "1"],
                   b"--mcast-join needs -l")
        self.check(["-u", "--mcast-if", "nosuch0", "ff02::1", "1"],
                   b'no network interface "nosuch0"')
        self.check(["-b", "-z", "-u", "127.0.0.1", "1"], b"no -U or -z")
        self.check(["-u", "--mcast-join", "10.0.0.1", "-l", "1"],
                   b"is not a multicast group")
        self.check(["-u", "--mcast-join", "239.1.1.1,nosuch0", "-l", "1"],
                   b'no network interface "nosuch0"')
        self.check(["-u", "--mcast-join", "name", "-l", "1"],
                   b"not a numeric IPv4 or IPv6 address")
        self.check(["-u", "--mcast-ttl", "256", "127.0.0.1", "1"],
                   b"0..255")
        self.check(["-u", "--mcast-loop", "yes", "127.0.0.1", "1"],
                   b"is not on or off")


class PortCheck(unittest.TestCase):
    """-z -u as OpenBSD nc: ICMP port unreachable means closed."""

    def udp_socket(self, answer):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        s.bind(("127.0.0.1", 0))
        if answer:
            def serve():
                try:
                    data, peer = s.recvfrom(100)
                    s.sendto(b"pong", peer)
                except OSError:
                    pass
            threading.Thread(target=serve, daemon=True).start()
        return s.getsockname()[1]

    def test_closed_open_filtered_and_open(self):
        silent = self.udp_socket(False)
        answering = self.udp_socket(True)
        closed = free_port("127.0.0.1", socket.SOCK_DGRAM)
        p = run([sockit(), "-z", "-u", "-w", "1", "127.0.0.1", closed])
        self.assertEqual((p.returncode, p.stdout), (1, b""))
        p = run([sockit(), "-z", "-u", "-v", "-w", "1", "127.0.0.1", closed])
        self.assertIn(b"127.0.0.1:%d closed" % closed, p.stderr)
        p = run([sockit(), "-z", "-u", "-w", "1", "127.0.0.1", silent])
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout, b"127.0.0.1:%d open|filtered\n" % silent)
        p = run([sockit(), "-z", "-u", "-w", "1", "127.0.0.1", answering])
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout, b"127.0.0.1:%d open\n" % answering)

    def test_range_in_batches(self):
        # 100 ports go out in batches of 64: every port reported once, in
        # order, the silent ones on stdout, the closed ones with -v.
        socks = []
        for _ in range(50):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.addCleanup(s.close)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        ports = sorted(s.getsockname()[1] for s in socks)
        # A window of 100 ports holding at least two of ours, spread out.
        lo = ports[0]
        silent = [p for p in ports if p < lo + 100]
        hi = lo + 99
        p = run([sockit(), "-z", "-u", "-v", "-w", "1", "127.0.0.1",
                 "%d-%d" % (lo, hi)])
        self.assertEqual(p.returncode, 0, p.stderr)
        shown = [int(m) for m in
                 re.findall(rb"^127.0.0.1:(\d+) open\|filtered$", p.stdout,
                            re.M)]
        self.assertEqual(len(shown), len(p.stdout.splitlines()), p.stdout)
        # Ours are among them (another program's socket may be too).
        self.assertLessEqual(set(silent), set(shown))
        closed = [int(m) for m in re.findall(rb":(\d+) closed", p.stderr)]
        self.assertEqual(sorted(closed + shown), list(range(lo, hi + 1)))
        self.assertEqual(closed, sorted(closed))
        self.assertEqual(shown, sorted(shown))

    def test_silent_port_succeeds_as_with_openbsd_nc(self):
        # Only the silent port: nc 1.219 writes its probes back to back and
        # often misses the refusal of a closed port (exit 0 with -w 1 here).
        silent = self.udp_socket(False)
        ours = run([sockit(), "-z", "-u", "-w", "1", "127.0.0.1", silent])
        theirs = run(["nc", "-z", "-u", "-w", "1", "127.0.0.1", silent])
        self.assertEqual((ours.returncode, theirs.returncode), (0, 0))

    def test_ipv6(self):
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        s.bind(("::1", 0))
        port = s.getsockname()[1]
        p = run([sockit(), "-z", "-u", "-w", "1", "::1",
                 "%d-%d" % (port, port + 1)])
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"[::1]:%d open|filtered\n" % port, p.stdout)


if __name__ == "__main__":
    unittest.main()
