#!/usr/bin/env python3
"""sockit --chat -l PORT --web WPORT: the room in a real browser.

Debian's chromium, headless, driven by python3-selenium through
chromium-driver, talks with nc clients in the same room. Chromium not
starting, like a missing selenium module, is a failure (install-deps
test installs both)."""

import os
import signal
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (TIMEOUT, Proc, binary, free_port, start_listener,  # noqa
                    wait_listening, LineReader)

import browser  # noqa: E402  (Chromium; also makes selenium importable)
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

_driver = None


def driver():
    """One headless Chromium for the file."""
    global _driver
    if _driver is None:
        _driver = browser.start_chromium()
    return _driver


def tearDownModule():
    if _driver is not None:
        _driver.quit()


def sockit():
    return binary("sockit", "")


class Page:
    """One browser window on the web client."""

    def __init__(self, d, url):
        self.d = d
        d.switch_to.new_window("window")
        self.handle = d.current_window_handle
        d.set_window_size(*browser.PHONE)
        d.get(url)

    def focus(self):
        if self.d.current_window_handle != self.handle:
            self.d.switch_to.window(self.handle)

    def lines(self):
        self.focus()
        return self.d.execute_script(
            "return Array.from(document.querySelectorAll('#log .line'))"
            ".map(function (e) { return e.textContent; });")

    def wait_line(self, want, start=0, timeout=None):
        """The first line from index start on that want(line) accepts."""
        deadline = time.monotonic() + (timeout or TIMEOUT)
        while True:
            lines = self.lines()
            for line in lines[start:]:
                if want(line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError("no such line within %.1fs; page has %r"
                                     % (timeout or TIMEOUT, lines))
            time.sleep(0.05)  # polling the DOM, bounded by the deadline

    def name(self, start=0):
        line = self.wait_line(lambda l: l.startswith("*** you are "), start)
        return line.split()[3].rstrip(":")

    def say(self, text):
        self.focus()
        box = self.d.find_element(By.ID, "input")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)

    def close(self):
        self.focus()
        self.d.close()
        rest = self.d.window_handles
        if rest:
            self.d.switch_to.window(rest[0])


class WebChat(unittest.TestCase):
    def setUp(self):
        self.d = driver()
        self.start()

    def start(self, port=None, wport=None):
        wport = wport or free_port()
        argv = lambda p: [sockit(), "--chat", "-l", "127.0.0.1",  # noqa
                          str(p), "--web", str(wport)]
        if port:  # again on the same ports, as a restarted server is
            self.server, self.port = Proc(argv(port)), port
            self.addCleanup(self.server.stop)
            self.assertTrue(wait_listening(port, proc=self.server),
                            self.server.describe())
        else:
            self.server, self.port = start_listener(
                argv, on_start=lambda p: self.addCleanup(p.stop))
        self.assertTrue(wait_listening(wport, proc=self.server),
                        self.server.describe())
        self.wport = wport
        self.url = "http://127.0.0.1:%d/" % wport

    def page(self):
        p = Page(self.d, self.url)
        self.addCleanup(p.close)
        return p

    def nc(self):
        c = Proc(["nc", "127.0.0.1", str(self.port)])
        self.addCleanup(c.stop)
        hello = c.out.read_line(TIMEOUT).decode()
        self.assertTrue(hello.startswith("*** you are "), hello)
        return c, hello.split()[3].rstrip(":")

    def test_two_pages_and_nc_chat_in_chinese_too(self):
        a, b = self.page(), self.page()
        na, nb = a.name(), b.name()
        c, nc_name = self.nc()
        self.assertEqual(len({na, nb, nc_name}), 3)
        a.say("hello from a 你好，世界")
        want = "<%s> hello from a 你好，世界" % na
        b.wait_line(lambda l: l == want)
        c.out.wait_line(lambda l: l.decode() == want, TIMEOUT)
        c.write("from nc 中文测试 ok\n")
        want = "<%s> from nc 中文测试 ok" % nc_name
        a.wait_line(lambda l: l == want)
        b.wait_line(lambda l: l == want)
        b.say("/nick 小明")  # commands work from the browser
        want = "*** %s is now 小明" % nb
        a.wait_line(lambda l: l == want)
        c.out.wait_line(lambda l: l.decode() == want, TIMEOUT)

    def test_markup_is_shown_as_text(self):
        a = self.page()
        a.name()
        c, nc_name = self.nc()
        evil = ("<script>window.pwned=1;alert(1)</script>"
                "<img src=x onerror=\"window.pwned=2;alert(2)\"><b>bold</b>")
        c.write(evil + "\n")
        want = "<%s> %s" % (nc_name, evil)
        a.wait_line(lambda l: l == want)
        a.say("<img src=y onerror=alert(3)> from the page")
        want = "<%s> <img src=y onerror=alert(3)> from the page" % a.name()
        c.out.wait_line(lambda l: l.decode() == want, TIMEOUT)
        a.wait_line(lambda l: l == want)  # the page's own copy, as text
        made = self.d.execute_script(
            "return document.querySelectorAll('#log script, #log img, "
            "#log b').length;")
        self.assertEqual(made, 0, "markup became elements")
        self.assertIsNone(self.d.execute_script("return window.pwned;"))
        with self.assertRaises(NoAlertPresentException):
            self.d.switch_to.alert.text

    def test_page_recovers_after_a_server_restart(self):
        a = self.page()
        first = a.name()
        seen = len(a.lines())
        self.server.popen.send_signal(signal.SIGTERM)
        self.server.wait_exit()
        status = lambda: self.d.execute_script(  # noqa: E731
            "return document.getElementById('status').textContent;")
        deadline = time.monotonic() + TIMEOUT
        while "disconnected" not in status():
            self.assertLess(time.monotonic(), deadline, status())
            time.sleep(0.05)
        self.start(self.port, self.wport)
        again = a.name(seen)  # reconnected by itself: a new member
        self.assertTrue(again.startswith("user"), (first, again))
        c, nc_name = self.nc()
        a.say("back again")
        c.out.wait_line(lambda l: l.decode() == "<%s> back again" % again,
                        TIMEOUT)

    def test_phone_width(self):
        a = self.page()
        a.name()
        a.focus()
        width, scroll, right = self.d.execute_script(
            "var r = document.getElementById('send').getBoundingClientRect();"
            "return [window.innerWidth, document.documentElement.scrollWidth,"
            " r.right];")
        self.assertLessEqual(width, browser.PHONE[0])
        self.assertLessEqual(scroll, width, "the page scrolls sideways")
        self.assertLessEqual(right, width, "the send button is off screen")
        viewport = self.d.find_element(By.CSS_SELECTOR, "meta[name=viewport]")
        self.assertIn("width=device-width", viewport.get_attribute("content"))


class WebHttp(unittest.TestCase):
    """The page's headers, without a browser."""

    def setUp(self):
        self.wport = free_port()
        self.server, self.port = start_listener(
            lambda p: [sockit(), "--chat", "-l", "127.0.0.1", str(p),
                       "--web", str(self.wport)],
            on_start=lambda p: self.addCleanup(p.stop))
        self.assertTrue(wait_listening(self.wport, proc=self.server))

    def get(self, path):
        return urllib.request.urlopen("http://127.0.0.1:%d%s" %
                                      (self.wport, path), timeout=TIMEOUT)

    def test_csp_and_types(self):
        r = self.get("/")
        csp = r.headers["Content-Security-Policy"]
        self.assertIsNotNone(csp, dict(r.headers))
        self.assertIn("default-src 'self'", csp)
        self.assertIn("connect-src 'self' ws: wss:", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertTrue(r.headers["Content-Type"].startswith("text/html"))
        body = r.read().decode()
        self.assertIn('<script src="app.js"', body)
        self.assertNotIn("<script>", body)  # no inline script
        r = self.get("/app.js")
        self.assertTrue(r.headers["Content-Type"].startswith(
            "text/javascript"))
        self.assertIn("textContent", r.read().decode())
        with self.assertRaises(urllib.error.HTTPError) as e:
            self.get("/../etc/passwd")
        self.assertEqual(e.exception.code, 404)


    def test_http2_request_is_served_and_the_server_lives(self):
        """curl --http2 asks for an h2c upgrade, which lws answers in h2:
        lws_write then puts a frame header in the LWS_PRE bytes before
        the data, and the page's files, sent from read-only memory, made
        that a segfault: any client could end the chat."""
        url = "http://127.0.0.1:%d/app.js" % self.wport
        h2 = subprocess.run(["curl", "-s", "-m", str(TIMEOUT), "--http2",
                             "-w", "\n%{http_version}", url],
                            stdout=subprocess.PIPE)
        body, _, version = h2.stdout.rpartition(b"\n")
        self.assertEqual(version, b"2", h2)
        self.assertIn(b"textContent", body)
        subprocess.run(["curl", "-s", "-m", str(TIMEOUT),
                        "--http2-prior-knowledge", "-o", os.devnull, url])
        self.assertEqual(self.get("/app.js").status, 200)
        self.assertIsNone(self.server.poll(), self.server.describe())


class WebFlow(unittest.TestCase):
    """A WebSocket that stops reading is held to the hub's rules: it is
    dropped as a stalled TCP client is, and the room goes on."""

    def test_stalled_websocket_is_dropped_like_a_tcp_client(self):
        wport = free_port()
        server, port = start_listener(
            lambda p: [sockit(), "--chat", "-l", "127.0.0.1", str(p),
                       "--web", str(wport), "--max-queue", "65536"],
            on_start=lambda p: self.addCleanup(p.stop))
        self.assertTrue(wait_listening(wport, proc=server))
        ws = socket.socket()
        self.addCleanup(ws.close)
        ws.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        ws.connect(("127.0.0.1", wport))
        # The opening handshake only (RFC 6455 4.1); no frame is read
        # or written by this client from here on.
        ws.sendall(b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                   b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        head = LineReader(ws, "websocket")
        self.assertIn(b"101", head.read_line(TIMEOUT))
        server.out.wait_line(lambda l: b"joined" in l, TIMEOUT)
        # The others from other loopback addresses: the hub's stall budget
        # belongs to an address, and the WebSocket's is 127.0.0.1.
        flood = socket.create_connection(("127.0.0.1", port),
                                         source_address=("127.0.0.3", 0))
        self.addCleanup(flood.close)
        flood_in = LineReader(flood, "flood")
        flood_in.read_line(TIMEOUT)
        flood.setblocking(False)
        other = Proc(["nc", "-s", "127.0.0.2", "127.0.0.1", str(port)])
        self.addCleanup(other.stop)
        other.out.read_line(TIMEOUT)
        chunk = (b"x" * 1000 + b"\n") * 16
        deadline = time.monotonic() + 6 * TIMEOUT
        left = None
        while left is None:
            self.assertLess(time.monotonic(), deadline,
                            "the stalled WebSocket was never dropped" +
                            server.describe())
            try:
                flood.send(chunk)  # only what fits: never blocks
            except BlockingIOError:
                pass
            other.out.drain()  # the healthy members keep reading
            flood_in.drain()
            for l in server.out.all_lines():
                if b"left: " in l:
                    left = l
            server.out.fill(0.02)
        self.assertIn(b"*** user1 left: stalled", left)
        # The room goes on: the flood's sender hears a healthy member
        # (who keeps reading the rest of the flood meanwhile).
        other.write("still here\n")
        deadline = time.monotonic() + TIMEOUT
        while not any(l.endswith(b"> still here") for l in flood_in.lines):
            self.assertLess(time.monotonic(), deadline, [l for l in server.out.all_lines() if b"***" in l])
            other.out.drain()
            flood_in.fill(0.02)
            while flood_in._pop_line() is not None:
                pass


class WebOrigin(unittest.TestCase):
    def handshake(self, wport, origin):
        s = socket.create_connection(("127.0.0.1", wport))
        self.addCleanup(s.close)
        s.sendall(b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                  b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Version: 13\r\n%s"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                  % (wport, origin))
        return LineReader(s, "websocket").read_line(TIMEOUT) or b""

    def test_another_sites_page_cannot_join(self):
        wport = free_port()
        server, port = start_listener(
            lambda p: [sockit(), "--chat", "-l", "127.0.0.1", str(p),
                       "--web", str(wport)],
            on_start=lambda p: self.addCleanup(p.stop))
        self.assertTrue(wait_listening(wport, proc=server))
        self.assertNotIn(b" 101 ", self.handshake(
            wport, b"Origin: http://evil.example\r\n"))
        self.assertIn(b" 101 ", self.handshake(
            wport, b"Origin: http://127.0.0.1:%d\r\n" % wport))
        self.assertIn(b" 101 ", self.handshake(wport, b""))


class WebUsage(unittest.TestCase):
    def run_sockit(self, *args):
        p = Proc([sockit()] + list(args))
        self.addCleanup(p.stop)
        return p.wait_exit(), p.err.transcript.decode()

    def test_web_needs_chat_listen(self):
        code, err = self.run_sockit("-l", "127.0.0.1", str(free_port()),
                                    "--web", str(free_port()))
        self.assertEqual(code, 2, err)
        self.assertIn("--web needs --chat -l", err)

    def test_web_port_must_be_a_port(self):
        code, err = self.run_sockit("--chat", "-l", "127.0.0.1",
                                    str(free_port()), "--web", "0")
        self.assertEqual(code, 2, err)
        self.assertIn("web", err)

    def test_web_port_in_use(self):
        busy = socket.socket()
        self.addCleanup(busy.close)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code, err = self.run_sockit("--chat", "-l", "127.0.0.1",
                                    str(free_port()), "--web",
                                    str(busy.getsockname()[1]))
        self.assertEqual(code, 1, err)
        self.assertIn("web: cannot serve on port %d" % busy.getsockname()[1],
                      err)


if __name__ == "__main__":
    unittest.main()
