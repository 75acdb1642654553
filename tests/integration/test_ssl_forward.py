"""sockit --ssl with exec and forwarding (issue 11), against real peers.

- Termination (-l --ssl --to, what stunnel does): curl through it to
  python3 -m http.server, openssl s_client 16 MiB each way byte-exact,
  stunnel4 as the client in front; a plaintext client ends alone before
  any connection to the target; a silent client loses its slot.
- Origination (--to-ssl): plaintext clients, TLS to openssl s_server
  -www or a Python ssl server, verified by default; a refused target
  certificate ends that client only, with the client's own message;
  --ssl-pin accepts, --insecure warns; a Unix socket target.
- Re-encryption (--ssl and --to-ssl): each option belongs to one side.
- Exec over TLS: Python ssl clients against -l --ssl -k -e /bin/cat (three
  at once), sockit --ssl -e against openssl s_server; a plaintext client
  of a TLS exec listener ends alone: no child started, no zombie.
- Every new refusal of a flag combination: its line and exit 2.

The certificates are tlsfix.py's. Before this, every command line here
was refused with exit 2 ("TLS for exec and forwarding ... is not built
yet", or --to-ssl as an unknown option).
"""

import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tlsfix  # noqa: E402  (the certificates)
from common import (TIMEOUT, LineReader, Proc, binary,  # noqa: E402
                    in_background, start_listener)
from test_exec import proc_children, wait_for  # noqa: E402

cert = tlsfix.cert
fingerprint = tlsfix.fingerprint

BIG = 16 * 1024 * 1024
ANNOUNCE = re.compile(rb"^sockit: certificate (sha256:[0-9a-f]{64}); ")
INSECURE = b"sockit: warning: --insecure"


# The certificates, made once for the module and removed after it.
setUpModule = tlsfix.make_certs
tearDownModule = tlsfix.remove_certs


def sockit():
    return binary("sockit", "")


def client_ctx(**kw):
    """A Python client context trusting the test CA (or pinned by hand)."""
    ctx = ssl.create_default_context(cafile=cert("ca.pem"))
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def server_ctx(name="good"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert(name + ".pem"), cert(name + ".key"))
    return ctx


def recv_all(sock, limit=64 * BIG):
    """Everything until EOF (for an SSLSocket: close_notify, since it is
    wrapped with suppress_ragged_eofs=False, a truncation raises)."""
    parts, n = [], 0
    while True:
        b = sock.recv(1 << 20)
        if not b:
            return b"".join(parts)
        parts.append(b)
        n += len(b)
        if n > limit:
            raise AssertionError("more than %d bytes" % limit)


class Backend:
    """A plaintext TCP server in a thread: each client is handled by
    handler(conn); counts its clients. TLS with tls=ctx (a Python ssl
    server, suppress_ragged_eofs off: truncation is an error)."""

    def __init__(self, test, handler, tls=None, family=socket.AF_INET,
                 path=None):
        self.handler, self.tls, self.accepted = handler, tls, 0
        self.errors = []
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind(path if path else ("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = None if path else self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()
        test.addCleanup(self.close)

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self.one, args=(conn,),
                             daemon=True).start()

    def one(self, conn):
        try:
            conn.settimeout(4 * TIMEOUT)
            if self.tls:
                conn = self.tls.wrap_socket(conn, server_side=True,
                                            suppress_ragged_eofs=False)
            with conn:
                self.handler(conn)
        except Exception as e:  # noqa: BLE001  (reported by the test)
            self.errors.append(e)

    def close(self):
        self.sock.close()


def echo_after_eof(conn):
    """Reads to EOF, then sends it all back and closes (TLS: after its
    close_notify, which unwrap sends)."""
    data = recv_all(conn)
    conn.sendall(data)
    if isinstance(conn, ssl.SSLSocket):
        conn.unwrap()
    else:
        conn.shutdown(socket.SHUT_WR)


def echo_lines(conn):
    f = conn.makefile("rb")
    for line in f:
        conn.sendall(line)


def half_close_exchange(port, data):
    """A Python ssl client on memory BIOs: handshake, data, then its
    close_notify at once (SSL_shutdown's first call; the socket-level
    unwrap() would then wait for the peer's), then reads until the peer's
    close_notify. Returns what it read; a bare EOF raises SSLEOFError."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx().wrap_bio(inc, out, server_hostname="localhost")
    sock = socket.create_connection(("127.0.0.1", port), timeout=4 * TIMEOUT)

    def flush():
        pending = out.read()
        if pending:
            sock.sendall(pending)

    def fill():
        b = sock.recv(1 << 16)
        inc.write(b) if b else inc.write_eof()

    def step(fn, *args):
        while True:
            try:
                return fn(*args)
            except ssl.SSLWantReadError:
                flush()
                fill()
    with sock:
        step(obj.do_handshake)
        for i in range(0, len(data), 16384):
            obj.write(data[i:i + 16384])
            flush()
        try:
            obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        flush()
        got = []
        while True:
            try:
                got.append(step(obj.read, 1 << 16))
            except ssl.SSLZeroReturnError:
                return b"".join(got)


class Case(unittest.TestCase):
    def run_proc(self, argv):
        p = Proc(argv)
        self.addCleanup(p.stop)
        return p

    def listener(self, argv_for_port):
        return start_listener(argv_for_port,
                              on_start=lambda p: self.addCleanup(p.stop))

    def sockit_listener(self, *opts):
        """sockit -l OPTS 127.0.0.1 PORT: (proc, port)."""
        return self.listener(lambda port: [sockit(), "-l"] + list(opts) +
                             ["127.0.0.1", str(port)])

    def terminator(self, target, *opts):
        """sockit -l --ssl (the good certificate) --to target."""
        return self.sockit_listener("--ssl", "--ssl-cert", cert("good.pem"),
                                    "--ssl-key", cert("good.key"), "--to",
                                    target, *opts)

    def tls_connect(self, port, ctx=None, name="localhost"):
        raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        tls = (ctx or client_ctx()).wrap_socket(
            raw, server_hostname=name, suppress_ragged_eofs=False)
        self.addCleanup(tls.close)
        return tls

    def plain_connect(self, port):
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.addCleanup(s.close)
        return s

    def s_server(self, name, *extra):
        """openssl s_server with certificate name, serving clients one
        after another until stopped: (proc, port)."""
        return self.listener(lambda port: [
            "openssl", "s_server", "-accept", "127.0.0.1:%d" % port,
            "-cert", cert(name + ".pem"), "-key", cert(name + ".key")] +
            list(extra))

    def usage(self, *argv, pattern):
        p = self.run_proc([sockit()] + list(argv))
        self.assertEqual(p.wait_exit(), 2, p.describe())
        lines = p.err.all_lines()
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0].decode(), "^sockit: " + pattern)

    def assert_closed_quietly(self, sock):
        """The peer closed sock (EOF or reset), sending nothing."""
        try:
            self.assertEqual(sock.recv(100), b"")
        except ConnectionResetError:
            pass


class Termination(Case):
    """-l --ssl --to: TLS from clients, plaintext to the target."""

    def test_curl_through_termination_to_http_server(self):
        root = tempfile.mkdtemp(prefix="sockit-www-")
        self.addCleanup(shutil.rmtree, root, True)
        body = os.urandom(300000)
        with open(os.path.join(root, "blob"), "wb") as f:
            f.write(body)
        _, http = self.listener(lambda port: [
            sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
            "--directory", root, str(port)])
        _, port = self.terminator("127.0.0.1:%d" % http)
        for _ in range(2):  # a second request: the listener goes on
            out = subprocess.run(
                ["curl", "-sS", "--fail", "--cacert", cert("ca.pem"),
                 "https://localhost:%d/blob" % port],
                capture_output=True, timeout=4 * TIMEOUT)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(hashlib.sha256(out.stdout).hexdigest(),
                             hashlib.sha256(body).hexdigest())

    def test_s_client_16_mib_each_way_byte_exact(self):
        up, down = os.urandom(BIG), os.urandom(BIG)
        got = {}

        def backend(conn):
            # Sends its 16 MiB while reading the client's, and half-closes
            # only once all of them are in: s_client exits at the
            # close_notify that the FIN becomes, sent or not its stdin.
            sender = threading.Thread(target=conn.sendall, args=(down,))
            sender.start()
            parts, n = [], 0
            while n < BIG:
                b = conn.recv(1 << 20)
                if not b:
                    break
                parts.append(b)
                n += len(b)
            sender.join()
            conn.shutdown(socket.SHUT_WR)
            got["up"] = b"".join(parts)
            got["after"] = recv_all(conn)  # s_client's end: EOF, no more
        be = Backend(self, backend)
        _, port = self.terminator("127.0.0.1:%d" % be.port)
        tmp = tempfile.mkdtemp(prefix="sockit-big-")
        self.addCleanup(shutil.rmtree, tmp, True)
        with open(os.path.join(tmp, "up"), "wb") as f:
            f.write(up)
        # -ign_eof: s_client keeps reading after its stdin's end, until
        # the close_notify that the target's EOF becomes.
        with open(os.path.join(tmp, "up"), "rb") as stdin:
            out = subprocess.run(
                ["openssl", "s_client", "-quiet", "-ign_eof", "-connect",
                 "127.0.0.1:%d" % port, "-CAfile", cert("ca.pem"),
                 "-verify_return_error", "-servername", "localhost"],
                stdin=stdin, capture_output=True, timeout=8 * TIMEOUT)
        self.assertEqual(len(out.stdout), BIG, out.stderr[-500:])
        self.assertTrue(out.stdout == down, "down bytes differ")
        wait_for(lambda: "up" in got, "the target's read")
        self.assertEqual(len(got["up"]), BIG)
        self.assertTrue(got["up"] == up, "up bytes differ")
        wait_for(lambda: "after" in got, "the target's EOF")
        self.assertEqual(got["after"], b"")
        self.assertNotIn(b"unexpected eof", out.stderr)

    def test_half_close_both_ways_with_close_notify(self):
        # Client: 1 MiB then its close_notify alone; the target reads to
        # EOF (the close_notify became a FIN), echoes, half-closes; the
        # client reads all of it up to sockit's close_notify (a FIN alone
        # raises SSLEOFError). Before, the target's EOF reached a TLS
        # client as a bare FIN.
        be = Backend(self, echo_after_eof)
        _, port = self.terminator("127.0.0.1:%d" % be.port)
        data = os.urandom(1 << 20)
        self.assertTrue(half_close_exchange(port, data) == data,
                        "echo differs")
        self.assertEqual(be.errors, [])

    def test_stunnel_client_in_front(self):
        # plaintext -> stunnel (client = yes, verifying) -> sockit -l --ssl
        # --to -> a plaintext line echo.
        exe = shutil.which("stunnel4") or shutil.which("stunnel")
        self.assertTrue(exe, "stunnel4 is missing: scripts/install-deps test")
        be = Backend(self, echo_lines)
        _, sport = self.terminator("127.0.0.1:%d" % be.port)
        conf = os.path.join(tlsfix.CERTS, "stunnel-fwd.conf")

        def argv(port):
            with open(conf, "w") as f:
                f.write("foreground = yes\npid =\nsyslog = no\ndebug = 3\n"
                        "[svc]\nclient = yes\naccept = 127.0.0.1:%d\n"
                        "connect = 127.0.0.1:%d\nCAfile = %s\n"
                        "verifyChain = yes\ncheckHost = localhost\n"
                        % (port, sport, cert("ca.pem")))
            return [exe, conf]
        _, port = self.listener(argv)
        s = self.plain_connect(port)
        s.sendall(b"through stunnel and sockit\n")
        self.assertEqual(LineReader(s).read_line(),
                         b"through stunnel and sockit")

    def test_plaintext_client_ends_alone_before_any_target(self):
        be = Backend(self, echo_lines)
        proc, port = self.terminator("127.0.0.1:%d" % be.port, "-v")
        s = self.plain_connect(port)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        self.assert_closed_quietly(s)
        proc.err.wait_line(re.compile(rb"^sockit: 127\.0\.0\.1:\d+ is not "
                                      rb"speaking TLS"))
        tls = self.tls_connect(port)
        tls.sendall(b"after the plaintext one\n")
        self.assertEqual(LineReader(tls).read_line(),
                         b"after the plaintext one")
        self.assertEqual(be.accepted, 1)  # none for the plaintext client
        self.assertIsNone(proc.poll(), proc.describe())

    def test_silent_client_loses_its_slot(self):
        # -m 1: a client that never starts its handshake holds the only
        # slot until the handshake bound (10 s) closes it.
        be = Backend(self, echo_lines)
        proc, port = self.terminator("127.0.0.1:%d" % be.port, "-m", "1",
                                     "-v")
        silent = self.plain_connect(port)
        proc.err.wait_line(re.compile(rb"^Connection received"))
        silent.settimeout(10 + 2 * TIMEOUT)
        self.assert_closed_quietly(silent)
        proc.err.wait_line(re.compile(rb"TLS handshake with 127\.0\.0\.1:\d+"
                                      rb": no answer for \d+ ms$"))
        tls = self.tls_connect(port)
        tls.sendall(b"my turn\n")
        self.assertEqual(LineReader(tls).read_line(), b"my turn")
        self.assertEqual(be.accepted, 1)


class Origination(Case):
    """-l --to HOST:PORT --to-ssl: plaintext clients, TLS to the target."""

    def originator(self, target, *opts):
        return self.sockit_listener("--to", target, "--to-ssl", *opts)

    def http_get(self, port):
        # Closed after the reply: s_server serves one connection at a time.
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=TIMEOUT) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return recv_all(s)

    def test_to_openssl_s_server_www_verified(self):
        _, sport = self.s_server("good", "-www")
        _, port = self.originator("localhost:%d" % sport, "--ssl-trustfile",
                                  cert("ca.pem"))
        for _ in range(2):
            reply = self.http_get(port)
            self.assertTrue(reply.startswith(b"HTTP/1.0 200 ok"), reply[:200])
            self.assertIn(b"New, TLSv1.3", reply)

    def test_half_close_and_16_mib_byte_exact(self):
        be = Backend(self, echo_after_eof, tls=server_ctx())
        _, port = self.originator("localhost:%d" % be.port,
                                  "--ssl-trustfile", cert("ca.pem"))
        s = self.plain_connect(port)
        data = os.urandom(BIG)
        got = {}

        def read_back():
            got["data"] = recv_all(s)
        s.settimeout(8 * TIMEOUT)
        join = in_background(self, read_back)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)  # becomes close_notify to the target
        join(8 * TIMEOUT)
        self.assertEqual(len(got["data"]), BIG)
        self.assertTrue(got["data"] == data, "echo differs")
        self.assertEqual(be.errors, [])  # no truncation seen by the target

    def refused(self, name, pattern, target="127.0.0.1:%d", opts=()):
        be = Backend(self, echo_lines, tls=server_ctx(name))
        proc, port = self.originator(target % be.port, "--ssl-trustfile",
                                     cert("ca.pem"), *opts)
        for _ in range(2):  # each client ends alone; the listener goes on
            s = self.plain_connect(port)
            s.sendall(b"hello\n")
            self.assert_closed_quietly(s)
            line = proc.err.wait_line(re.compile(b"^sockit: "))
            self.assertRegex(line.decode(), "^sockit: " + pattern)
        self.assertIsNone(proc.poll(), proc.describe())

    def test_host_mismatch_refused_listener_keeps_serving(self):
        self.refused("wronghost", r'certificate of localhost:\d+ is for '
                     r'"other\.example", "www\.other\.example", not '
                     r'"localhost"$', target="localhost:%d")

    def test_self_signed_refused(self):
        self.refused("self", r"certificate of 127\.0\.0\.1:\d+ is "
                     r"self-signed")

    def test_expired_refused_with_the_date(self):
        self.refused("expired", r"certificate of 127\.0\.0\.1:\d+ expired "
                     r"on 2020-01-02 00:00:00 UTC")

    def test_pin_accepts_a_self_signed_target(self):
        be = Backend(self, echo_lines, tls=server_ctx("self"))
        _, port = self.originator("127.0.0.1:%d" % be.port, "--ssl-pin",
                                  fingerprint("self.pem"))
        s = self.plain_connect(port)
        s.sendall(b"pinned\n")
        self.assertEqual(LineReader(s).read_line(), b"pinned")

    def test_pin_mismatch_names_both_fingerprints(self):
        be = Backend(self, echo_lines, tls=server_ctx("good"))
        proc, port = self.originator("127.0.0.1:%d" % be.port, "--ssl-pin",
                                     fingerprint("self.pem"))
        s = self.plain_connect(port)
        self.assert_closed_quietly(s)
        line = proc.err.wait_line(re.compile(b"^sockit: "))
        self.assertIn(fingerprint("self.pem").encode(), line)
        self.assertIn(fingerprint("good.pem").encode(), line)

    def test_insecure_warns_once_and_forwards(self):
        be = Backend(self, echo_lines, tls=server_ctx("self"))
        proc, port = self.originator("127.0.0.1:%d" % be.port, "--insecure")
        line = proc.err.wait_line(re.compile(re.escape(INSECURE)))
        self.assertIn(b"127.0.0.1:%d" % be.port, line)
        for i in range(2):
            s = self.plain_connect(port)
            s.sendall(b"unverified %d\n" % i)
            self.assertEqual(LineReader(s).read_line(), b"unverified %d" % i)
        proc.err.assert_quiet()  # said at start, not per client

    def test_servername_is_sent_and_checked(self):
        seen = []
        ctx = server_ctx("good")
        ctx.sni_callback = lambda sock, name, c: seen.append(name)
        be = Backend(self, echo_lines, tls=ctx)
        _, port = self.originator("127.0.0.1:%d" % be.port,
                                  "--ssl-trustfile", cert("ca.pem"),
                                  "--ssl-servername", "localhost")
        s = self.plain_connect(port)
        s.sendall(b"sni\n")
        self.assertEqual(LineReader(s).read_line(), b"sni")
        self.assertEqual(seen, ["localhost"])

    def test_client_certificate_to_the_target(self):
        ctx = server_ctx("good")
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cert("ca.pem"))
        peers = []

        def who(conn):
            peers.append(conn.getpeercert()["subject"])
            echo_lines(conn)
        be = Backend(self, who, tls=ctx)
        _, port = self.originator("localhost:%d" % be.port,
                                  "--ssl-trustfile", cert("ca.pem"),
                                  "--ssl-cert", cert("client.pem"),
                                  "--ssl-key", cert("client.key"))
        s = self.plain_connect(port)
        s.sendall(b"mutual\n")
        self.assertEqual(LineReader(s).read_line(), b"mutual")
        self.assertEqual(peers, [((("commonName", "sockit client"),),)])

    def test_unix_socket_target(self):
        path = os.path.join(tempfile.mkdtemp(prefix="sockit-u-"), "tls.sock")
        self.addCleanup(shutil.rmtree, os.path.dirname(path), True)
        Backend(self, echo_lines, tls=server_ctx(), family=socket.AF_UNIX,
                path=path)
        _, port = self.originator("unix:" + path, "--ssl-trustfile",
                                  cert("ca.pem"), "--ssl-servername",
                                  "localhost")
        s = self.plain_connect(port)
        s.sendall(b"over unix\n")
        self.assertEqual(LineReader(s).read_line(), b"over unix")


class ReEncryption(Case):
    def test_tls_in_tls_out_with_pinned_target(self):
        be = Backend(self, echo_lines, tls=server_ctx("self"))
        _, port = self.terminator("127.0.0.1:%d" % be.port, "--to-ssl",
                                  "--ssl-pin", fingerprint("self.pem"))
        tls = self.tls_connect(port)
        tls.sendall(b"twice encrypted\n")
        self.assertEqual(LineReader(tls).read_line(), b"twice encrypted")


class Exec(Case):
    def test_three_python_clients_at_once_on_k_e_cat(self):
        proc, port = self.sockit_listener("--ssl", "-k", "-e", "/bin/cat")
        fp = ANNOUNCE.search(proc.err.wait_line(ANNOUNCE)).group(1).decode()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        conns = [self.tls_connect(port, ctx) for _ in range(3)]
        for c in conns:  # the certificate is the announced one
            der = c.getpeercert(binary_form=True)
            self.assertEqual("sha256:" + hashlib.sha256(der).hexdigest(), fp)
        for i, c in enumerate(conns):
            c.sendall(b"client %d\n" % i)
        for i, c in enumerate(conns):
            self.assertEqual(LineReader(c).read_line(), b"client %d" % i)
        self.assertEqual(len(proc_children(proc.pid)), 3)
        for c in conns:
            self._close_notify(c)
            self.assertEqual(recv_all(c), b"")  # cat's EOF: close_notify

        def reaped():
            return not proc_children(proc.pid)
        wait_for(reaped, "children reaped: %r" % proc_children(proc.pid))
        self.assertIsNone(proc.poll(), proc.describe())

    def _close_notify(self, tls):
        try:
            tls.unwrap()
        except (ssl.SSLWantReadError, ssl.SSLError, OSError):
            pass

    def test_verify_client_on_an_exec_listener(self):
        proc, port = self.sockit_listener(
            "--ssl", "--ssl-cert", cert("good.pem"), "--ssl-key",
            cert("good.key"), "--ssl-verify-client", "--ssl-trustfile",
            cert("ca.pem"), "-k", "-v", "-e", "/bin/cat")
        anon = self.tls_connect(port)  # TLS 1.3: refused after its Finished
        with self.assertRaises((ssl.SSLError, ConnectionResetError)):
            anon.sendall(b"no certificate\n")
            recv_all(anon)
        proc.err.wait_line(re.compile(rb"^sockit: 127\.0\.0\.1:\d+ sent no "
                                      rb"client certificate$"))
        ctx = client_ctx()
        ctx.load_cert_chain(cert("client.pem"), cert("client.key"))
        tls = self.tls_connect(port, ctx)
        tls.sendall(b"with a certificate\n")
        self.assertEqual(LineReader(tls).read_line(), b"with a certificate")
        self.assertEqual(len(proc_children(proc.pid)), 1)

    def test_env_vars_as_without_tls(self):
        proc, port = self.sockit_listener(
            "--ssl", "--ssl-cert", cert("good.pem"), "--ssl-key",
            cert("good.key"), "-c",
            "echo $SOCKIT_PROTO $SOCKIT_REMOTE_ADDR $SOCKIT_LOCAL_PORT")
        tls = self.tls_connect(port)
        self.assertEqual(LineReader(tls).read_line(),
                         b"TCP 127.0.0.1 %d" % port)
        self.assertEqual(proc.wait_exit(), 0, proc.describe())

    def test_client_exec_against_openssl_s_server(self):
        server, sport = self.s_server("good", "-quiet", "-naccept", "1")
        c = self.run_proc([sockit(), "--ssl", "--ssl-trustfile",
                           cert("ca.pem"), "-c",
                           "echo hello; read l; echo got $l", "localhost",
                           str(sport)])
        server.out.wait_line(b"hello")
        server.write(b"world\n")
        server.out.wait_line(b"got world")
        self.assertEqual(c.wait_exit(), 0, c.describe())

    def test_client_exec_against_a_silent_server_is_bounded(self):
        # A server that accepts and never answers: the handshake's bound
        # (here -i's 2 s, shorter than the 10 s default) ends it: one
        # line, exit 1, no program.
        mark = os.path.join(tlsfix.CERTS, "silent-started")
        with socket.socket() as ls:
            ls.bind(("127.0.0.1", 0))
            ls.listen()
            c = self.run_proc([sockit(), "--ssl", "--insecure", "-i", "2",
                               "-c", "touch " + mark, "127.0.0.1",
                               str(ls.getsockname()[1])])
            self.assertEqual(c.wait_exit(2 + 2 * TIMEOUT), 1, c.describe())
        lines = [l for l in c.err.all_lines() if not l.startswith(INSECURE)]
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0].decode(), r"^sockit: TLS handshake with "
                         r"127\.0\.0\.1:\d+: no answer for 2000 ms$")
        self.assertFalse(os.path.exists(mark))

    def test_client_exec_refused_certificate_starts_no_child(self):
        mark = os.path.join(tlsfix.CERTS, "exec-started")
        server, sport = self.s_server("wronghost", "-quiet", "-naccept", "1")
        c = self.run_proc([sockit(), "--ssl", "--ssl-trustfile",
                           cert("ca.pem"), "-c", "touch " + mark,
                           "localhost", str(sport)])
        self.assertEqual(c.wait_exit(), 1, c.describe())
        lines = c.err.all_lines()
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0].decode(), r'^sockit: certificate of '
                         r'127\.0\.0\.1:\d+ is for "other\.example"')
        self.assertFalse(os.path.exists(mark))

    def test_plaintext_client_ends_alone_no_child_no_zombie(self):
        mark = tempfile.mkdtemp(prefix="sockit-mark-")
        self.addCleanup(shutil.rmtree, mark, True)
        proc, port = self.sockit_listener(
            "--ssl", "--ssl-cert", cert("good.pem"), "--ssl-key",
            cert("good.key"), "-k", "-v", "-c",
            "touch %s/$SOCKIT_REMOTE_PORT; exec cat" % mark)
        s = self.plain_connect(port)
        s.sendall(b"plain hello\n")
        self.assert_closed_quietly(s)
        proc.err.wait_line(re.compile(rb"^sockit: 127\.0\.0\.1:\d+ is not "
                                      rb"speaking TLS"))
        self.assertEqual(proc_children(proc.pid), {})
        self.assertEqual(os.listdir(mark), [])
        tls = self.tls_connect(port)
        tls.sendall(b"tls hello\n")
        self.assertEqual(LineReader(tls).read_line(), b"tls hello")
        self.assertEqual(os.listdir(mark), [str(tls.getsockname()[1])])
        tls.close()
        wait_for(lambda: not proc_children(proc.pid),
                 "no child (nor zombie) left: %r" % proc_children(proc.pid))
        self.assertIsNone(proc.poll(), proc.describe())


    def test_plain_listen_refuses_failed_handshakes_then_serves_one(self):
        # Without -k, the one client is the first whose handshake
        # completes: a plaintext client, a refused one and a port probe
        # each get one line (always, -v or not) and no program; the
        # listener then runs the program for the right client, and ends
        # with it.
        mark = tempfile.mkdtemp(prefix="sockit-mark-")
        self.addCleanup(shutil.rmtree, mark, True)
        proc, port = self.sockit_listener(
            "--ssl", "-c", "touch %s/$SOCKIT_REMOTE_PORT; exec cat" % mark)
        s = self.plain_connect(port)
        s.sendall(b"hi\n")
        self.assert_closed_quietly(s)
        proc.err.wait_line(re.compile(rb'^sockit: 127\.0\.0\.1:\d+ is not '
                                      rb'speaking TLS \(got "hi\\x0a"\)$'))
        with self.assertRaises(ssl.SSLError):  # the ephemeral certificate
            self.tls_connect(port, ctx=ssl.create_default_context(
                cafile=cert("ca.pem")))
        proc.err.wait_line(re.compile(rb'^sockit: 127\.0\.0\.1:\d+ refused '
                                      rb'the TLS handshake: alert '))
        self.plain_connect(port).close()  # a port probe
        proc.err.wait_line(re.compile(rb"^sockit: 127\.0\.0\.1:\d+ closed "
                                      rb"the connection during the TLS "
                                      rb"handshake$"))
        self.assertIsNone(proc.poll(), proc.describe())
        self.assertEqual(os.listdir(mark), [])
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        tls = self.tls_connect(port, ctx=ctx)
        tls.sendall(b"tls hello\n")
        self.assertEqual(LineReader(tls).read_line(), b"tls hello")
        self.assertEqual(os.listdir(mark), [str(tls.getsockname()[1])])
        tls.close()
        self.assertEqual(proc.wait_exit(), 0, proc.describe())
        lines = [l for l in proc.err.all_lines() if not ANNOUNCE.search(l)]
        self.assertEqual(len(lines), 3, lines)

    def test_sigterm_during_a_handshake_exits_143_at_once(self):
        proc, port = self.sockit_listener("--ssl", "-k", "-v", "-e",
                                          "/bin/cat")
        self.plain_connect(port)  # connects, says nothing
        proc.err.wait_line(re.compile(rb"^Connection received"))
        proc.popen.terminate()
        self.assertEqual(proc.wait_exit(), 143, proc.describe())


class Usage(Case):
    """Combinations that cannot be assigned: one line, exit 2."""

    def test_to_ssl_needs_to(self):
        self.usage("-l", "--to-ssl", "1",
                   pattern=r"--to-ssl needs --to: it is TLS to the "
                   r"forwarding target$")

    def test_udp_stays_refused(self):
        self.usage("-u", "-l", "--to", "127.0.0.1:1", "--to-ssl", "1",
                   pattern=r"cannot use --to-ssl with -u \(DTLS is not "
                   r"supported\)")
        self.usage("-u", "-l", "--ssl", "--to", "127.0.0.1:1", "1",
                   pattern=r"cannot use --ssl with -u \(DTLS is not "
                   r"supported\)")

    def test_alpn_with_both_sides_is_ambiguous(self):
        self.usage("-l", "--ssl", "--to", "127.0.0.1:1", "--to-ssl",
                   "--ssl-alpn", "h2", "1",
                   pattern=r"cannot use --ssl-alpn with both --ssl and "
                   r"--to-ssl")

    def test_trustfile_with_both_sides_is_the_listeners(self):
        self.usage("-l", "--ssl", "--to", "127.0.0.1:1", "--to-ssl",
                   "--ssl-trustfile", cert("ca.pem"), "1",
                   pattern=r"--ssl-trustfile with --ssl and --to-ssl is the "
                   r"listener's \(client CAs\): it needs --ssl-verify-client")

    def test_verify_client_without_ssl(self):
        self.usage("-l", "--to", "127.0.0.1:1", "--to-ssl",
                   "--ssl-verify-client", "1",
                   pattern=r"--ssl-verify-client needs --ssl: with --to-ssl "
                   r"alone the listener speaks plaintext$")

    def test_pin_with_insecure(self):
        self.usage("-l", "--to", "127.0.0.1:1", "--to-ssl", "--insecure",
                   "--ssl-pin", fingerprint("good.pem"), "1",
                   pattern=r"cannot use --ssl-pin with --insecure")

    def test_unix_target_needs_a_name(self):
        self.usage("-l", "--to", "unix:/tmp/x.sock", "--to-ssl", "1",
                   pattern=r"--to-ssl to a Unix socket needs "
                   r"--ssl-servername NAME, --ssl-pin or --insecure")

    def test_target_option_without_to_ssl_names_it(self):
        self.usage("-l", "--to", "127.0.0.1:1", "--ssl-pin",
                   fingerprint("good.pem"), "1",
                   pattern=r"--ssl-pin needs --ssl or --to-ssl$")

    def test_client_options_go_to_the_target_with_to_ssl(self):
        # Accepted (not "a client's option" on -l): a missing trustfile is
        # then the target context's error.
        self.usage("-l", "--to", "127.0.0.1:1", "--to-ssl",
                   "--ssl-trustfile", "/nonexistent/ca.pem", "1",
                   pattern=r".*/nonexistent/ca\.pem")


if __name__ == "__main__":
    unittest.main()
