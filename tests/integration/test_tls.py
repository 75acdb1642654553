"""TLS toolkit (sockit/tls.h) through tests/tls/tls_probe, against real peers.

Certificates are made here with the openssl command, in a temporary
directory, once per run: a CA, a good server certificate for localhost and
127.0.0.1, an expired one, one not yet valid, one for another host name, a
self-signed one, and a client certificate. Peers: openssl s_server and
s_client, ncat --ssl, socat OPENSSL, Python's ssl module.

Every refusal is checked for its one-line message and exit code 1.
"""

import hashlib
import os
import re
import socket
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tlsfix  # noqa: E402
from common import (TIMEOUT, LineReader, Proc, binary,  # noqa: E402
                    start_listener, wait_listening)

# The certificates are tlsfix.py's. The names below stay for test files
# written against test_tls: they set test_tls.CERTS, call make_certs(),
# then use cert() and fingerprint().
CERTS = None
cert, fingerprint = tlsfix.cert, tlsfix.fingerprint


def make_certs():
    tlsfix.make_certs(CERTS)


def setUpModule():
    global CERTS
    CERTS = tlsfix.make_certs()


def tearDownModule():
    tlsfix.remove_certs()


def probe():
    return binary("tls_probe", os.path.join("tests", "tls"))


LISTENING = re.compile(
    rb"listening on (\S+):(\d+), certificate (sha256:[0-9a-f]{64})$")


class TLSCase(unittest.TestCase):
    def run_proc(self, argv):
        p = Proc(argv)
        self.addCleanup(p.stop)
        return p

    def s_server(self, name, *extra, host="127.0.0.1"):
        """openssl s_server with certificate name on a free port, one
        client; returns (proc, port)."""
        def argv(port):
            where = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (
                host, port)
            return ["openssl", "s_server", "-quiet", "-naccept", "1",
                    "-accept", where,
                    "-cert", cert(name + ".pem"),
                    "-key", cert(name + ".key")] + list(extra)
        return self.listener(argv, host)

    def listener(self, argv, host="127.0.0.1"):
        return start_listener(argv, host=host,
                              on_start=lambda p: self.addCleanup(p.stop))

    def client(self, port, *opts, host="127.0.0.1"):
        return self.run_proc([probe()] + list(opts) + [host, str(port)])

    def probe_server(self, *opts, host="127.0.0.1"):
        """tls_probe -l on an OS-chosen port: (proc, port, fingerprint)."""
        p = self.run_proc([probe(), "-l"] + list(opts) + [host, "0"])
        m = LISTENING.search(p.err.wait_line(LISTENING))
        port = int(m.group(2))
        wait_listening(port, proc=p)
        return p, port, m.group(3).decode()

    def assert_refused(self, proc, pattern):
        """The probe exits 1 with one stderr line matching pattern."""
        self.assertEqual(proc.wait_exit(), 1, proc.describe())
        lines = [l for l in proc.err.all_lines() if not LISTENING.search(l)]
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0].decode(), "^tls_probe: " + pattern)

    def exchange(self, a, b):
        """a's stdin reaches b's stdout and back."""
        a.write(b"ping from a\n")
        b.out.wait_line(b"ping from a")
        b.write(b"pong from b\n")
        a.out.wait_line(b"pong from b")


class Refusals(TLSCase):
    """Every refusal: one line a person can act on, exit 1."""

    def refused_by(self, name, pattern, *opts, host="127.0.0.1"):
        server, port = self.s_server(name)
        c = self.client(port, *opts, host=host)
        self.assert_refused(c, pattern)

    def test_unknown_issuer_without_trustfile(self):
        # Verified by default: the system store does not know the test CA.
        self.refused_by("good", r"certificate of 127\.0\.0\.1:\d+ is issued by "
                        r"an unknown authority \(CN=localhost, issuer "
                        r"CN=sockit test CA\)$")

    def test_expired(self):
        self.refused_by("expired", r"certificate of 127\.0\.0\.1:\d+ expired "
                        r"on 2020-01-02 00:00:00 UTC \(CN=localhost\)$",
                        "--trustfile", cert("ca.pem"))

    def test_not_yet_valid(self):
        self.refused_by("future", r"certificate of 127\.0\.0\.1:\d+ is not "
                        r"valid until 2099-01-01 00:00:00 UTC "
                        r"\(CN=localhost\)$",
                        "--trustfile", cert("ca.pem"))

    def test_self_signed(self):
        self.refused_by("self", r"certificate of 127\.0\.0\.1:\d+ is "
                        r"self-signed and not trusted \(CN=localhost, %s\)$"
                        % fingerprint("self.pem"))

    def test_host_name_mismatch_names_the_certificate_names(self):
        self.refused_by("wronghost", r'certificate of localhost:\d+ is for '
                        r'"other\.example", "www\.other\.example", not '
                        r'"localhost"$', "--trustfile", cert("ca.pem"),
                        host="localhost")

    def test_ip_mismatch(self):
        self.refused_by("wronghost", r'certificate of 127\.0\.0\.1:\d+ is for '
                        r'"other\.example", "www\.other\.example", not '
                        r'"127\.0\.0\.1"$', "--trustfile", cert("ca.pem"))

    def test_ipv6_address_mismatch(self):
        server, port = self.s_server("good", host="::1")
        c = self.client(port, "--trustfile", cert("ca.pem"), host="::1")
        self.assert_refused(c, r'certificate of \[::1\]:\d+ is for '
                            r'"localhost", "127\.0\.0\.1", not "::1"$')

    def test_pin_mismatch_shows_both_fingerprints(self):
        want = fingerprint("good.pem")
        self.refused_by("self", r"certificate of 127\.0\.0\.1:\d+ has "
                        r"fingerprint %s, not the pinned %s$"
                        % (fingerprint("self.pem"), want), "--pin", want)

    def test_alert_from_the_peer(self):
        # TLS 1.2 server demanding a client certificate: it ends the
        # handshake with an alert the client names.
        server, port = self.s_server("good", "-tls1_2", "-Verify", "1")
        c = self.client(port, "--trustfile", cert("ca.pem"))
        self.assert_refused(c, r'127\.0\.0\.1:\d+ refused the TLS handshake: '
                            r'alert "handshake failure"$')

    def test_alert_after_the_handshake(self):
        # TLS 1.3: the server checks the client's certificate after the
        # client finished; its alert arrives on the first read, named
        # (OpenSSL 3.0 itself calls alert 116 "unknown").
        server, port = self.s_server("good", "-Verify", "1")
        c = self.client(port, "--trustfile", cert("ca.pem"))
        self.assert_refused(c, r'127\.0\.0\.1:\d+ ended the TLS session: '
                            r'alert "certificate required"$')

    def test_plaintext_server(self):
        with socket.socket() as ls:
            ls.bind(("127.0.0.1", 0))
            ls.listen()
            port = ls.getsockname()[1]
            c = self.client(port, "--trustfile", cert("ca.pem"))
            conn, _ = ls.accept()
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                self.assert_refused(c, r'127\.0\.0\.1:%d is not speaking TLS '
                                    r'\(got "HTTP/1\.1 400"\.\.\.\)$' % port)

    def test_bad_pin_is_a_usage_error(self):
        c = self.client(1, "--pin", "sha1:abcd")
        self.assertEqual(c.wait_exit(), 2)
        self.assertRegex(c.err.all_lines()[0].decode(),
                         r'^tls_probe: pin "sha1:abcd": expected sha256: and '
                         r'64 hex digits')

    def test_pin_with_insecure_or_trustfile_is_a_usage_error(self):
        # Either would make the other flag silently ignored.
        for extra, what in ((["--insecure"], "insecure"),
                            (["--trustfile", cert("ca.pem")], "a trust file")):
            c = self.client(1, "--pin", fingerprint("self.pem"), *extra)
            self.assertEqual(c.wait_exit(), 2)
            self.assertEqual(c.err.all_lines(), [
                b"tls_probe: a pin excludes %s: give one" % what.encode()])

    def test_missing_trustfile_is_a_usage_error(self):
        c = self.client(1, "--trustfile", cert("nope.pem"))
        self.assertEqual(c.wait_exit(), 2)
        self.assertEqual(c.err.all_lines(), [
            ('tls_probe: trust file "%s": No such file or directory'
             % cert("nope.pem")).encode()])


class Files(TLSCase):
    """Certificate and key files: one line each, exit 2, no prompt."""

    def refused_file(self, opts, line):
        p = self.run_proc([probe(), "-l"] + opts + ["127.0.0.1", "0"])
        p.close_stdin()  # a pass phrase prompt would read EOF, not hang
        self.assertEqual(p.wait_exit(), 2, p.describe())
        self.assertEqual(p.err.all_lines(), [b"tls_probe: " + line.encode()])

    def test_encrypted_key_is_refused_without_a_prompt(self):
        enc = cert("enc.key")
        tlsfix.openssl("pkey", "-in", "good.key", "-aes128", "-passout",
                 "pass:secret", "-out", enc)
        self.refused_file(["--cert", cert("good.pem"), "--key", enc],
                          'key file "%s": the key is encrypted; give it '
                          'decrypted (openssl pkey -in KEY)' % enc)

    def test_key_of_another_certificate(self):
        self.refused_file(["--cert", cert("good.pem"), "--key",
                           cert("self.key")],
                          'key file "%s": the key does not match the '
                          'certificate' % cert("self.key"))

    def test_no_key_in_the_certificate_file(self):
        self.refused_file(["--cert", cert("good.pem")],
                          'key file "%s": no PEM private key in it'
                          % cert("good.pem"))

    def test_no_certificate_in_the_file(self):
        self.refused_file(["--cert", cert("good.key")],
                          'certificate file "%s": no PEM certificate in it'
                          % cert("good.key"))


class ClientAccepts(TLSCase):
    """The probe as a client: what it accepts, and data both ways."""

    def accepted(self, name, *opts, host="127.0.0.1", server_opts=()):
        server, port = self.s_server(name, *server_opts)
        c = self.client(port, "-v", *opts, host=host)
        self.exchange(c, server)
        return c, server

    def test_ca_signed_by_ip_and_by_name(self):
        self.accepted("good", "--trustfile", cert("ca.pem"))
        self.accepted("good", "--trustfile", cert("ca.pem"), host="localhost")

    def test_pin_accepts_exactly_that_certificate(self):
        # Self-signed and for any name: the pin is all that is checked.
        c, _ = self.accepted("self", "--pin", fingerprint("self.pem"))
        c.err.wait_line(re.compile(b"peer " + fingerprint("self.pem").encode()))

    def test_pin_takes_openssl_fingerprint_with_colons(self):
        out = subprocess.run(["openssl", "x509", "-in", cert("self.pem"),
                              "-noout", "-fingerprint", "-sha256"],
                             capture_output=True, text=True, check=True).stdout
        colons = out.strip().split("=", 1)[1]  # AB:CD:..., upper case
        self.accepted("self", "--pin", "SHA256:" + colons)

    def test_insecure_accepts_and_warns(self):
        c, _ = self.accepted("expired", "--insecure")
        self.assertIn(b"warning: certificate verification is off",
                      c.err.all_lines()[0])

    def test_servername_is_sent_and_checked(self):
        # Connected to 127.0.0.1, the name checked is the one given; the
        # server sees it as SNI (s_server -servername answers only it).
        # Without SNI the server would show good.pem, for localhost.
        self.accepted("good", "--trustfile", cert("ca.pem"),
                      "--servername", "www.other.example",
                      server_opts=("-servername", "www.other.example",
                                   "-cert2", cert("wronghost.pem"),
                                   "-key2", cert("wronghost.key")))

    def test_alpn(self):
        c, _ = self.accepted("good", "--trustfile", cert("ca.pem"), "--alpn",
                             "h2,http/1.1", server_opts=("-alpn", "http/1.1"))
        c.err.wait_line(re.compile(rb'alpn "http/1\.1"'))

    def test_client_certificate_for_mutual_tls(self):
        self.accepted("good", "--trustfile", cert("ca.pem"), "--cert",
                      cert("client.pem"), "--key", cert("client.key"),
                      server_opts=("-Verify", "1", "-verify_return_error",
                                   "-CAfile", cert("ca.pem")))

    def test_close_notify_both_ways(self):
        # stdin EOF sends close_notify; s_server answers with its own and
        # the probe exits 0 without reporting a truncation.
        server, port = self.s_server("good")
        c = self.client(port, "-v", "--trustfile", cert("ca.pem"))
        self.exchange(c, server)
        c.close_stdin()
        self.assertEqual(c.wait_exit(), 0, c.describe())
        self.assertFalse([l for l in c.err.all_lines() if b"truncated" in l])

    def test_truncated_stream_is_reported_with_v(self):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert("good.pem"), cert("good.key"))
        with socket.socket() as ls:
            ls.bind(("127.0.0.1", 0))
            ls.listen()
            port = ls.getsockname()[1]
            c = self.client(port, "-v", "--trustfile", cert("ca.pem"))
            conn, _ = ls.accept()
            tls = ctx.wrap_socket(conn, server_side=True)
            tls.sendall(b"partial\n")
            c.out.wait_line(b"partial")
            # Close the TCP connection under TLS: no close_notify.
            os.close(tls.detach())
            self.assertEqual(c.wait_exit(), 0, c.describe())
        self.assertRegex(c.err.all_lines()[-1].decode(),
                         r"^tls_probe: 127\.0\.0\.1:\d+ closed the connection "
                         r"without TLS close_notify: the data may be "
                         r"truncated$")

    def test_ncat_server(self):
        def argv(port):
            return ["ncat", "--ssl", "--ssl-cert", cert("good.pem"),
                    "--ssl-key", cert("good.key"), "-l", "127.0.0.1", str(port)]
        server, port = self.listener(argv)
        c = self.client(port, "--trustfile", cert("ca.pem"), host="localhost")
        self.exchange(c, server)

    def test_socat_server(self):
        def argv(port):
            return ["socat", "-", "OPENSSL-LISTEN:%d,bind=127.0.0.1,reuseaddr,"
                    "cert=%s,key=%s,verify=0" % (port, cert("good.pem"),
                                                 cert("good.key"))]
        server, port = self.listener(argv)
        c = self.client(port, "--trustfile", cert("ca.pem"))
        self.exchange(c, server)

    def test_python_server_tls12(self):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert("good.pem"), cert("good.key"))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.socket() as ls:
            ls.bind(("127.0.0.1", 0))
            ls.listen()
            c = self.client(ls.getsockname()[1], "-v", "--trustfile",
                            cert("ca.pem"))
            conn, _ = ls.accept()
            with ctx.wrap_socket(conn, server_side=True) as tls:
                c.write(b"over tls 1.2\n")
                self.assertEqual(LineReader(tls).read_line(), b"over tls 1.2")
                tls.sendall(b"back\n")
                c.out.wait_line(b"back")
            c.err.wait_line(re.compile(rb"^tls_probe: TLSv1\.2 "))


class Server(TLSCase):
    """The probe as a server: ephemeral or given certificate, peers as
    clients."""

    def test_ephemeral_fingerprint_is_the_certificate_sha256(self):
        # What the server prints is what a client sees and --pin takes.
        server, port, fp = self.probe_server()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", port))
        with ctx.wrap_socket(raw) as s:
            der = s.getpeercert(binary_form=True)
            self.assertEqual(fp, "sha256:" + hashlib.sha256(der).hexdigest())
            s.sendall(b"hi\n")
            server.out.wait_line(b"hi")

    def test_ephemeral_pinned_by_the_probe_client(self):
        for host in ("127.0.0.1", "::1"):
            server, port, fp = self.probe_server(host=host)
            c = self.client(port, "--pin", fp, host=host)
            self.exchange(c, server)

    def test_ephemeral_certificate_names_localhost(self):
        # CN is the listen host; the SAN lets a client that trusts the
        # certificate check localhost, 127.0.0.1 or ::1.
        server, port, fp = self.probe_server()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", port))
        with ctx.wrap_socket(raw) as s:
            der = s.getpeercert(binary_form=True)
        text = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout",
                               "-subject", "-ext", "subjectAltName"],
                              input=der, capture_output=True, check=True
                              ).stdout.decode()
        self.assertIn("subject=CN = 127.0.0.1", text)
        self.assertIn("DNS:localhost, IP Address:127.0.0.1, "
                      "IP Address:0:0:0:0:0:0:0:1", text)

    def test_s_client_verifies_given_certificate(self):
        server, port, fp = self.probe_server("--cert", cert("good.pem"),
                                             "--key", cert("good.key"))
        self.assertEqual(fp, fingerprint("good.pem"))
        c = self.run_proc(["openssl", "s_client", "-quiet",
                           "-verify_return_error", "-CAfile", cert("ca.pem"),
                           "-verify_hostname", "localhost",
                           "-connect", "127.0.0.1:%d" % port])
        self.exchange(c, server)

    def test_ncat_client_verifies(self):
        server, port, _ = self.probe_server("--cert", cert("good.pem"),
                                            "--key", cert("good.key"))
        c = self.run_proc(["ncat", "--ssl", "--ssl-verify", "--ssl-trustfile",
                           cert("ca.pem"), "localhost", str(port)])
        self.exchange(c, server)

    def test_socat_client(self):
        server, port, _ = self.probe_server("--cert", cert("good.pem"),
                                            "--key", cert("good.key"))
        c = self.run_proc(["socat", "-", "OPENSSL:127.0.0.1:%d,cafile=%s,"
                           "commonname=localhost" % (port, cert("ca.pem"))])
        self.exchange(c, server)

    def test_probe_client_against_probe_server_alpn(self):
        server, port, fp = self.probe_server("-v", "--alpn", "x-sockit,h2")
        c = self.client(port, "-v", "--pin", fp, "--alpn", "h2")
        self.exchange(c, server)
        for p in (c, server):
            p.err.wait_line(re.compile(rb'alpn "h2"'))

    def bulk(self, sender_is_client):
        """4 MiB one way, partial writes and WANT_* included: the sender's
        stdin EOF sends close_notify, the receiver (whose stdin stays open
        and silent) gets every byte, answers, and both exit 0."""
        blob = os.urandom(4 << 20)
        src, dst = cert("bulk-in"), cert("bulk-out")
        with open(src, "wb") as f:
            f.write(blob)
        silent_r, silent_w = os.pipe()
        self.addCleanup(os.close, silent_w)
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            s_io = (fin, subprocess.DEVNULL) if not sender_is_client else (
                silent_r, fout)
            c_io = (fin, subprocess.DEVNULL) if sender_is_client else (
                silent_r, fout)
            server = subprocess.Popen([probe(), "-l", "127.0.0.1", "0"],
                                      stdin=s_io[0], stdout=s_io[1],
                                      stderr=subprocess.PIPE)
            self.addCleanup(server.kill)
            err = LineReader(server.stderr, "server stderr")
            m = LISTENING.search(err.wait_line(LISTENING))
            client = subprocess.Popen([probe(), "--pin", m.group(3).decode(),
                                       "127.0.0.1", m.group(2).decode()],
                                      stdin=c_io[0], stdout=c_io[1])
            self.addCleanup(client.kill)
            os.close(silent_r)
            self.assertEqual(client.wait(TIMEOUT * 4), 0)
            self.assertEqual(server.wait(TIMEOUT * 4), 0)
            server.stderr.close()
        with open(dst, "rb") as f:
            got = f.read()
        self.assertEqual(len(got), len(blob))
        self.assertTrue(got == blob, "the bytes differ")

    def test_bulk_client_to_server(self):
        self.bulk(sender_is_client=True)

    def test_bulk_server_to_client(self):
        self.bulk(sender_is_client=False)

    def test_mutual_tls(self):
        server, port, _ = self.probe_server("--verify-client", "--trustfile",
                                            cert("ca.pem"))
        c = self.run_proc(["openssl", "s_client", "-quiet", "-cert",
                           cert("client.pem"), "-key", cert("client.key"),
                           "-connect", "127.0.0.1:%d" % port])
        self.exchange(c, server)

    def test_mutual_tls_refuses_client_without_certificate(self):
        server, port, _ = self.probe_server("--verify-client", "--trustfile",
                                            cert("ca.pem"))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", port)) as raw:
            with self.assertRaises(ssl.SSLError):
                ctx.wrap_socket(raw).close()
        self.assert_refused(server, r"127\.0\.0\.1:\d+ sent no client "
                            r"certificate$")

    def test_mutual_tls_refuses_untrusted_client_certificate(self):
        server, port, _ = self.probe_server("--verify-client", "--trustfile",
                                            cert("ca.pem"))
        c = self.run_proc(["openssl", "s_client", "-quiet", "-cert",
                           cert("self.pem"), "-key", cert("self.key"),
                           "-connect", "127.0.0.1:%d" % port])
        self.assert_refused(server, r"certificate of 127\.0\.0\.1:\d+ is "
                            r"self-signed and not trusted \(CN=localhost, "
                            r"%s\)$" % fingerprint("self.pem"))
        c.wait_exit()

    def test_plaintext_client_gets_a_clean_close(self):
        server, port, _ = self.probe_server()
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"hello\n")
            s.settimeout(TIMEOUT)
            # Nothing but the close: no TLS alert bytes to a plaintext peer.
            self.assertEqual(s.recv(100), b"")
        self.assert_refused(server, r'127\.0\.0\.1:\d+ is not speaking TLS '
                            r'\(got "hello\\x0a"\)$')


if __name__ == "__main__":
    unittest.main()
