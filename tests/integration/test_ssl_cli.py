"""sockit --ssl: the command itself over TLS, against real peers.

The certificates are tlsfix.py's (made with the openssl command: a CA, a
good certificate for localhost and 127.0.0.1, expired, not yet valid, wrong
host name, self-signed, a client certificate). Peers, both directions:
openssl s_server / s_client, ncat --ssl, socat OPENSSL, Python's ssl, and
stunnel4 as a terminating proxy. Every refusal: its one line and exit 1;
every bad combination of flags: one line and exit 2.
"""

import hashlib
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tlsfix  # noqa: E402  (the certificates)
from common import (TIMEOUT, LineReader, Proc, binary,  # noqa: E402
                    start_listener, wait_listening)

cert = tlsfix.cert
fingerprint = tlsfix.fingerprint

ANNOUNCE = re.compile(rb"^sockit: certificate (sha256:[0-9a-f]{64}); connect "
                      rb"with: (sockit --ssl --ssl-pin sha256:[0-9a-f]{64} "
                      rb"\S+ \d+)$")


# The certificates, made once for the module and removed after it.
setUpModule = tlsfix.make_certs
tearDownModule = tlsfix.remove_certs


def sockit():
    return binary("sockit", "")


class SSLCase(unittest.TestCase):
    def run_proc(self, argv):
        p = Proc(argv)
        self.addCleanup(p.stop)
        return p

    def listener(self, argv_for_port, host="127.0.0.1"):
        return start_listener(argv_for_port, host=host,
                              on_start=lambda p: self.addCleanup(p.stop))

    def client(self, port, *opts, host="127.0.0.1"):
        return self.run_proc([sockit(), "--ssl"] + list(opts) +
                             [host, str(port)])

    def server(self, *opts):
        """sockit -l --ssl on a free port: (proc, port)."""
        return self.listener(lambda port: [sockit(), "-l", "--ssl"] +
                             list(opts) + ["127.0.0.1", str(port)])

    def good_server(self, *opts):
        return self.server("--ssl-cert", cert("good.pem"), "--ssl-key",
                           cert("good.key"), *opts)

    def s_server(self, name, *extra):
        return self.listener(lambda port: [
            "openssl", "s_server", "-quiet", "-naccept", "1", "-accept",
            "127.0.0.1:%d" % port, "-cert", cert(name + ".pem"), "-key",
            cert(name + ".key")] + list(extra))

    def client_to_python(self, *opts, max_version=None):
        """sockit --ssl OPTS (trusting the test CA) against a Python ssl
        server with the good certificate: (sockit's Proc, the server's
        TLS socket)."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert("good.pem"), cert("good.key"))
        if max_version:
            ctx.maximum_version = max_version
        ls = socket.socket()
        self.addCleanup(ls.close)
        ls.bind(("127.0.0.1", 0))
        ls.listen()
        ls.settimeout(TIMEOUT)  # no client: a failure, not a hang
        c = self.client(ls.getsockname()[1], "--ssl-trustfile",
                        cert("ca.pem"), *opts)
        conn, _ = ls.accept()
        tls = ctx.wrap_socket(conn, server_side=True,
                               suppress_ragged_eofs=False)
        self.addCleanup(tls.close)
        return c, tls

    def exchange(self, a, b):
        a.write(b"ping from a\n")
        b.out.wait_line(b"ping from a")
        b.write(b"pong from b\n")
        a.out.wait_line(b"pong from b")

    def assert_refused(self, proc, pattern, code=1):
        """proc exits code with one stderr line (the announce and -v lines
        aside) matching pattern."""
        self.assertEqual(proc.wait_exit(), code, proc.describe())
        lines = [l for l in proc.err.all_lines()
                 if not ANNOUNCE.search(l)
                 and not l.startswith(b"sockit: warning: --insecure")]
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0].decode(), "^sockit: " + pattern)

    def usage(self, *argv, pattern):
        p = self.run_proc([sockit()] + list(argv))
        self.assert_refused(p, pattern, code=2)


class ClientRefuses(SSLCase):
    """sockit --ssl verifies by default: each refusal names its reason."""

    def refused_by(self, name, pattern, *opts, host="127.0.0.1", extra=()):
        server, port = self.s_server(name, *extra)
        c = self.client(port, *opts, host=host)
        self.assert_refused(c, pattern)

    def test_unknown_issuer_without_trustfile(self):
        self.refused_by("good", r"certificate of 127\.0\.0\.1:\d+ is issued by "
                        r"an unknown authority \(CN=localhost, issuer "
                        r"CN=sockit test CA\)$")

    def test_expired_with_the_date(self):
        self.refused_by("expired", r"certificate of 127\.0\.0\.1:\d+ expired "
                        r"on 2020-01-02 00:00:00 UTC \(CN=localhost\)$",
                        "--ssl-trustfile", cert("ca.pem"))

    def test_not_yet_valid(self):
        self.refused_by("future", r"certificate of 127\.0\.0\.1:\d+ is not "
                        r"valid until 2099-01-01 00:00:00 UTC",
                        "--ssl-trustfile", cert("ca.pem"))

    def test_self_signed(self):
        self.refused_by("self", r"certificate of 127\.0\.0\.1:\d+ is "
                        r"self-signed and not trusted \(CN=localhost, %s\)$"
                        % fingerprint("self.pem"))

    def test_host_name_mismatch_names_the_names(self):
        self.refused_by("wronghost", r'certificate of 127\.0\.0\.1:\d+ is for '
                        r'"other\.example", "www\.other\.example", not '
                        r'"localhost"$', "--ssl-trustfile", cert("ca.pem"),
                        host="localhost")

    def test_pin_mismatch_shows_both_fingerprints(self):
        self.refused_by("good", r"certificate of 127\.0\.0\.1:\d+ has "
                        r"fingerprint %s, not the pinned %s$"
                        % (fingerprint("good.pem"), fingerprint("self.pem")),
                        "--ssl-pin", fingerprint("self.pem"))

    def test_alert_from_the_peer(self):
        self.refused_by("good", r'127\.0\.0\.1:\d+ refused the TLS '
                        r'handshake: alert "handshake failure"$',
                        "--ssl-trustfile", cert("ca.pem"),
                        extra=("-tls1_2", "-Verify", "1"))

    def test_plaintext_server_never_falls_back(self):
        with socket.socket() as ls:
            ls.bind(("127.0.0.1", 0))
            ls.listen()
            ls.settimeout(TIMEOUT)  # no client: a failure, not a hang
            port = ls.getsockname()[1]
            c = self.client(port, "--ssl-trustfile", cert("ca.pem"))
            conn, _ = ls.accept()
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                self.assert_refused(c, r'127\.0\.0\.1:%d is not speaking TLS '
                                    r'\(got "HTTP/1\.1 400"\.\.\.\)$' % port)
        self.assertEqual(c.out.transcript, b"")  # nothing reached stdout

    def test_silent_server_times_out_with_w(self):
        # -w bounds the handshake: a peer that never answers is a failure
        # (exit 1), not an idle end (exit 0).
        with socket.socket() as ls:
            ls.bind(("127.0.0.1", 0))
            ls.listen()
            ls.settimeout(TIMEOUT)  # no client: a failure, not a hang
            c = self.client(ls.getsockname()[1], "-w", "300ms", "--insecure")
            conn, _ = ls.accept()
            with conn:
                self.assert_refused(c, r"TLS handshake with 127\.0\.0\.1:\d+: "
                                    r"no answer for 300 ms$")

    def test_insecure_accepts_and_warns_every_time(self):
        for _ in range(2):
            server, port = self.s_server("self")
            c = self.client(port, "--insecure")
            self.exchange(c, server)
            c.err.wait_line(re.compile(rb"^sockit: warning: --insecure: the "
                                       rb"certificate of 127\.0\.0\.1:\d+ is "
                                       rb"not verified"))


class Usage(SSLCase):
    """Flag conflicts: one line, exit 2, before anything connects."""

    def test_ssl_options_need_ssl(self):
        self.usage("--ssl-pin", fingerprint("good.pem"), "127.0.0.1", "1",
                   pattern=r"--ssl-pin needs --ssl$")
        self.usage("--insecure", "127.0.0.1", "1",
                   pattern=r"--insecure needs --ssl$")

    def test_bad_pin(self):
        self.usage("--ssl", "--ssl-pin", "md5:00", "127.0.0.1", "1",
                   pattern=r".*sha256")

    def test_pin_with_insecure(self):
        self.usage("--ssl", "--insecure", "--ssl-pin", fingerprint("good.pem"),
                   "127.0.0.1", "1",
                   pattern=r"cannot use --ssl-pin with --insecure")

    def test_client_options_on_a_listener(self):
        self.usage("-l", "--ssl", "--insecure", "1",
                   pattern=r"cannot use --insecure with -l")

    def test_verify_client_needs_trustfile_and_listen(self):
        self.usage("-l", "--ssl", "--ssl-verify-client", "1",
                   pattern=r"--ssl-verify-client needs --ssl-trustfile")
        self.usage("--ssl", "--ssl-verify-client", "127.0.0.1", "1",
                   pattern=r"--ssl-verify-client needs -l$")

    def test_modes_not_built_yet_are_refused_not_ignored(self):
        # (--chat --ssl, refused here before, is test_ssl_chat.py's now.)
        self.usage("--ssl", "-u", "127.0.0.1", "1",
                   pattern=r"cannot use --ssl with -u")

    def test_alpn_empty_lists_are_refused_alike(self):
        # "" names no protocol, as "," does; neither connects anywhere.
        for bad in ("", ",", "h2,", ",h2", "h2,,http/1.1"):
            self.usage("--ssl", "--ssl-alpn", bad, "127.0.0.1", "1",
                       pattern=r'ALPN list "%s": expected names of 1 to 255 '
                       r'bytes separated by commas$' % re.escape(bad))

    def test_alpn_long_names_keep_the_end_of_the_line(self):
        # A name over 255 bytes: the list is shown cut, the line whole.
        self.usage("--ssl", "--ssl-alpn", "h2," + "x" * 300, "127.0.0.1", "1",
                   pattern=r'ALPN list "h2,x{57}\.\.\.": expected names of '
                   r'1 to 255 bytes separated by commas$')
        self.usage("-l", "--ssl", "--ssl-alpn", ",".join(["x" * 200] * 2),
                   "127.0.0.1", "0",
                   pattern=r'ALPN list "x{60}\.\.\." is too long: expected '
                   r'at most 255 bytes in all for a server$')

    def test_missing_certificate_file(self):
        self.usage("-l", "--ssl", "--ssl-cert", cert("nonexistent.pem"), "1",
                   pattern=r'certificate file ".*nonexistent\.pem"')


class Interop(SSLCase):
    """sockit --ssl against the peers users have, both directions."""

    def test_client_to_openssl_s_server_by_name(self):
        server, port = self.s_server("good")
        c = self.client(port, "-v", "--ssl-trustfile", cert("ca.pem"),
                        host="localhost")
        self.exchange(c, server)
        c.err.wait_line(re.compile(rb"^sockit: TLS with .*: TLSv1\.3, "))
        c.close_stdin()  # stdin EOF alone does not end the relay (nc)
        server.close_stdin()  # s_server closes with close_notify
        self.assertEqual(c.wait_exit(), 0, c.describe())
        self.assertFalse([l for l in c.err.all_lines() if b"truncat" in l])

    def test_server_to_openssl_s_client(self):
        server, port = self.good_server()
        c = self.run_proc(["openssl", "s_client", "-quiet",
                           "-verify_return_error", "-CAfile", cert("ca.pem"),
                           "-verify_hostname", "localhost", "-connect",
                           "127.0.0.1:%d" % port])
        self.exchange(c, server)

    def test_client_to_ncat_server(self):
        server, port = self.listener(lambda port: [
            "ncat", "--ssl", "--ssl-cert", cert("good.pem"), "--ssl-key",
            cert("good.key"), "-l", "127.0.0.1", str(port)])
        c = self.client(port, "--ssl-trustfile", cert("ca.pem"))
        self.exchange(c, server)

    def test_server_to_ncat_client_verifying(self):
        server, port = self.good_server()
        c = self.run_proc(["ncat", "--ssl", "--ssl-verify", "--ssl-trustfile",
                           cert("ca.pem"), "localhost", str(port)])
        self.exchange(c, server)

    def test_client_to_socat_server(self):
        server, port = self.listener(lambda port: [
            "socat", "-", "OPENSSL-LISTEN:%d,bind=127.0.0.1,reuseaddr,cert=%s,"
            "key=%s,verify=0" % (port, cert("good.pem"), cert("good.key"))])
        c = self.client(port, "--ssl-trustfile", cert("ca.pem"))
        self.exchange(c, server)

    def test_server_to_socat_client(self):
        server, port = self.good_server()
        c = self.run_proc(["socat", "-", "OPENSSL:127.0.0.1:%d,cafile=%s,"
                           "commonname=localhost" % (port, cert("ca.pem"))])
        self.exchange(c, server)

    def test_client_to_python_server_tls12(self):
        c, tls = self.client_to_python(
            "-v", max_version=ssl.TLSVersion.TLSv1_2)
        c.write(b"over tls 1.2\n")
        self.assertEqual(LineReader(tls).read_line(), b"over tls 1.2")
        tls.sendall(b"back\n")
        c.out.wait_line(b"back")
        c.err.wait_line(re.compile(rb"^sockit: TLS with .*: TLSv1\.2, "))

    def test_server_to_python_client_with_alpn(self):
        server, port = self.good_server("-v", "--ssl-alpn", "x-sockit,h2")
        ctx = ssl.create_default_context(cafile=cert("ca.pem"))
        ctx.set_alpn_protocols(["h2"])
        with socket.create_connection(("127.0.0.1", port)) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                self.assertEqual(tls.selected_alpn_protocol(), "h2")
                tls.sendall(b"from python\n")
                server.out.wait_line(b"from python")
                server.write(b"to python\n")
                self.assertEqual(LineReader(tls).read_line(), b"to python")
        server.err.wait_line(re.compile(rb"ALPN h2$"))

    def stunnel(self, *service):
        """stunnel4 in the foreground with one service; returns its port."""
        exe = shutil.which("stunnel4") or shutil.which("stunnel")
        self.assertTrue(exe, "stunnel4 is missing: scripts/install-deps test")
        conf = os.path.join(tlsfix.CERTS, "stunnel-%d.conf" % id(service))

        def argv(port):
            with open(conf, "w") as f:
                f.write("foreground = yes\npid =\nsyslog = no\n"
                        "debug = 3\n[svc]\naccept = 127.0.0.1:%d\n" % port)
                f.write("\n".join(service) + "\n")
            return [exe, conf]
        _, port = self.listener(argv)
        return port

    def test_client_through_stunnel_terminating(self):
        # sockit --ssl -> stunnel (TLS off) -> a plaintext backend.
        with socket.socket() as ls:
            ls.bind(("127.0.0.1", 0))
            ls.listen()
            ls.settimeout(TIMEOUT)  # no client: a failure, not a hang
            port = self.stunnel("cert = %s" % cert("good.pem"),
                                "key = %s" % cert("good.key"),
                                "connect = 127.0.0.1:%d"
                                % ls.getsockname()[1])
            c = self.client(port, "--ssl-trustfile", cert("ca.pem"),
                            host="localhost")
            conn, _ = ls.accept()
            with conn:
                c.write(b"through stunnel\n")
                self.assertEqual(LineReader(conn).read_line(),
                                 b"through stunnel")
                conn.sendall(b"plain back\n")
                c.out.wait_line(b"plain back")

    def test_server_behind_stunnel_client(self):
        # plaintext -> stunnel (client = yes, verifying) -> sockit -l --ssl.
        server, sport = self.good_server()
        port = self.stunnel("client = yes", "CAfile = %s" % cert("ca.pem"),
                            "verifyChain = yes", "checkHost = localhost",
                            "connect = 127.0.0.1:%d" % sport)
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"via stunnel\n")
            server.out.wait_line(b"via stunnel")
            server.write(b"answer\n")
            self.assertEqual(LineReader(s).read_line(), b"answer")


class Server(SSLCase):
    def test_ephemeral_flow_copy_paste(self):
        # The printed line, run as printed, connects (pinned) and talks.
        server = self.run_proc([sockit(), "-l", "--ssl", "127.0.0.1", "0"])
        m = ANNOUNCE.search(server.err.wait_line(ANNOUNCE))
        argv = shlex.split(m.group(2).decode())
        self.assertEqual(argv[0], "sockit")
        wait_listening(int(argv[-1]), proc=server)
        c = self.run_proc([sockit()] + argv[1:])
        self.exchange(c, server)

    def test_ephemeral_fingerprint_is_the_served_certificate(self):
        server = self.run_proc([sockit(), "-l", "--ssl", "127.0.0.1", "0"])
        m = ANNOUNCE.search(server.err.wait_line(ANNOUNCE))
        port = int(m.group(2).split()[-1])
        wait_listening(port, proc=server)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", port)) as raw:
            with ctx.wrap_socket(raw) as tls:
                der = tls.getpeercert(binary_form=True)
        self.assertEqual("sha256:" + hashlib.sha256(der).hexdigest(),
                         m.group(1).decode())

    def test_mutual_tls(self):
        server, port = self.good_server("--ssl-verify-client",
                                        "--ssl-trustfile", cert("ca.pem"))
        c = self.client(port, "--ssl-trustfile", cert("ca.pem"), "--ssl-cert",
                        cert("client.pem"), "--ssl-key", cert("client.key"),
                        host="localhost")
        self.exchange(c, server)

    def assert_still_serving(self, server, port, *opts, host="127.0.0.1"):
        """server (one client, no -k) is still listening: a right client
        connects and the two talk; the run then ends with that client."""
        self.assertIsNone(server.poll(), server.describe())
        c = self.client(port, "-N", *opts, host=host)
        self.exchange(c, server)
        c.close_stdin()  # -N: close_notify, and the listener's run ends
        self.assertEqual(server.wait_exit(), 0, server.describe())

    def test_mutual_tls_refuses_a_client_without_certificate(self):
        # Refused with its line; the one-client listener waits for the next.
        server, port = self.good_server("--ssl-verify-client",
                                        "--ssl-trustfile", cert("ca.pem"))
        ctx = ssl.create_default_context(cafile=cert("ca.pem"))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", port)) as raw:
            with self.assertRaises(ssl.SSLError):
                ctx.wrap_socket(raw, server_hostname="localhost").close()
        server.err.wait_line(re.compile(rb"^sockit: 127\.0\.0\.1:\d+ sent "
                                        rb"no client certificate$"))
        self.assert_still_serving(
            server, port, "--ssl-trustfile", cert("ca.pem"), "--ssl-cert",
            cert("client.pem"), "--ssl-key", cert("client.key"),
            host="localhost")

    def test_plaintext_client_gets_a_clean_close(self):
        server, port = self.good_server()
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"hello\n")
            s.settimeout(TIMEOUT)
            self.assertEqual(s.recv(100), b"")  # a FIN: no alert, no reset
        server.err.wait_line(re.compile(rb'^sockit: 127\.0\.0\.1:\d+ is not '
                                        rb'speaking TLS \(got "hello\\x0a"\)$'))
        self.assertEqual(server.out.transcript, b"")
        self.assert_still_serving(server, port, "--ssl-trustfile",
                                  cert("ca.pem"), host="localhost")

    def test_failed_handshakes_leave_the_listener_to_the_right_client(self):
        # The man page's flow with every usual mistake first, all against
        # one listener: a wrong pin, no pin (unknown CA), plaintext, a -z
        # probe. Each is one line on the listener's stderr; the printed pin
        # stays good and the right client gets a byte-exact relay.
        server = self.run_proc([sockit(), "-l", "--ssl", "127.0.0.1", "0"])
        m = ANNOUNCE.search(server.err.wait_line(ANNOUNCE))
        argv = shlex.split(m.group(2).decode())
        port = int(argv[-1])
        wait_listening(port, proc=server)
        host = ["127.0.0.1", str(port)]
        wrong = self.run_proc([sockit(), "--ssl", "--ssl-pin",
                               fingerprint("good.pem")] + host)
        self.assertEqual(wrong.wait_exit(), 1, wrong.describe())
        server.err.wait_line(re.compile(
            rb'^sockit: 127\.0\.0\.1:\d+ refused the TLS handshake: '
            rb'alert "[a-z ]+"$'))
        nopin = self.run_proc([sockit(), "--ssl"] + host)
        self.assertEqual(nopin.wait_exit(), 1, nopin.describe())
        server.err.wait_line(re.compile(
            rb'^sockit: 127\.0\.0\.1:\d+ refused the TLS handshake: '
            rb'alert "unknown CA"$'))
        plain = self.run_proc([sockit(), "-N"] + host)
        plain.write(b"plain\n")
        plain.close_stdin()
        plain.wait_exit()
        server.err.wait_line(re.compile(
            rb'^sockit: 127\.0\.0\.1:\d+ is not speaking TLS'))
        probe = self.run_proc([sockit(), "-z"] + host)
        self.assertEqual(probe.wait_exit(), 0, probe.describe())
        server.err.wait_line(re.compile(
            rb"^sockit: 127\.0\.0\.1:\d+ closed the connection during the "
            rb"TLS handshake$"))
        self.assertIsNone(server.poll(), server.describe())
        self.assertEqual(server.out.transcript, b"")
        right = self.run_proc([sockit(), "-N"] + argv[1:])
        up = bytes(range(256)) * 256 + b"\r\n\x00end"
        down = bytes(reversed(range(256))) * 128
        right.write(up)
        self.assertEqual(server.out.read_exact(len(up)), up)
        server.write(down)
        self.assertEqual(right.out.read_exact(len(down)), down)
        right.close_stdin()
        self.assertEqual(server.wait_exit(), 0, server.describe())
        self.assertEqual(len(server.err.all_lines()), 5,
                         server.err.all_lines())

    def test_a_silent_client_is_bounded_by_i(self):
        # -i bounds each client's handshake (10 s without it); the silent
        # one is refused when it runs out and the listener takes the next.
        server, port = self.good_server("-i", "1")
        with socket.create_connection(("127.0.0.1", port)):
            server.err.wait_line(re.compile(
                rb"^sockit: TLS handshake with 127\.0\.0\.1:\d+: no answer "
                rb"for 1000 ms$"), timeout=1 + TIMEOUT)
        self.assert_still_serving(server, port, "--ssl-trustfile",
                                  cert("ca.pem"), host="localhost")

    def test_sigterm_during_the_handshake_exits_143(self):
        server, port = self.good_server("-v")
        with socket.create_connection(("127.0.0.1", port)):  # says nothing
            server.err.wait_line(re.compile(rb"^Connection received"))
            server.popen.terminate()
            self.assertEqual(server.wait_exit(), 143, server.describe())

    def test_truncation_is_reported_with_v(self):
        c, tls = self.client_to_python("-v")
        tls.sendall(b"partial\n")
        c.out.wait_line(b"partial")
        os.close(tls.detach())  # TCP closed under TLS: no close_notify
        self.assertEqual(c.wait_exit(), 0, c.describe())
        truncated = re.compile(
            rb"^sockit: 127\.0\.0\.1:\d+ closed the connection without TLS "
            rb"close_notify: the data may be truncated$")
        self.assertTrue([l for l in c.err.all_lines() if truncated.search(l)],
                        c.describe())

    def test_close_notify_from_us_on_stdin_eof_with_N(self):
        # -N: stdin EOF sends close_notify (TLS's half-close); Python sees
        # a clean TLS EOF, answers, and sockit gets every byte.
        c, tls = self.client_to_python("-N")
        c.write(b"last words\n")
        c.close_stdin()
        got = b""
        tls.settimeout(TIMEOUT)
        while True:
            chunk = tls.recv(100)  # b"" only for a close_notify
            if not chunk:
                break
            got += chunk
        self.assertEqual(got, b"last words\n")
        tls.sendall(b"reply after close_notify\n")
        tls.unwrap()
        tls.close()
        c.out.wait_line(b"reply after close_notify")
        self.assertEqual(c.wait_exit(), 0, c.describe())


@unittest.skipUnless(os.environ.get("SOCKIT_BIG_TESTS", "1") != "0",
                     "SOCKIT_BIG_TESTS=0")
class Bulk(SSLCase):
    def test_256_mib_byte_exact(self):
        size = 256 << 20
        src = os.path.join(tlsfix.CERTS, "big-in")
        dst = os.path.join(tlsfix.CERTS, "big-out")
        digest = hashlib.sha256()
        with open(src, "wb") as f:
            for _ in range(size >> 20):
                block = os.urandom(1 << 20)
                digest.update(block)
                f.write(block)
        with open(dst, "wb") as fout:
            server = subprocess.Popen(
                [sockit(), "-l", "--ssl", "127.0.0.1", "0"],
                stdin=subprocess.DEVNULL, stdout=fout, stderr=subprocess.PIPE)
            self.addCleanup(server.kill)
            err = LineReader(server.stderr, "server stderr")
            argv = shlex.split(ANNOUNCE.search(err.wait_line(ANNOUNCE))
                               .group(2).decode())
            wait_listening(int(argv[-1]))
            with open(src, "rb") as fin:
                client = subprocess.Popen([sockit(), "-N"] + argv[1:],
                                          stdin=fin,
                                          stdout=subprocess.DEVNULL)
                self.addCleanup(client.kill)
                self.assertEqual(server.wait(TIMEOUT * 24), 0)
                self.assertEqual(client.wait(TIMEOUT * 4), 0)
            server.stderr.close()
        self.assertEqual(os.path.getsize(dst), size)
        got = hashlib.sha256()
        with open(dst, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                got.update(block)
        self.assertEqual(got.hexdigest(), digest.hexdigest())
        os.unlink(src)
        os.unlink(dst)


if __name__ == "__main__":
    unittest.main()
