#!/usr/bin/env python3
"""Integration tests for `sockit ping` and examples/ping.

Compared with iputils ping (Debian iputils-ping) on 127.0.0.1 and ::1:
same counts, the same output shape line by line, rtts in the same range.
The unprivileged path (an ICMP datagram socket, as user nobody) and the
refusal when neither socket kind is allowed run in a private network
namespace (`unshare -n`), whose net.ipv4.ping_group_range and
icmp_echo_ignore_all are its own: the machine's settings are never
touched. Tests needing root (raw sockets, namespaces, -f) skip with a
message when run without it.

    python3 tests/integration/test_ping.py [-v] [TestClass[.test_name]]
"""

import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import TIMEOUT, LineReader, Proc, binary  # noqa: E402

ROOT = os.geteuid() == 0
NEED_ROOT = "needs root (raw ICMP sockets, network namespaces)"
IPUTILS = shutil.which("ping")
NEED_IPUTILS = "needs iputils ping (apt-get install iputils-ping)"
# make test brings it (scripts/install-deps test): missing fails, not skips.
if not IPUTILS:
    raise SystemExit("test_ping: " + NEED_IPUTILS)

STATS = re.compile(rb"^(\d+) packets transmitted, (\d+) received"
                   rb"(?:, \+(\d+) duplicates)?(?:, \+(\d+) corrupted)?"
                   rb"(?:, \+\d+ errors)?, "
                   rb"([\d.]+)% packet loss, time \d+ms$")
RTT = re.compile(rb"^rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/"
                 rb"([\d.]+) ms$")
REPLY = re.compile(rb"^(\d+) bytes from (\S+): icmp_seq=(\d+) ttl=\d+"
                   rb"(?: time=([\d.]+) ms)?( \(DUP!\))?$")


def sockit():
    return binary("sockit", subdir="")


def shape(out):
    """The output with every measured number replaced by N."""
    text = re.sub(rb"time=[\d.]+ ms", b"time=N ms", out)
    text = re.sub(rb"time \d+ms", b"time Nms", text)
    text = re.sub(rb"ipg/ewma [\d./]+ ms", b"ipg/ewma N ms", text)
    return re.sub(rb"= [\d./]+ ms", b"= N ms", text)


def summary(out):
    """(transmitted, received, duplicates, corrupted, loss, rtt tuple)."""
    lines = out.splitlines()
    stats = [STATS.match(l) for l in lines if STATS.match(l)]
    if len(stats) != 1:
        raise AssertionError("no statistics line in %r" % out)
    m = stats[0]
    rtt = [RTT.match(l) for l in lines if RTT.match(l)]
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0),
            int(m.group(4) or 0), float(m.group(5)),
            tuple(float(x) for x in rtt[0].groups()) if rtt else None)


def run(argv, timeout=None):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout or 3 * TIMEOUT)
    for mark in (b"AddressSanitizer", b"runtime error:"):
        assert mark not in p.stderr, p.stderr.decode(errors="replace")
    return p


def in_netns(setup, argv, user=None):
    """argv inside a new network namespace with lo up, after the sysctl
    assignments in setup, as user (nobody) when given."""
    cmd = ["ip link set lo up"]
    cmd += ["sysctl -qw %s" % shlex.quote(s) for s in setup]
    if user:
        argv = ["setpriv", "--reuid=%s" % user, "--regid=nogroup",
                "--clear-groups"] + argv
    cmd.append("exec " + " ".join(shlex.quote(a) for a in argv))
    return ["unshare", "-n", "sh", "-ec", "; ".join(cmd)]


class PingCase(unittest.TestCase):
    def ping(self, *args, **kw):
        return run([sockit(), "ping"] + [str(a) for a in args], **kw)

    def assert_replies(self, out, count, size=56):
        replies = [REPLY.match(l) for l in out.splitlines()
                   if REPLY.match(l)]
        self.assertEqual([int(m.group(3)) for m in replies],
                         list(range(1, count + 1)), out)
        for m in replies:
            self.assertEqual(int(m.group(1)), size + 8, out)


@unittest.skipUnless(IPUTILS, NEED_IPUTILS)
class AgainstIputils(PingCase):
    """Same counts, same output shape, rtts in the same range."""

    def compare(self, host, *extra):
        args = ["-c", "3", "-i", "0.2"] + list(extra) + [host]
        ours = self.ping(*args)
        theirs = run([IPUTILS] + args)
        self.assertEqual(ours.returncode, 0, ours.stderr)
        self.assertEqual(theirs.returncode, 0, theirs.stderr)
        self.assertEqual(shape(ours.stdout), shape(theirs.stdout))
        s_ours, s_theirs = summary(ours.stdout), summary(theirs.stdout)
        self.assertEqual(s_ours[:5], s_theirs[:5])
        return s_ours, s_theirs

    def rtt_range(self, ours, theirs):
        # Loopback round trips: both well under a second; not a timing
        # assertion, a sanity bound on what the two programs measured.
        for s in (ours, theirs):
            self.assertIsNotNone(s[5])
            self.assertLessEqual(s[5][0], s[5][1])
            self.assertLessEqual(s[5][1], s[5][2])
            self.assertLess(s[5][2], 1000.0)

    def test_ipv4(self):
        self.rtt_range(*self.compare("127.0.0.1"))

    def test_ipv6(self):
        self.rtt_range(*self.compare("::1"))

    def test_sizes(self):
        # Under 16 bytes no timestamp fits: no time= and no rtt line.
        ours, theirs = self.compare("127.0.0.1", "-s", "8")
        self.assertIsNone(ours[5])
        self.compare("::1", "-s", "1000")

    def test_quiet(self):
        ours, _ = self.compare("127.0.0.1", "-q")
        self.assertEqual(ours[:2], (3, 3))

    def test_ipv4_host_name(self):
        self.compare("localhost", "-4")


class Replies(PingCase):
    def test_reply_lines_and_exit(self):
        p = self.ping("-c", "2", "-i", "0.2", "-s", "100", "127.0.0.1")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith(
            b"PING 127.0.0.1 (127.0.0.1) 100(128) bytes of data.\n"))
        self.assert_replies(p.stdout, 2, size=100)
        self.assertIn(b"\n--- 127.0.0.1 ping statistics ---\n", p.stdout)
        self.assertEqual(summary(p.stdout)[:5], (2, 2, 0, 0, 0.0))

    def test_sigint_prints_statistics(self):
        # As iputils: Ctrl-C ends with the summary, exit 0 after replies.
        p = Proc([sockit(), "ping", "-i", "0.2", "::1"])
        self.addCleanup(p.stop)
        p.out.wait_line(re.compile(rb"icmp_seq=2 "))
        p.popen.send_signal(signal.SIGINT)
        self.assertEqual(p.wait_exit(), 0)
        sent, received = summary(bytes(p.out.transcript))[:2]
        self.assertGreaterEqual(received, 2)
        self.assertGreaterEqual(sent, received)

    def test_closed_stdout_ends_quietly(self):
        # `sockit ping host | head -2`: ends when the reader has gone,
        # without a word, by the reply rule (iputils dies of SIGPIPE).
        proc = subprocess.Popen([sockit(), "ping", "-i", "0.2", "::1"],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.addCleanup(proc.kill)
        out = LineReader(proc.stdout, "ping stdout")
        out.wait_line(re.compile(rb"icmp_seq=1 "))
        proc.stdout.close()
        self.assertEqual(proc.wait(TIMEOUT), 0)
        self.assertEqual(proc.stderr.read(), b"")
        proc.stderr.close()

    def test_full_stdout_is_an_error(self):
        with open("/dev/full", "wb") as full:
            p = subprocess.run([sockit(), "ping", "-c", "2", "-i", "0.2",
                                "127.0.0.1"], stdout=full,
                               stderr=subprocess.PIPE, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr, b"sockit ping: write to stdout failed\n")

    def test_sigterm_exit_143(self):
        p = Proc([sockit(), "ping", "-i", "0.2", "127.0.0.1"])
        self.addCleanup(p.stop)
        p.out.wait_line(re.compile(rb"icmp_seq=1 "))
        p.popen.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(), 143)
        self.assertIn(b"ping statistics", bytes(p.out.transcript))


class Usage(PingCase):
    def check(self, args, words):
        p = self.ping(*args)
        self.assertEqual(p.returncode, 2, p)
        self.assertEqual(p.stdout, b"")
        lines = p.stderr.splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        for w in words:
            self.assertIn(w, lines[0])

    def test_errors(self):
        self.check(["-c", "0", "::1"], [b"count", b"1..1000000000"])
        self.check(["-i", "x", "::1"], [b"interval", b"seconds"])
        self.check(["-W", "-1", "::1"], [b"timeout"])
        self.check(["-s", "70000", "::1"], [b"size", b"0..65527"])
        self.check(["-s", "65508", "127.0.0.1"], [b"65507", b"IPv4"])
        self.check(["-4", "-6", "::1"], [b"-4", b"-6"])
        self.check(["-x", "::1"], [b'"-x"'])
        self.check([], [b"missing host"])
        self.check(["a", "b"], [b"one host"])
        self.check(["-c"], [b"needs a value"])
        self.check(["no-such-host.invalid"], [b"no-such-host.invalid"])

    def test_help(self):
        p = self.ping("-h")
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"usage: sockit ping", p.stdout)


class NsCase(PingCase):
    """Runs a copy of a program in a network namespace of its own."""
    program = None

    def setUp(self):
        # nobody must be able to run the binary: copy it somewhere public.
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        os.chmod(d, 0o755)
        self.bin = os.path.join(d, "prog")
        shutil.copy(self.program(), self.bin)
        os.chmod(self.bin, 0o755)


@unittest.skipUnless(ROOT, NEED_ROOT)
class Sockets(NsCase):
    """Which socket sockit takes, in a namespace of its own."""
    program = staticmethod(sockit)

    def ns_ping(self, setup, args, user=None):
        return run(in_netns(setup, [self.bin, "ping", "-v"] + args, user))

    def test_unprivileged_datagram_socket(self):
        wide = ["net.ipv4.ping_group_range=0 2147483647"]
        for host in ("127.0.0.1", "::1"):
            p = self.ns_ping(wide, ["-c", "2", "-i", "0.2", host], "nobody")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(b"ICMP datagram (SOCK_DGRAM)", p.stderr)
            self.assert_replies(p.stdout, 2)

    def test_neither_allowed_says_what_would(self):
        p = self.ns_ping(["net.ipv4.ping_group_range=1 0"],
                         ["-c", "1", "127.0.0.1"], "nobody")
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stdout, b"")
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        for w in (b"net.ipv4.ping_group_range", b"CAP_NET_RAW", b"1 0"):
            self.assertIn(w, p.stderr)

    def test_raw_socket_when_group_outside_range(self):
        for host in ("127.0.0.1", "::1"):
            p = self.ns_ping(["net.ipv4.ping_group_range=1 0"],
                             ["-c", "2", "-i", "0.2", host])
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(b"raw ICMP (SOCK_RAW)", p.stderr)
            self.assert_replies(p.stdout, 2)

    def test_no_reply_exit_1_as_iputils(self):
        setup = ["net.ipv4.icmp_echo_ignore_all=1",
                 "net.ipv6.icmp.echo_ignore_all=1"]
        for host in ("127.0.0.1", "::1"):
            args = ["-c", "2", "-i", "0.2", "-W", "0.3", host]
            p = self.ns_ping(setup, args)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertEqual(summary(p.stdout), (2, 0, 0, 0, 100.0, None))
            if IPUTILS:
                q = run(in_netns(setup, [IPUTILS] + args))
                self.assertEqual(q.returncode, 1)
                self.assertEqual(shape(p.stdout), shape(q.stdout))

    def test_W0_waits_until_interrupted(self):
        # -W 0, as iputils: no reply, no limit; Ctrl-C ends it, exit 1.
        p = Proc(in_netns(["net.ipv4.icmp_echo_ignore_all=1"],
                          [self.bin, "ping", "-W", "0", "-c", "1",
                           "127.0.0.1"]))
        self.addCleanup(p.stop)
        p.out.wait_line(re.compile(rb"^PING "))
        p.out.assert_quiet()
        self.assertIsNone(p.poll())
        p.popen.send_signal(signal.SIGINT)
        self.assertEqual(p.wait_exit(), 1)
        self.assertEqual(summary(bytes(p.out.transcript)),
                         (1, 0, 0, 0, 100.0, None))

    def test_unprivileged_flood_and_fast_interval_refused(self):
        wide = ["net.ipv4.ping_group_range=0 2147483647"]
        p = self.ns_ping(wide, ["-f", "127.0.0.1"], "nobody")
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"-f needs root", p.stderr)
        p = self.ns_ping(wide, ["-i", "0.001", "127.0.0.1"], "nobody")
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"2 ms", p.stderr)


@unittest.skipUnless(ROOT and IPUTILS, NEED_ROOT + "; " + NEED_IPUTILS)
class FakeHost(NsCase):
    """A scripted host behind a TUN device (fakehost.py): an ICMP error,
    a TTL of 42, a duplicate and a late reply; sockit and iputils must
    print the same lines and the same summary, over IPv4 and IPv6, on a
    raw socket (root) and a datagram socket (nobody)."""
    program = staticmethod(sockit)

    def setUp(self):
        super().setUp()
        self.ns = "sockit-ping-" + uuid.uuid4().hex[:8]
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", self.ns])
        subprocess.run(["ip", "netns", "exec", self.ns, "sysctl", "-qw",
                        "net.ipv4.ping_group_range=0 2147483647"],
                       check=True)
        host = Proc(["ip", "netns", "exec", self.ns, sys.executable,
                     os.path.join(os.path.dirname(os.path.abspath(
                         __file__)), "fakehost.py")])
        self.addCleanup(host.stop)
        host.out.wait_line(b"ready")

    def both(self, argv_tail, user=None):
        pre = ["ip", "netns", "exec", self.ns]
        if user:
            pre += ["setpriv", "--reuid=" + user, "--regid=nogroup",
                    "--clear-groups"]
        return (run(pre + [self.bin, "ping"] + argv_tail),
                run(pre + [IPUTILS] + argv_tail))

    def check(self, host, user=None):
        ours, theirs = self.both(["-c", "5", "-i", "0.5", host], user)
        self.assertEqual((ours.returncode, theirs.returncode), (0, 0),
                         ours.stderr)
        self.assertEqual(shape(ours.stdout), shape(theirs.stdout))
        self.assertEqual(summary(ours.stdout)[:5], (5, 4, 1, 0, 20.0))
        self.assertIn(b", +1 errors, ", ours.stdout)
        self.assertIn(b" ttl=42 ", ours.stdout)

    def test_ipv4_raw(self):
        self.check("10.77.0.2")

    def test_ipv6_raw(self):
        self.check("fd77::2")

    def test_ipv4_datagram(self):
        self.check("10.77.0.2", "nobody")

    def test_ipv6_datagram(self):
        self.check("fd77::2", "nobody")

    def test_flood_errors(self):
        # "\bE" for the error, as iputils; the late reply still counts.
        ours, theirs = self.both(["-f", "-c", "5", "10.77.0.2"])
        self.assertIn(b".\bE.", ours.stdout)
        self.assertIn(b".\bE.", theirs.stdout)
        # Whether the late reply lands before the flood's closing wait
        # ends is a race for both programs alike (it swings with the
        # machine's load), so the dots after it and the received count
        # are not compared; what was sent and the error are.
        self.assertEqual(summary(ours.stdout)[0], summary(theirs.stdout)[0])
        self.assertIn(b", +1 errors, ", ours.stdout)
        self.assertIn(b", +1 errors, ", theirs.stdout)


def echo_reply(ident, seq, payload, bad_sum=False):
    def checksum(b):
        b += b"\0" * (len(b) % 2)
        s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
        while s >> 16:
            s = (s & 0xffff) + (s >> 16)
        return ~s & 0xffff
    hdr = struct.pack("!BBHHH", 0, 0, 0, ident, seq)
    s = checksum(hdr + payload) ^ (0x5555 if bad_sum else 0)
    return struct.pack("!BBHHH", 0, 0, s, ident, seq) + payload


@unittest.skipUnless(ROOT, NEED_ROOT)
class Verification(PingCase):
    """Forged replies: a duplicate is counted apart, a bad checksum is
    counted as corrupted, another identifier is ignored."""

    def test_duplicate_corrupt_and_foreign(self):
        p = Proc([sockit(), "ping", "-v", "-c", "3", "-i", "1",
                  "127.0.0.1"])
        self.addCleanup(p.stop)
        line = p.err.wait_line(re.compile(rb"identifier (\d+)"))
        ident = int(re.search(rb"identifier (\d+)", line).group(1))
        p.out.wait_line(re.compile(rb"icmp_seq=1 "))
        # A zero stamp is an old one: any rtt, never negative. Byte 20 of
        # the payload should be 0x14 (byte i is i after the stamp).
        good = bytes(range(56))
        bad_data = good[:20] + b"\xee" + good[21:]
        with socket.socket(socket.AF_INET, socket.SOCK_RAW,
                           socket.IPPROTO_ICMP) as s:
            for pkt in (echo_reply(ident, 1, bad_data),
                        echo_reply(ident, 2, good, bad_sum=True),
                        echo_reply(ident ^ 0x8000, 2, good)):
                s.sendto(pkt, ("127.0.0.1", 0))
        p.out.wait_line(re.compile(rb"icmp_seq=1 .*\(DUP!\)$"))
        p.out.wait_line(b"wrong data byte #20 should be 0x14 but was 0xee")
        p.out.wait_line(re.compile(rb"icmp_seq=2 .*\(BAD CHECKSUM!\)$"))
        self.assertEqual(p.wait_exit(3 * TIMEOUT), 0)
        out = bytes(p.out.transcript)
        self.assertEqual(summary(out)[:5], (3, 3, 1, 1, 0.0))
        # One good seq 2, one corrupt; the foreign identifier is not shown.
        self.assertEqual(len(re.findall(rb"icmp_seq=2 ", out)), 2, out)
        self.assertEqual(len(re.findall(rb"icmp_seq=", out)), 5, out)


@unittest.skipUnless(ROOT, NEED_ROOT)
class Example(NsCase):
    """examples/ping: SOCK_RAW when allowed, else the datagram socket."""
    program = staticmethod(lambda: binary("ping"))

    def ns_example(self, setup, args, user=None):
        return run(in_netns(setup, [self.bin] + args, user))

    def test_raw_socket(self):
        p = self.ns_example(["net.ipv4.ping_group_range=1 0"],
                            ["127.0.0.1", "2"])
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = re.sub(rb"time=[\d.]+ ms", b"time=N ms", p.stdout)
        self.assertEqual(lines.splitlines(), [
            b"PING 127.0.0.1 with a SOCK_RAW socket",
            b"reply from 127.0.0.1: icmp_seq=1 ttl=64 time=N ms",
            b"reply from 127.0.0.1: icmp_seq=2 ttl=64 time=N ms",
            b"2 sent, 2 received"])

    def test_datagram_socket_as_nobody(self):
        p = self.ns_example(["net.ipv4.ping_group_range=0 2147483647"],
                            ["127.0.0.1", "1"], "nobody")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"SOCK_DGRAM socket", p.stdout)
        self.assertRegex(p.stdout, rb"reply from 127.0.0.1: icmp_seq=1 "
                                   rb"time=[\d.]+ ms\n1 sent, 1 received")

    def test_no_reply_and_no_socket(self):
        p = self.ns_example(["net.ipv4.icmp_echo_ignore_all=1"],
                            ["127.0.0.1", "1"])
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"no reply for icmp_seq=1", p.stdout)
        p = self.ns_example(["net.ipv4.ping_group_range=1 0"],
                            ["127.0.0.1", "1"], "nobody")
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"ping_group_range", p.stderr)


@unittest.skipUnless(ROOT, "-f needs root")
class Flood(PingCase):
    def test_flood_counts(self):
        p = self.ping("-f", "-c", "500", "::1")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(summary(p.stdout)[:2], (500, 500))
        body = p.stdout.split(b"\n", 1)[1].split(b"\n---")[0]
        # A dot per request, "\b \b" per reply, as iputils.
        self.assertEqual(body.count(b"."), 500)
        self.assertEqual(body.count(b"\b \b"), 500)
        self.assertRegex(p.stdout, rb"\nrtt min/avg/max/mdev = [\d./]+ ms, "
                                   rb"ipg/ewma [\d.]+/[\d.]+ ms\n$")

    @unittest.skipUnless(IPUTILS, NEED_IPUTILS)
    def test_flood_shape_as_iputils(self):
        for host in ("127.0.0.1", "::1"):
            ours = self.ping("-f", "-c", "50", host)
            theirs = run([IPUTILS, "-f", "-c", "50", host])
            self.assertEqual(shape(ours.stdout), shape(theirs.stdout))

    def test_flood_quiet(self):
        p = self.ping("-f", "-q", "-c", "200", "127.0.0.1")
        self.assertEqual(summary(p.stdout)[:2], (200, 200))
        self.assertNotIn(b".", p.stdout.split(b"\n")[1])


if __name__ == "__main__":
    unittest.main()
