#!/usr/bin/env python3
"""Integration tests for port forwarding, `sockit -l PORT --to ADDR`
(issue 10, "Features on it" 2; the spec is /work/wt/briefs/features.md,
"Port forwarding"). Written before the feature; each test proves one
promise against real programs:

  - a real HTTP server (python3 -m http.server) and curl through the
    forwarder: the file arrives byte for byte, request after request;
  - 256 MiB byte-exact each way (sha256 at the far end), bounded in time;
  - 500 concurrent clients, each echoed its own payload by a Python echo
    server through one forwarder;
  - half-close carried through both ways (a FIN becomes a FIN, the other
    direction keeps flowing);
  - a failed outbound connect closes only that client, with one -v line
    naming the target; other clients keep working; -w bounds the
    outbound connect;
  - Unix listen side (-l -U PATH --to host:port) and Unix connect side
    (--to unix:PATH, unix:@abstract); IPv6 on either side; -4/-6;
  - -m, --allow, --deny on the listen side;
  - UDP sessions: one outbound socket per client address, replies to the
    right client, a session idle for -i closed (a new source port after);
  - stdin is not used (EOF changes nothing); SIGTERM: exit 143;
  - conflicts: exit 2 with one line.

Only 127.0.0.1, ::1 and Unix sockets. Every wait is bounded.

    python3 tests/integration/test_forward.py [-v] [TestClass[.test_name]]
"""

import hashlib
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (TIMEOUT, TIMEOUT_SCALE, CliCase, LineReader,  # noqa: E402
                    _proc_net_sockets, is_listening, recv_all,
                    refusing_port, sockit, start_listener, udp_recv,
                    unix_listening, wait_for)

BIG = 256 << 20
BIG_SECONDS = 60 * TIMEOUT_SCALE
CHUNK = 1 << 20
MANY = 500


def big_chunks(seed):
    """BIG bytes as CHUNK-sized pieces: a random block, each piece stamped
    with its index so that a lost or repeated piece changes the hash."""
    block = os.urandom(CHUNK)
    for i in range(BIG // CHUNK):
        yield struct.pack("!QQ", seed, i) + block[16:]


class EchoServer:
    """A Python echo server (one thread, selectors) on TCP or a Unix path.
    Echoes what it reads; on a client's EOF shuts down its own sending
    side after echoing everything. `accepted` counts connections."""

    def __init__(self, family=socket.AF_INET, address=("127.0.0.1", 0)):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(address)
        self.sock.listen(1024)
        self.sock.setblocking(False)
        self.address = self.sock.getsockname()
        self.port = self.address[1] if family != socket.AF_UNIX else None
        self.accepted = 0
        self.peers = []
        self.stop_r, self.stop_w = socket.socketpair()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, None)
        sel.register(self.stop_r, selectors.EVENT_READ, "stop")
        pending = {}
        while True:
            for key, _ in sel.select(1.0):
                if key.data == "stop":
                    for c in list(pending):
                        c.close()
                    sel.close()
                    self.sock.close()
                    return
                if key.data is None:
                    try:
                        c, addr = self.sock.accept()
                    except OSError:
                        continue
                    self.accepted += 1
                    self.peers.append(addr)
                    c.setblocking(True)
                    c.settimeout(TIMEOUT)
                    pending[c] = True
                    sel.register(c, selectors.EVENT_READ, "conn")
                    continue
                c = key.fileobj
                try:
                    data = c.recv(65536)
                    if data:
                        c.sendall(data)
                        continue
                    c.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                sel.unregister(c)
                pending.pop(c, None)
                c.close()

    def close(self):
        try:
            self.stop_w.send(b"x")
        except OSError:
            pass
        self.thread.join(TIMEOUT)
        self.stop_w.close()
        self.stop_r.close()


class ForwardCase(CliCase):

    def echo_server(self, **kw):
        srv = EchoServer(**kw)
        self.addCleanup(srv.close)
        return srv

    def forwarder(self, target, *flags, host="127.0.0.1"):
        """(proc, port): `sockit -l FLAGS --to TARGET host port`."""
        return start_listener(
            lambda port: [sockit(), "-l", *flags, "--to", target, host, port],
            "tcp", host, on_start=lambda p: self.addCleanup(p.stop))

    def unix_path(self, name="fwd.sock"):
        return os.path.join(self.tmpdir(), name)

    def assert_echo(self, sock, payload):
        sock.sendall(payload)
        reader = LineReader(sock, "client")
        self.assertEqual(reader.read_exact(len(payload)), payload)

    def assert_closed(self, sock, what="the client"):
        """sock sees EOF or a reset within TIMEOUT, nothing else."""
        reader = LineReader(sock, what)
        self.assertEqual(reader.wait_eof(), b"", "%s got data" % what)

    def assert_alive(self, proc):
        self.assertIsNone(proc.poll(), "the forwarder ended" +
                          proc.describe())


class HttpTest(ForwardCase):
    """curl through the forwarder to python3 -m http.server."""

    def test_curl_file_byte_exact(self):
        self.assertTrue(shutil.which("curl"), "curl is not installed "
                        "(scripts/install-deps test)")
        root = self.tmpdir()
        data = os.urandom(3 << 20) + b"tail"
        with open(os.path.join(root, "blob.bin"), "wb") as f:
            f.write(data)
        web, wport = start_listener(
            lambda p: [sys.executable, "-m", "http.server", "--bind",
                       "127.0.0.1", p, "--directory", root],
            on_start=lambda p: self.addCleanup(p.stop))
        fwd, port = self.forwarder("127.0.0.1:%d" % wport)
        for i in range(3):
            out = os.path.join(root, "got%d" % i)
            r = subprocess.run(
                ["curl", "-sS", "--max-time", str(TIMEOUT * 2), "-o", out,
                 "http://127.0.0.1:%d/blob.bin" % port],
                capture_output=True, timeout=TIMEOUT * 3)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out, "rb") as f:
                self.assertTrue(f.read() == data, "request %d differs" % i)
        self.assert_alive(fwd)


class BigTransferTest(ForwardCase):
    """256 MiB each way, hashed at the far end."""

    def test_client_to_target(self):
        srv, sport = self.server()
        fwd, port = self.forwarder("127.0.0.1:%d" % sport)
        client = self.connect(port)
        client.settimeout(BIG_SECONDS)
        target = self.accept(srv)
        target.settimeout(BIG_SECONDS)
        result = {}

        def sink():
            h, n = hashlib.sha256(), 0
            while True:
                d = target.recv(1 << 20)
                if not d:
                    break
                h.update(d)
                n += len(d)
            result["n"], result["sha"] = n, h.hexdigest()
            target.sendall(h.hexdigest().encode())  # after EOF: half-close
            target.close()
        join = self.in_background(sink)
        want = hashlib.sha256()
        for chunk in big_chunks(1):
            want.update(chunk)
            client.sendall(chunk)
        client.shutdown(socket.SHUT_WR)
        join(BIG_SECONDS)
        self.assertEqual(result["n"], BIG)
        self.assertEqual(result["sha"], want.hexdigest())
        self.assertEqual(recv_all(client, BIG_SECONDS),
                         want.hexdigest().encode())
        self.assert_alive(fwd)

    def test_target_to_client(self):
        srv, sport = self.server()
        fwd, port = self.forwarder("127.0.0.1:%d" % sport)
        client = self.connect(port)
        client.settimeout(BIG_SECONDS)
        target = self.accept(srv)
        target.settimeout(BIG_SECONDS)
        want = {}

        def source():
            h = hashlib.sha256()
            for chunk in big_chunks(2):
                h.update(chunk)
                target.sendall(chunk)
            want["sha"] = h.hexdigest()
            target.shutdown(socket.SHUT_WR)
        join = self.in_background(source)
        h, n = hashlib.sha256(), 0
        while True:
            d = client.recv(1 << 20)
            if not d:
                break
            h.update(d)
            n += len(d)
        join(BIG_SECONDS)
        self.assertEqual(n, BIG)
        self.assertEqual(h.hexdigest(), want["sha"])
        self.assert_alive(fwd)


class ManyClientsTest(ForwardCase):
    """MANY clients at once through one forwarder, each its own payload."""

    def test_500_concurrent_echo(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = 3 * MANY + 64
        if soft < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, need * 2),
                                                        hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE,
                            (soft, hard))
        echo = self.echo_server()
        fwd, port = self.forwarder("127.0.0.1:%d" % echo.port)
        clients = []
        for i in range(MANY):  # every connection open before any data
            c = socket.create_connection(("127.0.0.1", port), TIMEOUT)
            self.addCleanup(c.close)
            clients.append(c)
        payload = {c: (b"client %04d " % i) * 40 + os.urandom(64)
                   for i, c in enumerate(clients)}
        got = {c: bytearray() for c in clients}
        sel = selectors.DefaultSelector()
        self.addCleanup(sel.close)
        for c in clients:
            c.sendall(payload[c])
            c.setblocking(False)
            sel.register(c, selectors.EVENT_READ)
        left = set(clients)
        deadline = time.monotonic() + 4 * TIMEOUT
        while left and time.monotonic() < deadline:
            for key, _ in sel.select(0.2):
                c = key.fileobj
                try:
                    d = c.recv(65536)
                except BlockingIOError:
                    continue
                self.assertTrue(d, "a client was closed before its echo")
                got[c] += d
                if len(got[c]) >= len(payload[c]):
                    sel.unregister(c)
                    left.discard(c)
        self.assertFalse(left, "%d of %d clients had no full echo" %
                         (len(left), MANY))
        for c in clients:
            self.assertEqual(bytes(got[c]), payload[c])
        self.assertEqual(echo.accepted, MANY)
        self.assert_alive(fwd)


class HalfCloseTest(ForwardCase):
    """A FIN is carried through; the other direction keeps flowing."""

    def test_client_fin_then_target_answers(self):
        srv, sport = self.server()
        fwd, port = self.forwarder("127.0.0.1:%d" % sport)
        client = self.connect(port)
        target = self.accept(srv)
        client.sendall(b"request")
        client.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_all(target), b"request")  # EOF at the target
        target.sendall(b"reply after your EOF")
        target.close()
        self.assertEqual(recv_all(client), b"reply after your EOF")
        self.assert_alive(fwd)

    def test_target_fin_then_client_still_sends(self):
        srv, sport = self.server()
        fwd, port = self.forwarder("127.0.0.1:%d" % sport)
        client = self.connect(port)
        target = self.accept(srv)
        target.sendall(b"banner")
        target.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_all(client), b"banner")  # EOF at the client
        client.sendall(b"late words")
        client.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_all(target), b"late words")
        self.assert_alive(fwd)


class OutboundFailureTest(ForwardCase):
    """A target that refuses closes only the client that wanted it."""

    def test_refused_closes_only_that_client(self):
        srv, sport = self.server()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        fwd, port = self.forwarder("127.0.0.1:%d" % sport, "-v")
        first = self.connect(port)
        t1 = self.accept(srv)
        srv.close()  # the target is gone: connects to it are refused
        second = self.connect(port)
        self.assert_closed(second, "the client of a refused target")
        line = fwd.err.wait_line(re.compile(
            rb"connect 127\.0\.0\.1:%d: Connection refused" % sport))
        self.assertRegex(line, rb"^sockit: 127\.0\.0\.1 %d: connect "
                         rb"127\.0\.0\.1:%d: Connection refused$" %
                         (second.getsockname()[1], sport))
        # the first client still works both ways
        first.sendall(b"still here")
        self.assertEqual(LineReader(t1).read_exact(10), b"still here")
        t1.sendall(b"yes")
        self.assertEqual(LineReader(first).read_exact(3), b"yes")
        # the target is back: a new client works
        srv2 = socket.socket()
        self.addCleanup(srv2.close)
        srv2.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv2.bind(("127.0.0.1", sport))
        srv2.listen(8)
        srv2.settimeout(TIMEOUT)
        third = self.connect(port)
        t3 = self.accept(srv2)
        third.sendall(b"again")
        self.assertEqual(LineReader(t3).read_exact(5), b"again")
        self.assert_alive(fwd)
        refused = [l for l in fwd.err.all_lines() if b"refused" in l]
        self.assertEqual(len(refused), 1, fwd.describe())

    def test_refused_is_quiet_without_v(self):
        s, rport = refusing_port()
        self.addCleanup(s.close)
        fwd, port = self.forwarder("127.0.0.1:%d" % rport)
        c = self.connect(port)
        self.assert_closed(c)
        self.assert_alive(fwd)
        fwd.err.assert_quiet()

    def test_connect_timeout_w(self):
        target = self.full_backlog()
        fwd, port = self.forwarder("127.0.0.1:%d" % target, "-w", "1")
        c = self.connect(port)
        LineReader(c, "client").wait_eof(timeout=TIMEOUT + 1)
        self.assert_alive(fwd)


class UnixSidesTest(ForwardCase):
    """Any listen side to any connect side: Unix on either."""

    def test_unix_listen_side(self):
        echo = self.echo_server()
        path = self.unix_path()
        fwd = self.spawn("-l", "-U", "--to", "127.0.0.1:%d" % echo.port, path)
        wait_for(lambda: unix_listening(path) or fwd.poll() is not None,
                 "the forwarder to listen on %s" % path)
        self.assert_alive(fwd)
        for word in (b"one", b"two"):
            c = self.unix_connect(path)
            self.assert_echo(c, word)
            c.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_all(c), b"")
        self.assert_alive(fwd)

    def test_unix_connect_side(self):
        path = self.unix_path("target.sock")
        self.echo_server(family=socket.AF_UNIX, address=path)
        fwd, port = self.forwarder("unix:" + path)
        c = self.connect(port)
        self.assert_echo(c, b"to a unix target")
        c.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_all(c), b"")
        self.assert_alive(fwd)

    def test_unix_abstract_connect_side(self):
        name = "sockit-test-fwd-%d" % os.getpid()
        self.echo_server(family=socket.AF_UNIX, address="\0" + name)
        fwd, port = self.forwarder("unix:@" + name)
        c = self.connect(port)
        self.assert_echo(c, b"abstract")
        self.assert_alive(fwd)


class FamilyTest(ForwardCase):
    """IPv6 on either side; -4/-6 choose the listen side's family."""

    def test_ipv6_listen_ipv4_target(self):
        echo = self.echo_server()
        fwd, port = self.forwarder("127.0.0.1:%d" % echo.port, "-6",
                                   host="::1")
        self.assert_echo(self.connect(port, host="::1"), b"v6 to v4")

    def test_ipv4_listen_ipv6_target(self):
        echo = self.echo_server(family=socket.AF_INET6, address=("::1", 0))
        fwd, port = self.forwarder("[::1]:%d" % echo.port)
        self.assert_echo(self.connect(port), b"v4 to v6")

    def test_dash_4_listens_ipv4_only(self):
        echo = self.echo_server()
        fwd, port = start_listener(
            lambda p: [sockit(), "-4", "-l", "--to",
                       "127.0.0.1:%d" % echo.port, p],
            on_start=lambda p: self.addCleanup(p.stop))
        self.assert_echo(self.connect(port), b"v4")
        with self.assertRaises(OSError):
            socket.create_connection(("::1", port), TIMEOUT).close()

    def test_dash_6_listens_ipv6_only(self):
        echo = self.echo_server()
        fwd, port = start_listener(
            lambda p: [sockit(), "-6", "-l", "--to",
                       "127.0.0.1:%d" % echo.port, p],
            host="::1", on_start=lambda p: self.addCleanup(p.stop))
        self.assert_echo(self.connect(port, host="::1"), b"v6")
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), TIMEOUT).close()


class AccessTest(ForwardCase):
    """-m, --allow and --deny apply to the listen side."""

    def test_max_clients(self):
        echo = self.echo_server()
        fwd, port = self.forwarder("127.0.0.1:%d" % echo.port, "-m", "2")
        a, b = self.connect(port), self.connect(port)
        self.assert_echo(a, b"a")
        self.assert_echo(b, b"b")
        over = self.connect(port)
        try:
            over.sendall(b"over the limit")
        except OSError:
            pass
        self.assert_closed(over, "the client over -m")
        self.assertEqual(echo.accepted, 2, "a third outbound connection")
        self.assert_echo(a, b"a still works")
        a.close()  # a place frees up: a new client is served

        def served():
            c = socket.create_connection(("127.0.0.1", port), TIMEOUT)
            self.addCleanup(c.close)
            c.sendall(b"x")
            c.settimeout(TIMEOUT)
            try:
                return c.recv(1) == b"x"
            except OSError:
                return False
        wait_for(served, "a client to be served once one left")
        self.assert_alive(fwd)

    def client_from(self, source, port):
        c = socket.socket()
        self.addCleanup(c.close)
        c.settimeout(TIMEOUT)
        c.bind((source, 0))
        c.connect(("127.0.0.1", port))
        return c

    def test_allow(self):
        echo = self.echo_server()
        fwd, port = self.forwarder("127.0.0.1:%d" % echo.port,
                                   "--allow", "127.0.0.2")
        self.assert_closed(self.client_from("127.0.0.1", port))
        self.assertEqual(echo.accepted, 0)
        self.assert_echo(self.client_from("127.0.0.2", port), b"allowed")
        self.assertEqual(echo.accepted, 1)

    def test_deny(self):
        echo = self.echo_server()
        fwd, port = self.forwarder("127.0.0.1:%d" % echo.port,
                                   "--deny", "127.0.0.3")
        self.assert_closed(self.client_from("127.0.0.3", port))
        self.assertEqual(echo.accepted, 0)
        self.assert_echo(self.client_from("127.0.0.1", port), b"not denied")


class UdpTest(ForwardCase):
    """-u -l P --to T: one session (outbound socket) per client address."""

    def udp_target(self):
        """A UDP target answering 'REPLY <data> <source port>'."""
        t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(t.close)
        t.bind(("127.0.0.1", 0))
        stop = threading.Event()

        def run():
            t.settimeout(0.1)
            while not stop.is_set():
                try:
                    data, addr = t.recvfrom(65536)
                except (socket.timeout, OSError):
                    continue
                t.sendto(b"REPLY %s %d" % (data, addr[1]), addr)
        th = threading.Thread(target=run, daemon=True)
        th.start()
        self.addCleanup(th.join, TIMEOUT)
        self.addCleanup(stop.set)
        return t.getsockname()[1]

    def udp_forwarder(self, tport, *flags):
        return start_listener(
            lambda p: [sockit(), "-u", "-l", *flags, "--to",
                       "127.0.0.1:%d" % tport, "127.0.0.1", p],
            "udp", on_start=lambda p: self.addCleanup(p.stop))

    def ask(self, sock, port, data):
        sock.sendto(data, ("127.0.0.1", port))
        reply, _ = udp_recv(sock)
        m = re.fullmatch(rb"REPLY (.*) (\d+)", reply, re.S)
        self.assertTrue(m, reply)
        self.assertEqual(m.group(1), data)
        return int(m.group(2))

    def test_two_clients_own_sessions(self):
        tport = self.udp_target()
        fwd, port = self.udp_forwarder(tport)
        a, b = self.udp_socket(), self.udp_socket()
        pa = self.ask(a, port, b"from a")
        pb = self.ask(b, port, b"from b")
        self.assertNotEqual(pa, pb, "two clients shared one session")
        self.assertEqual(self.ask(a, port, b"a again"), pa)
        self.assertEqual(self.ask(b, port, b"b again"), pb)
        self.assert_alive(fwd)

    def test_idle_session_closed(self):
        tport = self.udp_target()
        idle = max(1, int(TIMEOUT_SCALE))
        fwd, port = self.udp_forwarder(tport, "-i", str(idle))
        a = self.udp_socket()
        first = self.ask(a, port, b"one")
        self.assertEqual(self.ask(a, port, b"two"), first)
        # the session's own socket (bound to `first`, connected) goes away
        wait_for(lambda: not _proc_net_sockets("udp", first),
                 "the idle session's socket to close", timeout=idle * 5 + 5)
        self.assertNotEqual(self.ask(a, port, b"three"), first,
                            "no new session after the idle timeout")
        self.assert_alive(fwd)


class LifeTest(ForwardCase):
    """Stdin is not the forwarder's; SIGTERM ends it with 143."""

    def test_stdin_eof_changes_nothing(self):
        echo = self.echo_server()
        fwd, port = self.forwarder("127.0.0.1:%d" % echo.port)
        fwd.close_stdin()
        self.assert_echo(self.connect(port), b"after stdin EOF")
        fwd.out.assert_quiet()
        self.assert_alive(fwd)

    def test_keep_open_may_be_given_too(self):
        echo = self.echo_server()
        fwd, port = self.forwarder("127.0.0.1:%d" % echo.port, "-k")
        self.assert_echo(self.connect(port), b"one")
        self.assert_echo(self.connect(port), b"two")
        self.assert_alive(fwd)

    def test_idle_timeout_closes_only_the_idle_connection(self):
        srv, sport = self.server()
        idle = max(1, int(TIMEOUT_SCALE))
        fwd, port = self.forwarder("127.0.0.1:%d" % sport, "-i", str(idle))
        quiet = self.connect(port)
        tq = self.accept(srv)
        LineReader(quiet, "idle client").wait_eof(timeout=idle + TIMEOUT)
        LineReader(tq, "its target side").wait_eof(timeout=TIMEOUT)
        busy = self.connect(port)
        tb = self.accept(srv)
        self.assert_alive(fwd)
        busy.sendall(b"x")
        self.assertEqual(LineReader(tb).read_exact(1), b"x")

    def test_sigterm_exits_143(self):
        echo = self.echo_server()
        fwd, port = self.forwarder("127.0.0.1:%d" % echo.port)
        c = self.connect(port)
        self.assert_echo(c, b"x")
        fwd.popen.send_signal(signal.SIGTERM)
        self.assert_exit(fwd, 143)
        self.assertFalse(is_listening(port))


class ConflictTest(ForwardCase):
    """--to where it cannot apply: exit 2, one line naming it."""

    def assert_usage(self, args, word):
        rc, out, err = self.run_sockit(*args)
        self.assertEqual(rc, 2, "exit status; stderr %r" % err)
        self.assertEqual(err.count(b"\n"), 1, "one line: %r" % err)
        self.assertRegex(err, rb"^sockit: ")
        self.assertRegex(err, word)

    def test_conflicts(self):
        to = ["--to", "127.0.0.1:80"]
        cases = [
            (to + ["127.0.0.1", "2333"], rb"-l|listen"),
            (to + ["-z", "127.0.0.1", "2333"], rb"-z|scan"),
            (to + ["--chat", "-l", "2333"], rb"chat"),
            (to + ["--broker", "-l", "2333"], rb"broker"),
            (to + ["-e", "/bin/cat", "-l", "2333"], rb"-e|exec"),
            (to + ["-c", "cat", "-l", "2333"], rb"-c|exec"),
            (to + ["--send-only", "-l", "2333"], rb"send-only"),
            (to + ["--recv-only", "-l", "2333"], rb"recv-only"),
        ]
        for args, word in cases:
            with self.subTest(args=" ".join(args)):
                self.assert_usage(args, word)
                self.assert_usage(args, rb"--to")

    def test_stdin_options_refused(self):
        """-C, -q and --progress speak of standard input and one relay:
        with --to or exec they would be ignored, so they are refused."""
        cases = [
            (["-C", "-l", "--to", "127.0.0.1:80", "2333"], rb"-C.*--to"),
            (["-q", "1", "-l", "--to", "127.0.0.1:80", "2333"], rb"-q.*--to"),
            (["--progress", "-l", "--to", "127.0.0.1:80", "2333"],
             rb"--progress.*--to"),
            (["-C", "-l", "-e", "/bin/cat", "2333"], rb"-C.*-e"),
            (["-q", "0", "-c", "cat", "127.0.0.1", "2333"], rb"-q.*-c"),
            (["--progress", "-l", "-k", "-e", "/bin/cat", "2333"],
             rb"--progress.*-e"),
        ]
        for args, word in cases:
            with self.subTest(args=" ".join(args)):
                self.assert_usage(args, word)

    def test_bad_address(self):
        for addr in ("127.0.0.1", "127.0.0.1:", ":80", "[::1:80",
                     "127.0.0.1:99999", "unix:"):
            with self.subTest(addr=addr):
                self.assert_usage(["-l", "--to", addr, "2333"], rb"--to")
                self.assert_usage(["-l", "--to", addr, "2333"],
                                  re.escape(addr.encode()))


if __name__ == "__main__":
    unittest.main()
