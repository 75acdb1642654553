#!/usr/bin/env python3
"""The chat client over TLS (`sockit --chat --ssl HOST PORT`), issue 11:
against `sockit --chat -l --ssl` (pinned from the fingerprint it prints),
in a real pseudo-terminal with the line editor (read through pyte, as
test_chat_tty.py does), refused with its one line on a wrong pin, and
against Python's ssl module as the server (trust file, SNI from
--ssl-servername, a client certificate). The certificates are
test_tls.py's, made with the openssl command.
"""
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import termios
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_chat_tty  # noqa: E402  (the pty and pyte screen)
import test_tls  # noqa: E402  (the certificates)
from common import (TIMEOUT, LineReader, Proc, binary,  # noqa: E402
                    start_listener)

cert = test_tls.cert
ANNOUNCE = re.compile(rb"^sockit: certificate (sha256:[0-9a-f]{64}); ")
WELCOME = re.compile(rb"^\*\*\* you are (\S+):")
WRONG_PIN = "sha256:" + "00" * 32


def setUpModule():
    test_tls.CERTS = tempfile.mkdtemp(prefix="sockit-sslchat-")
    test_tls.make_certs()


def tearDownModule():
    shutil.rmtree(test_tls.CERTS, ignore_errors=True)


def sockit():
    return binary("sockit", "")


class TLSTerm(test_chat_tty.Term):
    """argv (a TLS chat client) in a pseudo-terminal: test_chat_tty's
    screen and keys, with the server the test's own sockit."""

    def __init__(self, test, argv):
        self.master, self.slave = os.openpty()
        test.addCleanup(os.close, self.master)
        test.addCleanup(os.close, self.slave)
        test_chat_tty.fcntl.ioctl(
            self.slave, termios.TIOCSWINSZ,
            test_chat_tty.struct.pack("HHHH", test_chat_tty.ROWS,
                                      test_chat_tty.COLS, 0, 0))
        self.termios_before = termios.tcgetattr(self.slave)
        env = dict(os.environ, TERM="xterm", LANG="C.UTF-8", NO_COLOR="1")
        self.proc = subprocess.Popen(
            argv, stdin=self.slave, stdout=self.slave,
            stderr=subprocess.PIPE, env=env,
            preexec_fn=self.controlling_terminal)
        test.addCleanup(self.proc.wait, TIMEOUT)
        test.addCleanup(self.proc.kill)
        test.addCleanup(self.proc.stderr.close)
        self.screen = test_chat_tty.pyte.Screen(test_chat_tty.COLS,
                                                test_chat_tty.ROWS)
        self.stream = test_chat_tty.pyte.ByteStream(self.screen)
        self.raw = bytearray()


class ChatClientTLS(unittest.TestCase):
    def run_proc(self, argv):
        p = Proc(argv)
        self.addCleanup(p.stop)
        return p

    def server(self):
        """sockit --chat -l --ssl with its ephemeral certificate: (proc,
        port, the pin it printed)."""
        proc, port = start_listener(
            lambda port: [sockit(), "--chat", "-l", "--ssl", "127.0.0.1",
                          str(port)],
            on_start=lambda p: self.addCleanup(p.stop))
        pin = ANNOUNCE.search(proc.err.wait_line(ANNOUNCE)).group(1)
        return proc, port, pin.decode()

    def client_argv(self, port, *opts):
        return [sockit(), "--chat", "--ssl"] + list(opts) + \
            ["127.0.0.1", str(port)]

    def joined(self, port, pin):
        """A piped TLS chat client, past its welcome: (proc, its name)."""
        c = self.run_proc(self.client_argv(port, "--ssl-pin", pin))
        name = WELCOME.match(c.out.wait_line(WELCOME)).group(1)
        return c, name

    def test_two_clients_talk_pinned_from_the_announce(self):
        server, port, pin = self.server()
        a, a_name = self.joined(port, pin)
        b, b_name = self.joined(port, pin)
        a.write("hello from a, ünïcode\n")
        b.out.wait_line(b"<%s> hello from a, \xc3\xbcn\xc3\xafcode" % a_name)
        server.out.wait_line(re.compile(
            rb"<%s> hello from a" % re.escape(a_name)))
        big = b"x" * 4000  # the server's longest line (--max-line)
        b.write(big + b"\n")
        a.out.wait_line(b"<%s> %s" % (b_name, big))
        a.write("/quit\n")
        self.assertEqual(a.wait_exit(), 0, a.describe())
        b.out.wait_line(re.compile(rb"^\*\*\* %s left" % re.escape(a_name)))
        self.assertEqual(a.err.all_lines(), [])
        b.close_stdin()  # input over: close_notify, the server closes
        self.assertEqual(b.wait_exit(), 0, b.describe())

    def test_in_a_terminal_with_the_line_editor(self):
        server, port, pin = self.server()
        t = TLSTerm(self, self.client_argv(port, "--ssl-pin", pin))
        t.wait_screen(lambda: any(WELCOME.match(ln.encode())
                                  for ln in t.lines()), "the welcome")
        t.wait_screen(lambda: t.input_line() == ">", "the prompt")
        me = WELCOME.match(next(ln.encode() for ln in t.lines()
                                if WELCOME.match(ln.encode()))).group(1)
        other, other_name = self.joined(port, pin)
        t.type(b"draft")
        t.wait_screen(lambda: t.input_line() == "> draft", "the typing")
        other.write(b"while you type\n")
        line = "<%s> while you type" % other_name.decode()
        t.wait_screen(lambda: line in t.lines(), "the other's line")
        t.settle()
        self.assertEqual(t.lines()[-2:], [line, "> draft"])
        t.type(b" done\r")
        other.out.wait_line(b"<%s> draft done" % me)
        t.wait_screen(lambda: "<me> draft done" in t.lines(), "own line")
        t.type(b"/quit\r")
        t.wait_screen(lambda: "*** goodbye" in t.lines(), "the goodbye")
        self.assertEqual(t.wait_exit(), 0)
        self.assertEqual(t.proc.stderr.read(), b"")
        self.assertEqual(termios.tcgetattr(t.slave), t.termios_before)

    def test_typing_before_the_handshake_waits_for_it(self):
        # The editor takes keys at once; the line goes out, encrypted,
        # once the server has done its handshake (here: after the line
        # was typed), and nothing of it goes out in clear before.
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert("good.pem"), cert("good.key"))
        ls = socket.socket()
        self.addCleanup(ls.close)
        ls.bind(("127.0.0.1", 0))
        ls.listen()
        ls.settimeout(TIMEOUT)
        t = TLSTerm(self, self.client_argv(ls.getsockname()[1],
                                           "--ssl-trustfile", cert("ca.pem")))
        conn, _ = ls.accept()
        conn.settimeout(TIMEOUT)
        t.wait_screen(lambda: t.input_line() == ">", "the prompt")
        t.type(b"typed early\r")
        t.wait_screen(lambda: "<me> typed early" in t.lines(), "own line")
        hello = conn.recv(65536, socket.MSG_PEEK)  # the ClientHello only
        self.assertNotIn(b"typed early", hello)
        tls = ctx.wrap_socket(conn, server_side=True,
                              suppress_ragged_eofs=False)  # b"": close_notify
        self.addCleanup(tls.close)
        self.assertEqual(LineReader(tls).read_line(), b"typed early")
        tls.sendall(b"<srv> welcome\n")
        t.wait_screen(lambda: "<srv> welcome" in t.lines(), "the answer")
        t.type(b"\x04")  # Ctrl-D: goodbye, close_notify
        t.wait_screen(lambda: "*** goodbye" in t.lines(), "the goodbye")
        self.assertEqual(tls.recv(100), b"")
        tls.unwrap()
        self.assertEqual(t.wait_exit(), 0)
        self.assertEqual(termios.tcgetattr(t.slave), t.termios_before)

    def test_server_gone_at_a_terminal_is_one_line_and_exit_1(self):
        server, port, pin = self.server()
        t = TLSTerm(self, self.client_argv(port, "--ssl-pin", pin))
        t.wait_screen(lambda: t.input_line() == ">", "the prompt")
        t.wait_screen(lambda: any(WELCOME.match(ln.encode())
                                  for ln in t.lines()), "the welcome")
        t.type(b"half typed")
        t.wait_screen(lambda: t.input_line() == "> half typed", "typing")
        server.stop()  # the chat server goes away (killed)
        self.assertEqual(t.wait_exit(), 1)
        err = t.proc.stderr.read().decode().splitlines()
        self.assertEqual(err, ["sockit: the server closed the connection"])
        self.assertNotIn("> half typed", t.lines())  # the input is cleared
        self.assertEqual(termios.tcgetattr(t.slave), t.termios_before)

    def test_wrong_pin_is_one_line_and_exit_1(self):
        server, port, pin = self.server()
        c = self.run_proc(self.client_argv(port, "--ssl-pin", WRONG_PIN))
        self.assertEqual(c.wait_exit(), 1, c.describe())
        self.assertEqual(c.err.all_lines(), [(
            "sockit: certificate of 127.0.0.1:%d has fingerprint %s, not "
            "the pinned %s" % (port, pin, WRONG_PIN)).encode()])
        self.assertEqual(c.out.all_lines(), [])  # nothing of the server's

    def test_wrong_pin_in_a_terminal_restores_it(self):
        server, port, pin = self.server()
        t = TLSTerm(self, self.client_argv(port, "--ssl-pin", WRONG_PIN))
        self.assertEqual(t.wait_exit(), 1)
        err = t.proc.stderr.read().decode().splitlines()
        self.assertEqual(len(err), 1, err)
        self.assertRegex(err[0], r"^sockit: certificate of 127\.0\.0\.1:\d+ "
                         r"has fingerprint sha256:[0-9a-f]{64}, not the "
                         r"pinned " + WRONG_PIN + "$")
        self.assertEqual(termios.tcgetattr(t.slave), t.termios_before)

    def test_insecure_connects_and_warns(self):
        server, port, pin = self.server()
        c = self.run_proc(self.client_argv(port, "--insecure"))
        c.out.wait_line(WELCOME)
        c.err.wait_line(re.compile(rb"^sockit: warning: --insecure: the "
                                   rb"certificate of 127\.0\.0\.1:\d+ is not "
                                   rb"verified"))
        c.write(b"/quit\n")
        self.assertEqual(c.wait_exit(), 0, c.describe())

    def test_unverified_server_is_refused_without_a_pin(self):
        # The ephemeral certificate is self-signed: verified by default,
        # so refused, never a silent plaintext or unverified chat.
        server, port, pin = self.server()
        c = self.run_proc(self.client_argv(port))
        self.assertEqual(c.wait_exit(), 1, c.describe())
        lines = c.err.all_lines()
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0].decode(), r"^sockit: certificate of "
                         r"127\.0\.0\.1:\d+ is self-signed")

    def test_python_server_with_client_certificate_and_servername(self):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH,
                                         cafile=cert("ca.pem"))
        ctx.load_cert_chain(cert("good.pem"), cert("good.key"))
        ctx.verify_mode = ssl.CERT_REQUIRED  # a client certificate or none
        sni = []
        ctx.sni_callback = lambda s, name, c: sni.append(name)
        ls = socket.socket()
        self.addCleanup(ls.close)
        ls.bind(("127.0.0.1", 0))
        ls.listen()
        ls.settimeout(TIMEOUT)
        c = self.run_proc(self.client_argv(
            ls.getsockname()[1], "--ssl-trustfile", cert("ca.pem"),
            "--ssl-servername", "localhost", "--ssl-cert",
            cert("client.pem"), "--ssl-key", cert("client.key")))
        conn, _ = ls.accept()
        conn.settimeout(TIMEOUT)
        tls = ctx.wrap_socket(conn, server_side=True,
                              suppress_ragged_eofs=False)  # b"": close_notify
        self.addCleanup(tls.close)
        self.assertEqual(sni, ["localhost"])
        subject = dict(x[0] for x in tls.getpeercert()["subject"])
        self.assertEqual(subject["commonName"], "sockit client")
        big = b"<bob> " + b"y" * 40000  # a line over several TLS records
        tls.sendall(b"<bob> \x1b[2J\x1b[31mred\n" + big + b"\n")
        c.out.wait_line(big)
        self.assertNotIn(b"\x1b", bytes(c.out.transcript))  # shown safe
        self.assertIn(b"red", bytes(c.out.transcript))
        c.write(b"from sockit\n")
        self.assertEqual(LineReader(tls).read_line(), b"from sockit")
        c.close_stdin()
        # Input over: the client's close_notify, then our EOF on read.
        self.assertEqual(tls.recv(100), b"")
        tls.unwrap()  # our close_notify: an orderly end, exit 0
        self.assertEqual(c.wait_exit(), 0, c.describe())


if __name__ == "__main__":
    unittest.main()
