#!/usr/bin/env python3
"""The proxy client (--proxy, --proxy-type, --proxy-auth, -x, -X) against
real proxy servers from Debian, and against fake ones that misbehave.

  danted (dante-server)   SOCKS4 and SOCKS5, without and with RFC 1929
                          user/password authentication
  tinyproxy               HTTP CONNECT
  ncat -l --proxy-type http   HTTP CONNECT, without and with --proxy-auth
  Python                  a SOCKS5 proxy that records the request, and
                          proxies that speak garbage, close mid-handshake
                          or never answer

Every proxy is started here on a free loopback port, with its
configuration in a temporary directory, and stopped at the end; no
system instance is used. Through each real proxy sockit reaches a Python
target that greets first, then echoes: bytes are checked exactly both
ways, 1 MiB of them.

Authentication with danted: its `socksmethod: username` checks the
system's users, so the tests create a throwaway user with a random
password (useradd, chpasswd) and remove it afterwards (userdel). That
needs root, as danted itself does here.

    python3 tests/integration/test_proxy.py [-v] [ProxyTest.test_name]
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (TIMEOUT, Proc, binary, free_port, in_background,  # noqa
                    refusing_port, wait_listening)

BANNER = b"target says hello\r\n\x00\xff"
BIG = 1 << 20


def sockit():
    return binary("sockit", subdir="")


def tool(name):
    """Path of a proxy program: missing is a failure, never a skip."""
    for d in ("", "/usr/sbin/", "/sbin/"):
        path = shutil.which(d + name) if d else shutil.which(name)
        if path:
            return path
    raise AssertionError("%s is not installed: the proxy tests need "
                         "dante-server, tinyproxy and ncat" % name)


def payload(n):
    """A length header the target reads, awkward bytes, random bytes."""
    body = b"\x00\xff\r\n\x1b[0m\xc3\x28" + os.urandom(n)
    return b"%08d" % len(body) + body


class Target:
    """A TCP listener on 127.0.0.1: each client gets BANNER at once, then
    its bytes echoed back (an 8-digit length first says how many), then
    the connection closes. Runs in a thread until close()."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,),
                             daemon=True).start()

    @staticmethod
    def _client(conn):
        with conn:
            conn.settimeout(4 * TIMEOUT)
            try:
                conn.sendall(BANNER)
                head = b""
                while len(head) < 8:
                    data = conn.recv(8 - len(head))
                    if not data:
                        return
                    head += data
                conn.sendall(head)
                left = int(head)
                while left > 0:
                    data = conn.recv(min(left, 65536))
                    if not data:
                        return
                    conn.sendall(data)
                    left -= len(data)
            except (OSError, ValueError):
                pass

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(TIMEOUT)


class Daemon:
    """A proxy server started in its own process group, its output in a
    log file; stop() ends that group (danted forks helpers)."""

    def __init__(self, argv, port, log):
        self.log = log
        self.popen = subprocess.Popen(argv, stdout=open(log, "wb"),
                                      stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL,
                                      start_new_session=True)
        try:
            if not wait_listening(port, proc=None, timeout=TIMEOUT) or \
                    self.popen.poll() is not None:
                raise AssertionError("exited")
        except AssertionError:
            self.stop()
            raise AssertionError("%s did not listen on %d: %s" %
                                 (argv[0], port, self.text()))
        self.port = port

    def text(self):
        with open(self.log, "rb") as f:
            return f.read()[-2000:].decode("utf-8", "replace")

    def stop(self):
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(TIMEOUT)
        try:  # helpers that outlived their parent
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def danted(tmp, name, method):
    port = free_port()
    conf = os.path.join(tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write("logoutput: %s\n" % os.path.join(tmp, name + ".out")
                + "internal: 127.0.0.1 port = %d\n" % port
                + "external: 127.0.0.1\n"
                "clientmethod: none\n"
                "socksmethod: %s\n" % method
                + "user.privileged: root\n"
                "user.unprivileged: nobody\n"
                "client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }\n"
                "socks pass {\n from: 127.0.0.0/8 to: 0.0.0.0/0\n"
                " command: connect\n log: connect error\n}\n")
    return Daemon([tool("danted"), "-f", conf, "-p",
                   os.path.join(tmp, name + ".pid")], port,
                  os.path.join(tmp, name + ".log"))


def tinyproxy(tmp, ports):
    port = free_port()
    conf = os.path.join(tmp, "tinyproxy.conf")
    with open(conf, "w") as f:
        f.write("Port %d\nListen 127.0.0.1\nTimeout 60\nAllow 127.0.0.1\n"
                "LogLevel Info\n" % port)
        for p in ports:
            f.write("ConnectPort %d\n" % p)
    return Daemon([tool("tinyproxy"), "-d", "-c", conf], port,
                  os.path.join(tmp, "tinyproxy.log"))


def ncat_http(tmp, name, auth=None):
    port = free_port()
    argv = [tool("ncat"), "-l", "--proxy-type", "http"]
    if auth:
        argv += ["--proxy-auth", auth]
    return Daemon(argv + ["127.0.0.1", str(port)], port,
                  os.path.join(tmp, name + ".log"))


class ThrowawayUser:
    """A system user with a random password, for danted's username
    method; removed by remove()."""

    def __init__(self):
        if os.geteuid() != 0:
            raise AssertionError("the SOCKS5 authentication tests need root:"
                                 " danted checks system users")
        self.name = "skpx%d" % os.getpid()
        self.password = secrets.token_hex(8)
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin",
                        self.name], check=True)
        subprocess.run(["chpasswd"], input=("%s:%s\n" % (
            self.name, self.password)).encode(), check=True)

    def remove(self):
        subprocess.run(["userdel", self.name], check=False)


class ProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sockit-proxy-")
        cls.cleanups = []
        try:
            cls._start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _start(cls):
        cls.target = Target()
        cls.cleanups.append(cls.target.close)
        cls.refused, cls.refused_port = refusing_port()
        cls.cleanups.append(cls.refused.close)
        cls.user = ThrowawayUser()
        cls.cleanups.append(cls.user.remove)
        for attr, start in (
                ("dante", lambda: danted(cls.tmp, "dante", "none")),
                ("dante_auth", lambda: danted(cls.tmp, "dante-auth",
                                              "username")),
                ("tiny", lambda: tinyproxy(cls.tmp, (cls.target.port,
                                                     cls.refused_port))),
                ("ncat", lambda: ncat_http(cls.tmp, "ncat")),
                ("ncat_auth", lambda: ncat_http(cls.tmp, "ncat-auth",
                                                "alice:s3cret"))):
            setattr(cls, attr, start())
            cls.cleanups.append(getattr(cls, attr).stop)

    @classmethod
    def tearDownClass(cls):
        for fn in reversed(cls.cleanups):
            fn()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---------------------------------------------------------- helpers

    def run_sockit(self, *args):
        p = Proc([sockit()] + list(args))
        self.addCleanup(p.stop)
        return p

    def through(self, proxy_args, host="127.0.0.1", n=BIG):
        """sockit reaches the target through a proxy: the banner first,
        then n bytes and more echoed exactly; exit 0 once the target
        closes."""
        p = self.run_sockit(*(proxy_args + [host, str(self.target.port)]))
        data = payload(n)
        join = in_background(self, p.write, data)
        self.assertEqual(p.out.read_exact(len(BANNER), TIMEOUT), BANNER)
        got = p.out.read_exact(len(data), 4 * TIMEOUT)
        join()
        self.assertTrue(got == data, "%d bytes came back changed" % len(data))
        p.close_stdin()
        self.assertEqual(p.wait_exit(), 0, p.describe())

    def fails(self, args, code, *fragments):
        """sockit exits with code and one line on stderr holding each
        fragment."""
        p = self.run_sockit(*args)
        p.close_stdin()
        self.assertEqual(p.wait_exit(4 * TIMEOUT), code, p.describe())
        err = bytes(p.err.transcript).decode("utf-8", "replace")
        self.assertEqual(err.count("\n"), 1, err)
        self.assertTrue(err.startswith("sockit: "), err)
        for f in fragments:
            self.assertIn(f, err)
        return err

    def proxy(self, daemon):
        return "127.0.0.1:%d" % daemon.port

    # ---------------------------------------------- real proxies: data

    def test_socks5_dante(self):
        self.through(["--proxy", self.proxy(self.dante),
                      "--proxy-type", "socks5"])

    def test_socks5_dante_resolves_name(self):
        """"localhost" goes to danted as a name (SOCKS5 type 3)."""
        self.through(["--proxy", self.proxy(self.dante),
                      "--proxy-type", "socks5"], host="localhost", n=4096)

    def test_socks5_dante_nc_flags(self):
        """-x alone means SOCKS5, as in OpenBSD nc."""
        self.through(["-x", self.proxy(self.dante)], n=4096)

    def test_socks4_dante(self):
        self.through(["-x", self.proxy(self.dante), "-X", "4"])

    def test_socks5_dante_numeric(self):
        """-n: addresses only, the proxy's and the target's."""
        self.through(["-n", "-x", self.proxy(self.dante)], n=4096)

    def test_socks4_dante_user_id(self):
        """SOCKS4 carries --proxy-auth as its user id."""
        self.through(["-x", self.proxy(self.dante), "-X", "4",
                      "--proxy-auth", "operator"], n=4096)

    def test_socks5_dante_auth(self):
        self.through(["--proxy", self.proxy(self.dante_auth),
                      "--proxy-type", "socks5", "--proxy-auth",
                      "%s:%s" % (self.user.name, self.user.password)])

    def test_http_tinyproxy(self):
        self.through(["--proxy", self.proxy(self.tiny),
                      "--proxy-type", "http"], host="localhost")

    def test_http_ncat(self):
        """--proxy alone means HTTP, as in ncat."""
        self.through(["--proxy", self.proxy(self.ncat)])

    def test_http_ncat_auth(self):
        self.through(["-x", self.proxy(self.ncat_auth), "-X", "connect",
                      "--proxy-auth", "alice:s3cret"])

    # ------------------------------------------- real proxies: refusals

    def test_socks5_auth_refused(self):
        self.fails(["--proxy", self.proxy(self.dante_auth), "--proxy-type",
                    "socks5", "--proxy-auth", self.user.name + ":wrong",
                    "127.0.0.1", str(self.target.port)], 1,
                   "SOCKS5 proxy %s: authentication refused" %
                   self.proxy(self.dante_auth))

    def test_socks5_auth_missing(self):
        self.fails(["--proxy", self.proxy(self.dante_auth), "--proxy-type",
                    "socks5", "127.0.0.1", str(self.target.port)], 1,
                   "SOCKS5 proxy %s: the proxy requires authentication" %
                   self.proxy(self.dante_auth), "--proxy-auth")

    def test_socks5_destination_refused(self):
        self.fails(["-x", self.proxy(self.dante), "127.0.0.1",
                    str(self.refused_port)], 1,
                   "SOCKS5 proxy %s: connection refused by destination "
                   "(reply 5)" % self.proxy(self.dante))

    def test_socks4_destination_refused(self):
        self.fails(["-x", self.proxy(self.dante), "-X", "4", "127.0.0.1",
                    str(self.refused_port)], 1,
                   "SOCKS4 proxy %s: request rejected or failed (reply 91)"
                   % self.proxy(self.dante))

    def test_http_forbidden_port(self):
        """tinyproxy allows only its ConnectPorts: 403 named."""
        self.fails(["--proxy", self.proxy(self.tiny), "127.0.0.1", "9"], 1,
                   "HTTP proxy %s: 403 " % self.proxy(self.tiny))

    def test_http_destination_refused(self):
        self.fails(["--proxy", self.proxy(self.tiny), "127.0.0.1",
                    str(self.refused_port)], 1,
                   "HTTP proxy %s: 5" % self.proxy(self.tiny))

    def test_http_auth_refused(self):
        self.fails(["--proxy", self.proxy(self.ncat_auth), "--proxy-auth",
                    "alice:wrong", "127.0.0.1", str(self.target.port)], 1,
                   "HTTP proxy %s: 407 " % self.proxy(self.ncat_auth))

    def test_http_to_a_socks_proxy(self):
        """danted drops an HTTP request: named, no hang."""
        self.fails(["--proxy", self.proxy(self.dante), "127.0.0.1",
                    str(self.target.port)], 1,
                   "HTTP proxy %s: closed the connection during the "
                   "handshake" % self.proxy(self.dante))

    def test_unreachable_proxy(self):
        sock, port = refusing_port()
        self.addCleanup(sock.close)
        self.fails(["--proxy", "127.0.0.1:%d" % port, "--proxy-type",
                    "socks5", "127.0.0.1", str(self.target.port)], 1,
                   "SOCKS5 proxy: connect 127.0.0.1:%d: Connection refused"
                   % port)

    # -------------------------------------------------- fake proxies

    def fake(self, handler):
        """A one-client proxy on a free port running handler(conn)."""
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        self.addCleanup(srv.close)
        held = []

        def serve():
            srv.settimeout(2 * TIMEOUT)
            conn, _ = srv.accept()
            held.append(conn)
            conn.settimeout(2 * TIMEOUT)
            handler(conn)
        join = in_background(self, serve)
        self.addCleanup(lambda: [c.close() for c in held])
        return "127.0.0.1:%d" % srv.getsockname()[1], join

    @staticmethod
    def recv_n(conn, n):
        data = b""
        while len(data) < n:
            try:
                chunk = conn.recv(n - len(data))
            except ConnectionResetError:  # sockit gave up first: fine
                break
            if not chunk:
                break
            data += chunk
        return data

    def test_socks5_name_goes_to_the_proxy(self):
        """Without -n the target name is sent as a name (type 3), for the
        proxy to resolve: one that exists nowhere still gets through."""
        seen = []

        def handler(conn):
            self.assertEqual(self.recv_n(conn, 3), b"\x05\x01\x00")
            conn.sendall(b"\x05\x00")
            head = self.recv_n(conn, 5)
            seen.append(head + self.recv_n(conn, head[4] + 2))
            conn.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x00tunnel\n")
            conn.close()
        where, join = self.fake(handler)
        p = self.run_sockit("-x", where, "no-such-host.invalid", "443")
        p.close_stdin()
        self.assertEqual(p.out.read_line(), b"tunnel")
        self.assertEqual(p.wait_exit(), 0, p.describe())
        join()
        self.assertEqual(seen, [b"\x05\x01\x00\x03\x14no-such-host.invalid"
                                b"\x01\xbb"])

    def test_socks4a_name_and_user_id(self):
        """SOCKS4 with a name: SOCKS4a's 0.0.0.1, the user id, the name."""
        seen = []

        def handler(conn):
            data = b""
            while not data.endswith(b".invalid\0"):
                chunk = conn.recv(256)
                if not chunk:
                    break
                data += chunk
            seen.append(data)
            conn.sendall(b"\x00\x5a" + b"\x00" * 6 + b"tunnel\n")
            conn.close()
        where, join = self.fake(handler)
        p = self.run_sockit("--proxy", where, "--proxy-type", "socks4",
                            "--proxy-auth", "op", "example.invalid", "80")
        p.close_stdin()
        self.assertEqual(p.out.read_line(), b"tunnel")
        self.assertEqual(p.wait_exit(), 0, p.describe())
        join()
        self.assertEqual(seen, [b"\x04\x01\x00\x50\x00\x00\x00\x01op\x00"
                                b"example.invalid\x00"])

    def test_garbage_proxy(self):
        def handler(conn):
            conn.recv(16)
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            self.recv_n(conn, 1)
        where, join = self.fake(handler)
        self.fails(["-x", where, "127.0.0.1", "80"], 1,
                   "SOCKS5 proxy %s: the reply is not SOCKS5 (first reply "
                   "byte 0x48)" % where)
        join()

    def test_garbage_http_proxy(self):
        def handler(conn):
            conn.recv(1024)
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
            self.recv_n(conn, 1)
        where, join = self.fake(handler)
        self.fails(["--proxy", where, "127.0.0.1", "80"], 1,
                   "HTTP proxy %s: the reply is not HTTP" % where)
        join()

    def test_endless_http_head(self):
        """A reply head that never ends is cut at 8 KiB."""
        def handler(conn):
            conn.recv(1024)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 4000)
            except OSError:
                pass
        where, join = self.fake(handler)
        self.fails(["--proxy", where, "127.0.0.1", "80"], 1,
                   "HTTP proxy %s: reply head longer than 8192 bytes" % where)
        join()

    def test_proxy_closes_mid_handshake(self):
        def handler(conn):
            self.recv_n(conn, 3)
            conn.sendall(b"\x05")
            conn.close()
        where, join = self.fake(handler)
        self.fails(["-x", where, "127.0.0.1", "80"], 1,
                   "SOCKS5 proxy %s: closed the connection during the "
                   "handshake" % where)
        join()

    def test_silent_proxy_bounded_by_w(self):
        """A proxy that accepts and never answers: -w 1 ends it."""
        done = threading.Event()
        self.addCleanup(done.set)

        def handler(conn):
            done.wait(4 * TIMEOUT)
        where, _ = self.fake(handler)
        start = time.monotonic()
        self.fails(["-w", "1", "--proxy", where, "--proxy-type", "socks4",
                    "127.0.0.1", "80"], 1,
                   "SOCKS4 proxy %s: no complete reply within 1 s" % where)
        self.assertLess(time.monotonic() - start, 4 * TIMEOUT)

    # ------------------------------------------------------- usage

    def test_usage_conflicts(self):
        cases = [
            (["--proxy", "127.0.0.1", "-l", "2000"], "-l"),
            (["-x", "127.0.0.1", "-u", "h", "53"], "-u"),
            (["--proxy", "127.0.0.1", "-U", "/tmp/x.sock"], "-U"),
            (["--proxy", "127.0.0.1", "unix:/tmp/x.sock"], "Unix"),
            (["--proxy", "127.0.0.1", "-z", "h", "80"], "-z"),
            (["--proxy", "127.0.0.1", "--proxy-type", "socks6", "h", "80"],
             "socks6"),
            (["-x", "127.0.0.1", "-X", "4", "--proxy-auth", "u:p", "h",
              "80"], "user id only"),
            (["--proxy", "127.0.0.1", "--proxy-auth", "u", "h", "80"],
             "USER:PASS"),
            (["--proxy-type", "socks5", "h", "80"], "need --proxy"),
            (["--proxy", "127.0.0.1", "-x", "127.0.0.1", "h", "80"],
             "cannot use -x with --proxy"),
            (["--proxy", "127.0.0.1:99999", "h", "80"], "99999"),
            (["-n", "--proxy", "localhost", "127.0.0.1", "80"],
             "name lookup is off"),
        ]
        for args, fragment in cases:
            with self.subTest(args=args):
                self.fails(args, 2, fragment)


if __name__ == "__main__":
    unittest.main()
