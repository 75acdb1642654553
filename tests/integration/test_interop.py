#!/usr/bin/env python3
"""Interoperability of the sockit command with the real netcats.

Every test runs sockit against one independent peer, both ways (sockit
connects to the peer's listener, the peer connects to sockit's listener),
with data in both directions, byte-exact (random bytes, NUL, invalid
UTF-8, CR LF):

  peers       nc (netcat-openbsd), ncat (nmap), socat, Python's socket
  transports  TCP over 127.0.0.1 and ::1, UDP over 127.0.0.1 and ::1,
              Unix stream and Unix datagram sockets

A missing peer program fails its tests; nothing is skipped. Every wait is
bounded and every process, socket and temporary file is cleaned up.

    python3 tests/integration/test_interop.py [-v] [InteropTest.test_name]
"""

import hashlib
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (in_background, TIMEOUT, LineReader, Proc, binary,  # noqa: E402
                    start_listener, udp_recv)

STREAM_BYTES = 256 << 10  # each way: more than a pipe and a socket hold
DGRAMS = 5  # datagrams each way
DGRAM_BYTES = 1200


def sockit():
    return binary("sockit", subdir="")


def tool(name):
    """Path of a peer program: missing is a failure, never a skip."""
    path = shutil.which(name)
    if not path:
        raise AssertionError("%s is not installed: the interop tests need "
                             "nc (netcat-openbsd), ncat and socat" % name)
    return path


def payload(tag, n):
    """n bytes and a bit: a tag, the awkward bytes, then random bytes."""
    head = (b"<" + tag.encode() + b">\x00\xff\xfe\xc3\x28\xed\xa0\x80"
            b"\xf4\x90\x80\x80\r\n\x00\x1b[0m\n")
    return head + os.urandom(n)


def digest(data):
    return "%d bytes, sha256 %s" % (len(data),
                                    hashlib.sha256(data).hexdigest()[:16])


# ------------------------------------------------------------ transports

class Transport:
    """One kind of socket: how sockit and each peer address it."""

    def __init__(self, name, kind, host=None):
        self.name = name
        self.kind = kind  # "tcp", "udp", "unix" or "unixgram"
        self.host = host  # 127.0.0.1 or ::1; None for Unix sockets

    @property
    def stream(self):
        return self.kind in ("tcp", "unix")

    @property
    def unix(self):
        return self.kind.startswith("unix")

    @property
    def proto(self):
        """common.wait_listening's protocol name."""
        return "tcp" if self.kind == "tcp" else "udp"

    @property
    def v6(self):
        return self.host == "::1"

    def family(self):
        if self.unix:
            return socket.AF_UNIX
        return socket.AF_INET6 if self.v6 else socket.AF_INET

    def socktype(self):
        return socket.SOCK_STREAM if self.stream else socket.SOCK_DGRAM


TRANSPORTS = [
    Transport("tcp4", "tcp", "127.0.0.1"),
    Transport("tcp6", "tcp", "::1"),
    Transport("udp4", "udp", "127.0.0.1"),
    Transport("udp6", "udp", "::1"),
    Transport("unix", "unix"),
    Transport("unixgram", "unixgram"),
]


def sockit_argv(t, listen, where):
    """sockit's command line; where is a port or a Unix path. Streams use
    -N, so that the peer sees EOF when sockit's input ends."""
    argv = [sockit()]
    argv += ["-N"] if t.stream else ["-u"]
    if t.unix:
        return argv + ["-U"] + (["-l"] if listen else []) + [where]
    return argv + (["-l"] if listen else []) + [t.host, str(where)]


def nc_argv(t, listen, where, tmp):
    argv = [tool("nc")]
    argv += ["-N"] if t.stream else ["-u"]
    if t.unix:
        return argv + ["-U"] + (["-l"] if listen else []) + [where]
    argv += ["-6"] if t.v6 else ["-4"]
    return argv + (["-l"] if listen else []) + [t.host, str(where)]


def ncat_argv(t, listen, where, tmp):
    argv = [tool("ncat")]
    if not t.stream:
        argv += ["--udp"]
    if t.unix:
        return argv + ["-U"] + (["-l"] if listen else []) + [where]
    argv += ["-6"] if t.v6 else ["-4"]
    return argv + (["-l"] if listen else []) + [t.host, str(where)]


def socat_argv(t, listen, where, tmp):
    """socat STDIO <address>. Its datagram listeners "connect" to the first
    peer (UDP-LISTEN) or answer the sender of one packet (UNIX-RECVFROM,
    which then waits -t seconds for the answer)."""
    host = "[::1]" if t.v6 else t.host
    v = "6" if t.v6 else "4"
    if listen:
        address = {
            "tcp": "TCP%s-LISTEN:%s,bind=%s,reuseaddr" % (v, where, host),
            "udp": "UDP%s-LISTEN:%s,bind=%s" % (v, where, host),
            "unix": "UNIX-LISTEN:%s" % where,
            "unixgram": "UNIX-RECVFROM:%s" % where,
        }[t.kind]
    else:
        address = {
            "tcp": "TCP%s:%s:%s" % (v, host, where),
            "udp": "UDP%s:%s:%s" % (v, host, where),
            "unix": "UNIX-CONNECT:%s" % where,
            "unixgram": "UNIX-SENDTO:%s,bind=%s" % (
                where, os.path.join(tmp, "socat-client.sock")),
        }[t.kind]
    timeout = ["-t", str(2 * TIMEOUT)] if t.kind == "unixgram" else []
    return [tool("socat")] + timeout + ["STDIO", address]


PEER_ARGV = {"nc": nc_argv, "ncat": ncat_argv, "socat": socat_argv}


def unix_listening(path, stream):
    """True when a Unix socket is bound to path and, for streams, listens
    (read from /proc/net/unix, without connecting)."""
    with open("/proc/net/unix") as f:
        for row in f.read().splitlines()[1:]:
            fields = row.split(None, 7)
            if len(fields) < 8 or fields[7] != path:
                continue
            if not stream or int(fields[3], 16) & 0x10000:  # __SO_ACCEPTCON
                return True
    return False


# ------------------------------------------------------------ endpoints

class ProcEnd:
    """A program (sockit, nc, ncat, socat) talked to through its stdio."""

    def __init__(self, proc):
        self.proc = proc
        self.out = proc.out

    def send(self, data):
        self.proc.write(data)

    def close_input(self):
        self.proc.close_stdin()

    def describe(self):
        return self.proc.describe()


class SockEnd:
    """A Python socket peer. For datagrams, `to` is where replies go: the
    connected peer, or whoever spoke first to a listener."""

    def __init__(self, sock, name, learn=False):
        self.sock = sock
        self.to = None
        self.learn = learn  # a listener: answer whoever spoke first
        self.out = LineReader(sock, name)

    def send(self, data):
        if self.sock.type == socket.SOCK_STREAM:
            self.sock.sendall(data)
        elif self.to is None:  # connected
            self.assertEqual_len(self.sock.send(data), data)
        else:
            self.assertEqual_len(self.sock.sendto(data, self.to), data)

    @staticmethod
    def assertEqual_len(n, data):
        if n != len(data):
            raise AssertionError("sent %d of %d bytes" % (n, len(data)))

    def recv_dgram(self):
        data, addr = udp_recv(self.sock, TIMEOUT, 1 << 17)
        if self.learn:
            self.to = addr
            self.learn = False
        return data

    def close_input(self):
        self.sock.shutdown(socket.SHUT_WR)

    def describe(self):
        return ""


# ------------------------------------------------------------ the tests

class InteropTest(unittest.TestCase):
    """Tests are generated below: test_<transport>_<who listens>_<peer>."""

    maxDiff = 1000

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sockit-interop-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    # -- starting things

    def start(self, argv):
        proc = Proc(argv)
        self.addCleanup(proc.stop)
        return proc

    def start_listening(self, t, argv_for):
        """Starts argv_for(port or path) and waits until it listens."""
        if t.unix:
            path = os.path.join(self.tmp, "listen.sock")
            proc = self.start(argv_for(path))
            deadline = time.monotonic() + TIMEOUT
            while not unix_listening(path, t.stream):
                if proc.poll() is not None or time.monotonic() > deadline:
                    self.fail("no Unix socket at %s%s" %
                              (path, proc.describe()))
                time.sleep(0.01)
            return proc, path
        return start_listener(argv_for, t.proto, t.host,
                              on_start=lambda p: self.addCleanup(p.stop))

    def py_socket(self, t):
        sock = socket.socket(t.family(), t.socktype())
        self.addCleanup(sock.close)
        sock.settimeout(TIMEOUT)
        return sock

    def py_listener(self, t):
        """(socket, port or path) of a Python listener, bound already."""
        sock = self.py_socket(t)
        if t.unix:
            where = os.path.join(self.tmp, "py-listen.sock")
            sock.bind(where)
        else:
            sock.bind((t.host, 0))
            where = sock.getsockname()[1]
        if t.stream:
            sock.listen(4)
        return sock, where

    def py_accept(self, t, sock):
        if not t.stream:
            return SockEnd(sock, "python", learn=True)
        try:
            conn, _ = sock.accept()
        except socket.timeout:
            self.fail("sockit did not connect within %.1fs" % TIMEOUT)
        self.addCleanup(conn.close)
        conn.settimeout(TIMEOUT)
        return SockEnd(conn, "python")

    def py_connect(self, t, where):
        sock = self.py_socket(t)
        if t.unix and not t.stream:
            sock.bind(os.path.join(self.tmp, "py-client.sock"))
        addr = where if t.unix else (t.host, where)
        sock.connect(addr)
        return SockEnd(sock, "python")

    def in_background(self, fn, *args):
        return in_background(self, fn, *args)

    # -- the two set-ups

    def sockit_connects(self, t, peer):
        """sockit as the client of the peer's listener."""
        if peer == "python":
            sock, where = self.py_listener(t)
            sk = self.start(sockit_argv(t, False, where))
            return ProcEnd(sk), lambda: self.py_accept(t, sock)
        proc, where = self.start_listening(
            t, lambda w: PEER_ARGV[peer](t, True, w, self.tmp))
        sk = self.start(sockit_argv(t, False, where))
        return ProcEnd(sk), lambda: ProcEnd(proc)

    def peer_connects(self, t, peer):
        """The peer as the client of sockit's listener."""
        sk, where = self.start_listening(
            t, lambda w: sockit_argv(t, True, w))
        if peer == "python":
            return ProcEnd(sk), lambda: self.py_connect(t, where)
        proc = self.start(PEER_ARGV[peer](t, False, where, self.tmp))
        return ProcEnd(sk), lambda: ProcEnd(proc)

    # -- the exchanges

    def expect(self, end, want, what):
        """Reads len(want) bytes from end and compares them exactly."""
        got = end.out.read_exact(len(want), 2 * TIMEOUT)
        if got != want:
            self.fail("%s: got %s, want %s%s" % (what, digest(got),
                                                 digest(want),
                                                 end.describe()))

    def stream_exchange(self, sk, get_peer, peer_name, sockit_listens):
        """Both directions at once, then the half-close: sockit's -N lets
        the peer see EOF while the peer may still send (a tail, which
        sockit must still print); the peer's EOF then ends sockit, exit 0.

        The peers' own quirks: the nc, ncat and socat listeners serve one
        client and exit at its EOF; socat also exits 0.5 s after one EOF;
        nc's client never closes its stdout before it exits."""
        peer = get_peer()
        peer_client = sockit_listens
        eof_visible = not (peer_name == "nc" and peer_client)
        talks_after_eof = peer_name == "python" or (
            peer_client and peer_name in ("nc", "ncat"))
        to_peer = payload("from sockit", STREAM_BYTES)
        to_sockit = payload("from the peer", STREAM_BYTES)
        tail = b"\x00after sockit's EOF\xff\n" if talks_after_eof else b""
        join_a = self.in_background(sk.send, to_peer)
        join_b = self.in_background(peer.send, to_sockit)
        self.expect(peer, to_peer, "sockit -> peer")
        self.expect(sk, to_sockit, "peer -> sockit")
        join_a()
        join_b()
        sk.close_input()
        if eof_visible:
            self.assertEqual(peer.out.wait_eof(), b"",
                             "the peer saw no EOF after sockit -N's input "
                             "ended%s%s" % (sk.describe(), peer.describe()))
        if tail:
            peer.send(tail)
            self.expect(sk, tail, "peer -> sockit after sockit's EOF")
        peer.close_input()
        rc = sk.proc.wait_exit()
        self.assertEqual(rc, 0, "sockit's exit status%s" % sk.describe())
        self.assertEqual(bytes(sk.out.transcript), to_sockit + tail,
                         "sockit's whole stdout")
        self.assertEqual(bytes(sk.proc.err.transcript), b"")
        if isinstance(peer, ProcEnd):
            rc = peer.proc.wait_exit()
            self.assertEqual(rc, 0, "the peer's exit status%s" %
                             peer.describe())
            self.assertEqual(bytes(peer.out.transcript), to_peer,
                             "the peer's whole stdout")
        else:
            self.assertEqual(peer.out.wait_eof(), b"")
            self.assertEqual(bytes(peer.out.transcript), to_peer)

    def dgram_exchange(self, sk, get_peer, sockit_first, peer_reads_one):
        """Datagrams both ways, each waited for (loopback does not lose
        them, but a full socket buffer would). The side that speaks first
        tells the other where to answer."""
        chunks_sk = [payload("sockit %d" % i, DGRAM_BYTES)
                     for i in range(1 if peer_reads_one else DGRAMS)]
        chunks_peer = [payload("peer %d" % i, DGRAM_BYTES)
                       for i in range(DGRAMS)]
        peer = None
        if sockit_first:
            sk.send(chunks_sk[0])
            peer = get_peer()
            self.expect_dgram(peer, chunks_sk[0], "sockit -> peer")
            chunks_sk = chunks_sk[1:]
        else:
            peer = get_peer()
            peer.send(chunks_peer[0])
            self.expect(sk, chunks_peer[0], "peer -> sockit")
            chunks_peer = chunks_peer[1:]
        for i in range(max(len(chunks_sk), len(chunks_peer))):
            if i < len(chunks_peer):
                peer.send(chunks_peer[i])
                self.expect(sk, chunks_peer[i], "peer -> sockit")
            if i < len(chunks_sk):
                sk.send(chunks_sk[i])
                self.expect_dgram(peer, chunks_sk[i], "sockit -> peer")
        # Datagrams have no EOF: sockit runs until it is told to stop.
        sk.proc.popen.send_signal(signal.SIGTERM)
        rc = sk.proc.wait_exit()
        self.assertEqual(rc, 143, "exit status after SIGTERM%s" %
                         sk.describe())
        self.assertEqual(sk.proc.err.transcript, b"")

    def expect_dgram(self, peer, want, what):
        if isinstance(peer, SockEnd):
            got = peer.recv_dgram()
            self.assertEqual(got, want, "%s: one datagram, as sent" % what)
        else:
            self.expect(peer, want, what)

    def run_case(self, t, peer, sockit_listens):
        if sockit_listens:
            sk, get_peer = self.peer_connects(t, peer)
        else:
            sk, get_peer = self.sockit_connects(t, peer)
        if t.stream:
            self.stream_exchange(sk, get_peer, peer, sockit_listens)
        else:
            # socat UNIX-RECVFROM takes one packet, then only answers.
            one = peer == "socat" and t.kind == "unixgram" and \
                not sockit_listens
            self.dgram_exchange(sk, get_peer, not sockit_listens, one)


def _make_test(t, peer, sockit_listens):
    def test(self):
        self.run_case(t, peer, sockit_listens)
    test.__doc__ = "%s: %s" % (t.name, "%s connects to sockit -l" % peer
                               if sockit_listens else
                               "sockit connects to %s listening" % peer)
    return test


for _t in TRANSPORTS:
    for _peer in ("nc", "ncat", "socat", "python"):
        for _listens in (False, True):
            _name = "test_%s_%s_%s" % (
                _t.name, "sockit_listens" if _listens else "sockit_connects",
                _peer)
            setattr(InteropTest, _name, _make_test(_t, _peer, _listens))


class ToolsTest(unittest.TestCase):
    """The peers are the programs whose quirks the tests know."""

    def version(self, *argv):
        proc = Proc(argv)
        self.addCleanup(proc.stop)
        proc.close_stdin()
        proc.wait_exit()
        return bytes(proc.out.transcript + proc.err.transcript)

    def test_peers_installed(self):
        self.assertIn(b"OpenBSD netcat", self.version(tool("nc"), "-h"))
        self.assertRegex(self.version(tool("ncat"), "--version"),
                         rb"Ncat: Version 7\.")
        self.assertRegex(self.version(tool("socat"), "-V"),
                         rb"socat version 1\.7\.")


if __name__ == "__main__":
    unittest.main()
