#!/usr/bin/env python3
"""Integration tests for datagrams in batches (issue 14, UDP):

  - a burst (held back by stopping the receiver, so it is read in full
    batches) of datagrams of varied sizes, 0-byte and 65,507-byte ones
    among them, reaches stdout whole and in order;
  - --allow/--deny still decide per datagram inside a batch, and a
    too-large datagram ends the relay after those before it are out;
  - -u -l answers the last sender of a batch, -k -u -l every sender in
    it (a 0-byte datagram's sender too);
  - -v names the receive buffer, which is what the kernel holds (ss);
    without privilege it is capped by net.core.rmem_max and says so;
  - stdout that is a pipe is grown to 1 MiB;
  - stdin: one read is one datagram, a burst (a file, a full pipe)
    leaves as the same datagrams.

The receiver is stopped with SIGSTOP while a burst is sent: the burst
then waits in the socket's queue, and sockit reads it in batches of up
to 32 when it goes on (SIGCONT). Only 127.0.0.x. Every wait is bounded.

    python3 tests/integration/test_udp_batch.py [-v] [TestClass[.test_name]]
"""

import fcntl
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (TIMEOUT, LineReader, free_port,  # noqa: E402
                    udp_assert_quiet, udp_recv)
from common import CliCase, sockit  # noqa: E402

SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)
MAX = 65507  # the largest UDP payload over IPv4
HEAD = struct.Struct("!II")  # sequence number, length of the datagram


def datagram(seq, size):
    """A self-describing datagram: its number and length, then bytes that
    depend on both, so a cut, a merge or a swap shows when parsed."""
    if size < HEAD.size:
        return b"" if size == 0 else bytes([seq % 251]) * size
    body = bytes((seq + i) % 251 for i in range(min(size - HEAD.size, 251)))
    body = (body * (size // max(len(body), 1) + 1))[:size - HEAD.size]
    return HEAD.pack(seq, size) + body


def burst_sizes():
    """Varied sizes: 0-byte, tiny, MTU-ish, large and maximal ones mixed."""
    sizes = []
    for i in range(420):
        if i % 50 == 7:
            sizes.append(0)
        elif i % 26 == 3:
            sizes.append(MAX)
        else:
            sizes.append(HEAD.size + (i * 37) % 3000)
    return sizes


def big_rcvbuf(sock, size=8 << 20):
    """A Python peer's receive buffer, big enough for a burst."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def rcvbuf_of(port):
    """The receive buffer of the UDP socket bound to port, as ss shows it
    (skmem rb: twice what SO_RCVBUF was set to), or None."""
    try:
        out = subprocess.run(["ss", "-uamn", "sport = :%d" % port],
                             capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"\brb(\d+)", out)
    return int(m.group(1)) if m else None


def may_force():
    """Whether this process may go past rmem_max (SO_RCVBUFFORCE: root
    with CAP_NET_ADMIN), as sockit started from it may."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 1 << 20)
            return True
        except OSError:
            return False


def rmem_max():
    with open("/proc/sys/net/core/rmem_max") as f:
        return int(f.read())


def size_text(n):
    """How sockit names a buffer size: "8 MiB", or "208.0 KiB"."""
    if n % (1 << 20) == 0:
        return "%d MiB" % (n >> 20)
    v, units = float(n), ["B", "KiB", "MiB", "GiB"]
    u = 0
    while v >= 1024 and u < 3:
        v /= 1024
        u += 1
    return "%d B" % n if u == 0 else "%.1f %s" % (v, units[u])


def wait_path(path, proc):
    """Waits (bounded) until a Unix listener's socket file exists."""
    deadline = time.monotonic() + TIMEOUT
    while not os.path.exists(path):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise AssertionError("no socket at %s%s" %
                                 (path, proc.describe()))
        time.sleep(0.01)  # polling the file system, with a deadline


class BatchCase(CliCase):

    def udp_socket(self, host="127.0.0.1"):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        s.bind((host, 0))
        return s

    def held(self, proc):
        """Stops proc until the test's burst is sent (see the docstring);
        the cleanup lets it go on, should the test fail before."""
        os.kill(proc.pid, signal.SIGSTOP)
        self.addCleanup(lambda: proc.poll() is None and
                        os.kill(proc.pid, signal.SIGCONT))
        return lambda: os.kill(proc.pid, signal.SIGCONT)

    def parse_stream(self, data):
        """[(seq, size)] of the self-describing datagrams in data; fails
        on any byte that does not belong to the datagram it sits in."""
        got, at = [], 0
        while at < len(data):
            seq, size = HEAD.unpack_from(data, at)
            self.assertGreaterEqual(size, HEAD.size, "cut at byte %d" % at)
            self.assertEqual(data[at:at + size], datagram(seq, size),
                             "datagram %d (%d bytes) at byte %d is not "
                             "intact" % (seq, size, at))
            got.append((seq, size))
            at += size
        return got


class BurstTest(BatchCase):

    def test_burst_arrives_whole_and_in_order(self):
        """Fails on the old code: its receive buffer was the kernel's
        default (208 KiB), so most of a 2 MiB burst was dropped."""
        proc, port = self.listener("-u", "-v", proto="udp")
        proc.err.wait_line(re.compile(rb"sockit: receive buffer "))
        go = self.held(proc)
        sender = self.udp_socket()
        sizes = burst_sizes()
        for seq, size in enumerate(sizes):
            sender.sendto(datagram(seq, size), ("127.0.0.1", port))
        go()
        want = [(seq, size) for seq, size in enumerate(sizes)
                if size >= HEAD.size]
        total = sum(size for _, size in want)
        data = proc.out.read_exact(total)
        self.assertEqual(self.parse_stream(data), want)
        proc.out.assert_quiet()

    def test_stdout_pipe_grows(self):
        """Fails on the old code: the pipe kept its 64 KiB. The -v line
        comes once the relay has set its descriptors up."""
        proc, _ = self.listener("-u", "-v", proto="udp")
        proc.err.wait_line(re.compile(rb"sockit: receive buffer "))
        self.assertEqual(fcntl.fcntl(proc.popen.stdout.fileno(),
                                     F_GETPIPE_SZ), 1 << 20)


class BatchRulesTest(BatchCase):

    def test_deny_inside_a_batch(self):
        """Passes on the old code too (one datagram per read): guards the
        batch, where denied datagrams sit between allowed ones."""
        proc, port = self.listener("-u", "-v", "--deny", "127.0.0.2",
                                   proto="udp")
        bad, good = self.udp_socket("127.0.0.2"), self.udp_socket()
        go = self.held(proc)
        for i in range(40):
            (bad if i % 3 == 1 else good).sendto(b"line %d\n" % i,
                                                 ("127.0.0.1", port))
        go()
        want = b"".join(b"line %d\n" % i for i in range(40) if i % 3 != 1)
        self.assertEqual(proc.out.read_exact(len(want)), want)
        note = (b"sockit: dropped a datagram from 127.0.0.2:%d "
                b"(--allow/--deny)" % bad.getsockname()[1])
        for _ in range(13):
            proc.err.wait_line(note)
        proc.write(b"reply\n")
        self.assertEqual(udp_recv(good)[0], b"reply\n")
        udp_assert_quiet(bad)
        proc.out.assert_quiet()

    def test_keep_learns_every_peer_of_a_batch(self):
        """Passes on the old code too: guards the peers noted inside one
        batch, a 0-byte datagram's sender among them."""
        proc, port = self.listener("-u", "-k", proto="udp")
        peers = [self.udp_socket() for _ in range(6)]
        go = self.held(proc)
        peers[0].sendto(b"", ("127.0.0.1", port))
        for i, p in enumerate(peers[1:], 1):
            p.sendto(b"hi %d\n" % i, ("127.0.0.1", port))
        go()
        want = b"".join(b"hi %d\n" % i for i in range(1, 6))
        self.assertEqual(proc.out.read_exact(len(want)), want)
        proc.write(b"to all\n")
        for p in peers:
            self.assertEqual(udp_recv(p)[0], b"to all\n")
            udp_assert_quiet(p, 0.1)

    def test_listen_answers_the_last_sender_of_a_batch(self):
        """Passes on the old code too: -u -l without -k answers whoever
        spoke last, which inside a batch is its last datagram's sender."""
        proc, port = self.listener("-u", proto="udp")
        peers = [self.udp_socket() for _ in range(4)]
        go = self.held(proc)
        for i, p in enumerate(peers):
            p.sendto(b"hi %d\n" % i, ("127.0.0.1", port))
        go()
        want = b"".join(b"hi %d\n" % i for i in range(4))
        self.assertEqual(proc.out.read_exact(len(want)), want)
        proc.write(b"to the last\n")
        self.assertEqual(udp_recv(peers[-1])[0], b"to the last\n")
        for p in peers[:-1]:
            udp_assert_quiet(p, 0.1)


    def test_too_large_inside_a_batch(self):
        """Passes on the old code too: the datagrams before a too-large
        one in the same batch are written, then the error, exit 1."""
        d = tempfile.mkdtemp(prefix="sockit-batch-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", d]))
        path = os.path.join(d, "srv.sock")
        proc = self.spawn("-U", "-u", "-l", path)
        wait_path(path, proc)
        peer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(peer.close)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        go = self.held(proc)
        for data in (b"a\n", b"b\n", b"x" * 100000, b"c\n"):
            peer.sendto(data, path)
        go()
        self.assert_exit(proc, 1)
        self.assert_stderr(proc, b"sockit: received a datagram of 100000 "
                           b"bytes, over the limit of 65536 bytes")
        self.assertEqual(bytes(proc.out.transcript), b"a\nb\n")


class BufferTest(BatchCase):

    def test_verbose_names_the_receive_buffer(self):
        """Fails on the old code: no such line, and 208 KiB in the kernel."""
        proc, port = self.listener("-u", "-v", proto="udp")
        line = proc.err.wait_line(re.compile(rb"sockit: receive buffer "))
        want = 8 << 20 if may_force() else min(8 << 20, rmem_max())
        self.assertTrue(line.startswith(b"sockit: receive buffer %s" %
                                        size_text(want).encode()), line)
        rb = rcvbuf_of(port)
        if rb is not None:  # the kernel's own word, when ss is there
            self.assertEqual(rb, 2 * want)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to drop privilege")
    def test_without_privilege_rmem_max_caps_it(self):
        """Fails on the old code: no such line."""
        limit = rmem_max()
        if limit >= 8 << 20:
            self.skipTest("net.core.rmem_max allows 8 MiB to anyone")
        drop = ["setpriv", "--reuid=65534", "--regid=65534",
                "--clear-groups"]
        if subprocess.run(drop + ["test", "-x", sockit()]).returncode != 0:
            self.skipTest("user 65534 cannot run %s" % sockit())
        port = free_port(socktype=socket.SOCK_DGRAM)
        nobody = subprocess.Popen(
            drop + [sockit(), "-u", "-l", "-v", "127.0.0.1", str(port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, bufsize=0)
        self.addCleanup(nobody.wait)
        self.addCleanup(lambda: nobody.poll() is None and nobody.kill())
        self.addCleanup(nobody.stderr.close)
        err = LineReader(nobody.stderr, "sockit (nobody) stderr")
        line = err.wait_line(re.compile(rb"sockit: receive buffer "))
        self.assertEqual(line, b"sockit: receive buffer %s (the limit "
                         b"net.core.rmem_max is %s; root may go past it)" %
                         (size_text(limit).encode(),
                          size_text(limit).encode()))


class SendTest(BatchCase):
    """stdin to a datagram socket: one read is one datagram, at most
    65,507 bytes; a burst leaves as the same datagrams (sendmmsg). These
    pass on the old code too (it sent each read with sendto): they guard
    what makes a datagram once reads are batched."""

    def receive(self, peer, total):
        got = []
        while sum(map(len, got)) < total:
            got.append(udp_recv(peer)[0])
        return got

    def test_file_burst(self):
        peer = self.udp_socket()
        big_rcvbuf(peer)
        data = os.urandom(5 * MAX + 1000)
        with tempfile.TemporaryFile() as f:  # whole reads, not pipe-sized
            f.write(data)
            f.seek(0)
            self.spawn_io(["-u", "127.0.0.1", peer.getsockname()[1]],
                                 f, subprocess.DEVNULL)
        got = self.receive(peer, len(data))
        self.assertEqual([len(g) for g in got], [MAX] * 5 + [1000])
        self.assertEqual(b"".join(got), data)

    def test_full_pipe_burst(self):
        """A pipe holding 200,000 bytes before sockit reads: reads of
        65,507 bytes, the rest in the last one."""
        peer = self.udp_socket()
        big_rcvbuf(peer)
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        fcntl.fcntl(w, F_SETPIPE_SZ, 1 << 20)
        data = os.urandom(200000)
        self.assertEqual(os.write(w, data), len(data))
        os.close(w)
        self.spawn_io(["-u", "127.0.0.1", peer.getsockname()[1]],
                             r, subprocess.DEVNULL)
        got = self.receive(peer, len(data))
        self.assertEqual([len(g) for g in got],
                         [MAX] * 3 + [200000 - 3 * MAX])
        self.assertEqual(b"".join(got), data)


if __name__ == "__main__":
    unittest.main()
