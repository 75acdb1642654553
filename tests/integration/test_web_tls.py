#!/usr/bin/env python3
"""sockit --chat -l --ssl PORT --web WPORT: the room in a browser over TLS.

The page is served over HTTPS and the WebSocket over wss, with the chat
listener's own certificate (tlsfix.py's test CA, or the ephemeral one).
Peers: Python's ssl (urllib for the page, a WebSocket client whose frames
are built here: RFC 6455 is simple enough for a test to speak), the
sockit --ssl client as the terminal side, and headless Chromium through
selenium, which trusts the server's key by its SPKI hash
(--ignore-certificate-errors-spki-list: that one key, not any
certificate as acceptInsecureCerts would).
"""

import base64
import hashlib
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tlsfix  # noqa: E402  (the certificates)
from common import (TIMEOUT, Proc, binary, free_port,  # noqa: E402
                    start_listener, wait_listening)

cert = tlsfix.cert
ANNOUNCE = re.compile(rb"^sockit: certificate (sha256:[0-9a-f]{64}); ")
WELCOME = re.compile(r"^\*\*\* you are (\S+):")


def setUpModule():
    tlsfix.make_certs()


def tearDownModule():
    tlsfix.remove_certs()
    if _driver is not None:
        _driver.quit()


def sockit():
    return binary("sockit", "")


def trusting():
    """A client context that trusts the test CA only."""
    return ssl.create_default_context(cafile=cert("ca.pem"))


def peer_fingerprint(port, ctx=None):
    """sha256:HEX of the certificate the TLS server on port presents."""
    if ctx is None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            der = t.getpeercert(binary_form=True)
    return "sha256:" + hashlib.sha256(der).hexdigest()


class WebSocket:
    """A blocking RFC 6455 client over a socket (TLS or not): the
    opening handshake, masked text frames out, frames in."""

    def __init__(self, test, sock, host, origin=None):
        self.sock, self.buf = sock, b""
        test.addCleanup(sock.close)
        sock.settimeout(TIMEOUT)
        key = base64.b64encode(os.urandom(16))
        sock.sendall(b"GET /chat HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket"
                     b"\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13"
                     b"\r\nSec-WebSocket-Protocol: sockit-chat\r\n%s"
                     b"Sec-WebSocket-Key: %s\r\n\r\n"
                     % (host.encode(), b"Origin: %s\r\n" % origin.encode()
                        if origin else b"", key))
        head = self._until(b"\r\n\r\n")
        self.status = head.split(b"\r\n", 1)[0]
        want = base64.b64encode(hashlib.sha1(
            key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        if b" 101 " in self.status:
            accept = re.search(rb"(?im)^sec-websocket-accept: *(\S+)", head)
            test.assertEqual(accept and accept.group(1), want, head)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("the server closed; got %r" % self.buf)
        self.buf += data

    def _until(self, end):
        while end not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(end)
        return head

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        head = struct.pack("!B", 0x81) + (
            struct.pack("!B", 0x80 | n) if n < 126 else
            struct.pack("!BH", 0x80 | 126, n))
        self.sock.sendall(head + mask + bytes(
            b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        """The next text message (str); EOFError at a close."""
        while True:
            b0, b1 = self._take(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._take(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._take(8))[0]
            payload = self._take(n)
            if b0 & 0x0F == 0x8:
                raise EOFError("close frame %r" % payload)
            if b0 & 0x0F == 0x1:
                return payload.decode()

    def wait(self, want):
        """Messages until want(text); returns that one."""
        deadline = time.monotonic() + TIMEOUT
        seen = []
        while time.monotonic() < deadline:
            text = self.recv()
            if want(text):
                return text
            seen.append(text)
        raise AssertionError("no such message; seen %r" % seen)


class WebTLSCase(unittest.TestCase):
    def serve(self, *ssl_flags, ephemeral=False):
        """sockit --chat -l --ssl with the good certificate (or none: the
        ephemeral one) and --web; sets self.port, self.wport."""
        self.wport = free_port()
        flags = list(ssl_flags) if ephemeral else [
            "--ssl-cert", cert("good.pem"), "--ssl-key", cert("good.key")
        ] + list(ssl_flags)
        self.server, self.port = start_listener(
            lambda p: [sockit(), "--chat", "-l", "--ssl"] + flags +
            ["127.0.0.1", str(p), "--web", str(self.wport)],
            on_start=lambda p: self.addCleanup(p.stop))
        self.assertTrue(wait_listening(self.wport, proc=self.server),
                        self.server.describe())
        self.origin = "https://127.0.0.1:%d" % self.wport
        return self.server

    def wss(self, ctx=None, origin=True):
        raw = socket.create_connection(("127.0.0.1", self.wport),
                                       timeout=TIMEOUT)
        self.addCleanup(raw.close)
        sock = (ctx or trusting()).wrap_socket(raw,
                                               server_hostname="127.0.0.1")
        return WebSocket(self, sock, "127.0.0.1:%d" % self.wport,
                         self.origin if origin else None)

    def terminal(self):
        """The terminal side: sockit --ssl verifying against the test CA;
        returns (proc, its name in the room)."""
        c = Proc([sockit(), "--ssl", "--ssl-trustfile", cert("ca.pem"),
                  "localhost", str(self.port)])
        self.addCleanup(c.stop)
        hello = c.out.read_line(TIMEOUT).decode()
        m = WELCOME.match(hello)
        self.assertTrue(m, hello + c.describe())
        return c, m.group(1)

    def get(self, path, ctx=None):
        return urllib.request.urlopen(
            "https://127.0.0.1:%d%s" % (self.wport, path), timeout=TIMEOUT,
            context=ctx or trusting())


class WebOverTLS(WebTLSCase):
    def test_page_over_https_with_the_csp(self):
        self.serve()
        r = self.get("/")
        self.assertEqual(r.status, 200)
        csp = r.headers["Content-Security-Policy"]
        self.assertIsNotNone(csp, dict(r.headers))
        self.assertIn("default-src 'self'", csp)
        self.assertIn("wss:", csp)
        self.assertIn('<script src="app.js"', r.read().decode())
        js = self.get("/app.js").read().decode()
        self.assertIn('"https:" ? "wss://" : "ws://"', js)  # follows the page
        # HTTP/1.1 by ALPN, even to a client that prefers h2.
        alpn = trusting()
        alpn.set_alpn_protocols(["h2", "http/1.1"])
        with socket.create_connection(("127.0.0.1", self.wport),
                                      timeout=TIMEOUT) as s:
            with alpn.wrap_socket(s, server_hostname="127.0.0.1") as t:
                self.assertEqual(t.selected_alpn_protocol(), "http/1.1")
        # One certificate for both ports: the one given.
        self.assertEqual(peer_fingerprint(self.wport, trusting()),
                         tlsfix.fingerprint("good.pem"))
        self.assertEqual(peer_fingerprint(self.port, trusting()),
                         tlsfix.fingerprint("good.pem"))

    def test_wss_line_reaches_a_terminal_client_and_back(self):
        self.serve()
        ws = self.wss()
        self.assertIn(b" 101 ", ws.status)
        name = WELCOME.match(ws.wait(WELCOME.match)).group(1)
        term, tname = self.terminal()
        ws.send("hello over wss 你好")
        term.out.wait_line(("<%s> hello over wss 你好" % name).encode())
        term.write("and back over TLS\n".encode())
        ws.wait(lambda t: t == "<%s> and back over TLS" % tname)

    def test_http_to_the_https_port_is_redirected_and_closed(self):
        self.serve()
        with socket.create_connection(("127.0.0.1", self.wport),
                                      timeout=TIMEOUT) as s:
            s.sendall(b"GET /app.js HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
                      % self.wport)
            # The response ends with its headers (content-length: 0); the
            # connection may then stay open as HTTP/1.1 allows, until lws's
            # idle timeout (about 5 s, as long as TIMEOUT: not read to EOF).
            got = b""
            while b"\r\n\r\n" not in got:
                data = s.recv(65536)  # a reset would raise here
                self.assertTrue(data, "closed before the response: %r" % got)
                got += data
            self.assertIn(b"\r\ncontent-length: 0\r\n", got.lower())
            s.settimeout(4 * TIMEOUT)  # then a clean close, not a reset
            self.assertEqual(s.recv(65536), b"")
        self.assertRegex(got, rb"^HTTP/1\.1 301 ")
        self.assertIn(b"\r\nlocation: https://127.0.0.1:%d/" % self.wport,
                      got.lower())
        self.assertNotIn(b"textContent", got)  # not the page itself
        # A plaintext WebSocket is refused: no 101, a close.
        with self.assertRaises(EOFError):
            WebSocket(self, socket.create_connection(
                ("127.0.0.1", self.wport), timeout=TIMEOUT),
                "127.0.0.1:%d" % self.wport)
        # The server keeps serving, over TLS.
        self.assertEqual(self.get("/").status, 200)
        ws = self.wss()
        ws.wait(WELCOME.match)

    def test_the_ephemeral_certificate_serves_both_ports(self):
        server = self.serve(ephemeral=True)
        line = server.err.wait_line(ANNOUNCE)
        fp = ANNOUNCE.match(line).group(1).decode()
        self.assertEqual(peer_fingerprint(self.wport), fp)
        self.assertEqual(peer_fingerprint(self.port), fp)
        ws = self.wss(ctx=ssl._create_unverified_context())
        ws.wait(WELCOME.match)
        announced = [l for l in server.err.all_lines() if ANNOUNCE.match(l)]
        self.assertEqual(len(announced), 1, server.describe())

    def test_the_test_ca_must_match(self):
        """A client trusting only the system CAs refuses the page: the
        web side presents the test certificate, not a hidden other one."""
        self.serve()
        with self.assertRaises(ssl.SSLCertVerificationError):
            peer_fingerprint(self.wport, ssl.create_default_context())


class WebTLSStop(WebTLSCase):
    def test_sigterm_with_wss_members_closes_them_and_exits(self):
        server = self.serve()
        a, b = self.wss(), self.wss()
        a.wait(WELCOME.match)
        b.wait(WELCOME.match)
        term, _ = self.terminal()
        server.popen.send_signal(signal.SIGTERM)
        self.assertEqual(server.wait_exit(), 143, server.describe())
        for ws in (a, b):
            with self.assertRaises((EOFError, ConnectionError)):
                while True:
                    ws.recv()
        term.out.wait_eof()


class WebClientCertificates(WebTLSCase):
    """--ssl-verify-client: a browser without a certificate from the
    trusted CAs gets neither the page nor the room."""

    def test_client_certificate_required_on_the_web_port_too(self):
        self.serve("--ssl-verify-client", "--ssl-trustfile", cert("ca.pem"))
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            self.get("/").read()
        with self.assertRaises((ssl.SSLError, ConnectionError, EOFError,
                                OSError)):
            self.wss()
        ctx = trusting()
        ctx.load_cert_chain(cert("client.pem"), cert("client.key"))
        self.assertEqual(self.get("/", ctx).status, 200)
        ws = self.wss(ctx)
        name = WELCOME.match(ws.wait(WELCOME.match)).group(1)
        self.assertTrue(name)


# ------------------------------------------------------------- browser

_driver = None


def spki_hash(pem_path):
    """base64 SHA-256 of a certificate's public key (SPKI), Chromium's
    --ignore-certificate-errors-spki-list form."""
    pem = subprocess.run(["openssl", "x509", "-in", pem_path, "-noout",
                          "-pubkey"], check=True, stdout=subprocess.PIPE)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                         input=pem.stdout, check=True, stdout=subprocess.PIPE)
    return base64.b64encode(hashlib.sha256(der.stdout).digest()).decode()


def driver():
    """One headless Chromium for the file, trusting only the test server's
    key (no acceptInsecureCerts: any other certificate is refused)."""
    global _driver
    if _driver is None:
        import browser
        _driver = browser.start_chromium(
            "--ignore-certificate-errors-spki-list=" +
            spki_hash(cert("good.pem")))
    return _driver


class BrowserOverTLS(WebTLSCase):
    def test_chromium_chats_over_wss(self):
        d = driver()
        from test_web import Page
        self.serve()
        page = Page(d, "https://127.0.0.1:%d/" % self.wport)
        self.addCleanup(page.close)
        name = page.name()
        self.assertEqual(d.execute_script("return location.protocol;"),
                         "https:")
        term, tname = self.terminal()
        page.say("from chromium over wss ✓")
        term.out.wait_line(
            ("<%s> from chromium over wss ✓" % name).encode())
        term.write(b"<b>to chromium</b>\n")
        page.wait_line(lambda l: l == "<%s> <b>to chromium</b>" % tname)


if __name__ == "__main__":
    unittest.main()
