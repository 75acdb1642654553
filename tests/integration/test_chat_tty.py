#!/usr/bin/env python3
"""The chat client at a terminal (`sockit --chat HOST PORT`), issue 12:
line editing with libedit, driven in a real pseudo-terminal and read the
way a person reads it: the output goes through pyte (Debian python3-pyte),
a terminal emulator, and the tests assert the rendered screen. The server
is a plain socket the test holds, so what the client sends is seen byte
for byte.
"""
import fcntl
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import TIMEOUT, binary  # noqa: E402

try:
    import pyte
except ImportError:  # Debian's python3-pyte, seen from another python3
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        import pyte
    except ImportError:
        # make test brings it (scripts/install-deps test): fail, not skip.
        raise SystemExit("test_chat_tty: python3-pyte is not installed "
                         "(scripts/install-deps test)")

COLS, ROWS = 80, 24


class Term:
    """sockit --chat in a pseudo-terminal, with a server socket."""

    def __init__(self, test, env=None):
        self.srv = socket.socket()
        test.addCleanup(self.srv.close)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.srv.settimeout(TIMEOUT)
        self.master, self.slave = os.openpty()
        test.addCleanup(os.close, self.master)
        test.addCleanup(os.close, self.slave)
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ,
                    struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.termios_before = termios.tcgetattr(self.slave)
        e = dict(os.environ, TERM="xterm", LANG="C.UTF-8")
        e.pop("NO_COLOR", None)
        e.update(env or {})
        self.proc = subprocess.Popen(
            [binary("sockit", subdir=""), "--chat", "127.0.0.1", str(self.srv.getsockname()[1])],
            stdin=self.slave, stdout=self.slave, stderr=subprocess.PIPE,
            env=e, preexec_fn=self.controlling_terminal)
        test.addCleanup(self.proc.wait, TIMEOUT)
        test.addCleanup(self.proc.kill)
        test.addCleanup(self.proc.stderr.close)
        self.conn, _ = self.srv.accept()
        test.addCleanup(self.conn.close)
        self.conn.settimeout(TIMEOUT)
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self.received = b""
        self.wait_screen(lambda: self.input_line() == ">", "the prompt")

    @staticmethod
    def controlling_terminal():
        """As a login shell's child: the pty is its controlling terminal
        and it is the foreground, so Ctrl-C is a SIGINT for it."""
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    def pump(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if r:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            self.raw.extend(data)
            self.stream.feed(data)

    def lines(self):
        return [ln.rstrip() for ln in self.screen.display if ln.strip()]

    def wait_screen(self, pred, what):
        end = time.monotonic() + TIMEOUT
        while not pred():
            if time.monotonic() > end:
                raise AssertionError("screen never showed %s:\n%s" %
                                     (what, "\n".join(self.lines())))
            self.pump(0.05)

    def settle(self):
        """Reads until the terminal has been quiet for a moment (only to
        take in output that must already be on its way)."""
        while select.select([self.master], [], [], 0.2)[0]:
            self.pump(0)

    def type(self, data):
        os.write(self.master, data)

    def recv_line(self):
        while b"\n" not in self.received:
            chunk = self.conn.recv(65536)
            if not chunk:
                raise AssertionError("the client closed; got %r" %
                                     self.received)
            self.received += chunk
        line, self.received = self.received.split(b"\n", 1)
        return line

    def wait_exit(self):
        end = time.monotonic() + TIMEOUT
        while self.proc.poll() is None:
            if time.monotonic() > end:
                raise AssertionError("sockit did not exit")
            self.pump(0.05)
        self.settle()
        return self.proc.returncode

    def input_line(self):
        return self.screen.display[self.screen.cursor.y].rstrip()


@unittest.skipIf(pyte is None, "python3-pyte is not installed "
                 "(scripts/install-deps test)")
class TestChatTerminal(unittest.TestCase):

    def test_message_mid_typing_goes_above_the_input(self):
        t = Term(self)
        t.type(b"hello wor")
        t.wait_screen(lambda: t.input_line() == "> hello wor", "the typing")
        t.conn.sendall(b"<bob> hi there\n")
        t.wait_screen(lambda: "<bob> hi there" in t.lines(), "bob's line")
        t.settle()
        # bob's line is a line of its own, and the half-typed text is
        # still there, on the input line, cursor at its end.
        self.assertEqual(t.lines(), ["<bob> hi there", "> hello wor"])
        self.assertEqual(t.screen.cursor.x, len("> hello wor"))
        t.type(b"ld\r")
        self.assertEqual(t.recv_line(), b"hello world")
        t.wait_screen(lambda: "<me> hello world" in t.lines(), "own line")

    def test_up_arrow_recalls_history_and_sends_no_escape(self):
        t = Term(self)
        t.type(b"first line\r")
        self.assertEqual(t.recv_line(), b"first line")
        t.type(b"second\r")
        self.assertEqual(t.recv_line(), b"second")
        t.type(b"\x1b[A\x1b[A")
        t.wait_screen(lambda: t.input_line() == "> first line", "history")
        t.type(b"\r")
        self.assertEqual(t.recv_line(), b"first line")
        t.type(b"\x1b[A\x1b[B\x1b[Dx\r")  # up, down, left: editing keys
        self.assertEqual(t.recv_line(), b"x")
        self.assertNotIn(b"\x1b", t.received)

    def test_long_line_and_paste_leave_no_stale_copies(self):
        t = Term(self)
        long = b"y" * 300  # almost four rows of 80 columns
        t.type(long)  # one write: a paste
        t.wait_screen(lambda: sum(ln.count("y") for ln in t.lines()) == 300,
                      "the pasted text")
        t.conn.sendall(b"*** carol joined\n")
        t.wait_screen(lambda: "*** carol joined" in t.lines(), "the notice")
        t.settle()
        self.assertEqual(sum(ln.count("y") for ln in t.lines()), 300)
        self.assertEqual(t.lines()[0], "*** carol joined")
        self.assertTrue(t.lines()[1].startswith("> yyy"))
        t.type(b"\r")
        self.assertEqual(t.recv_line(), long)
        t.wait_screen(lambda: any(ln.startswith("<me> yyy")
                                  for ln in t.lines()), "own line")
        t.settle()
        # One copy (the marked one), nothing left of the edited one.
        self.assertEqual(sum(ln.count("y") for ln in t.lines()), 300)
        self.assertEqual(t.lines()[-1], ">")

    def test_multi_line_paste_sends_each_line_once(self):
        t = Term(self)
        t.type(b"one\ntwo\nthree " + b"z" * 200 + b"\nfour")
        self.assertEqual([t.recv_line() for _ in range(3)],
                         [b"one", b"two", b"three " + b"z" * 200])
        t.wait_screen(lambda: t.input_line() == "> four", "the last line")
        t.conn.sendall(b"<bob> hey\n")
        t.wait_screen(lambda: "<bob> hey" in t.lines(), "bob's line")
        t.settle()
        lines = t.lines()
        self.assertEqual(lines[:2], ["<me> one", "<me> two"])
        self.assertEqual(sum(ln.count("z") for ln in lines), 200)
        self.assertEqual(lines[-2:], ["<bob> hey", "> four"])

    def test_quit_says_goodbye(self):
        t = Term(self)
        t.type(b"/quit\r")
        self.assertEqual(t.recv_line(), b"/quit")
        t.wait_screen(lambda: "*** goodbye" in t.lines(), "the goodbye")
        self.assertEqual(t.conn.recv(100), b"")  # and its input ended
        t.conn.close()
        self.assertEqual(t.wait_exit(), 0)
        self.assertEqual(t.proc.stderr.read(), b"")
        self.assertEqual(termios.tcgetattr(t.slave), t.termios_before)

    def test_server_gone_is_one_line_and_exit_1(self):
        t = Term(self)
        t.type(b"half typed")
        t.wait_screen(lambda: t.input_line() == "> half typed", "typing")
        t.conn.close()
        self.assertEqual(t.wait_exit(), 1)
        err = t.proc.stderr.read().decode().splitlines()
        self.assertEqual(err, ["sockit: the server closed the connection"])
        self.assertNotIn("> half typed", t.lines())  # the input is cleared
        self.assertEqual(termios.tcgetattr(t.slave), t.termios_before)

    def test_ctrl_d_ends_cleanly_and_restores_the_terminal(self):
        t = Term(self)
        t.type(b"\x04")
        t.wait_screen(lambda: "*** goodbye" in t.lines(), "the goodbye")
        self.assertEqual(t.conn.recv(100), b"")  # FIN: input over
        t.conn.close()
        self.assertEqual(t.wait_exit(), 0)
        self.assertNotIn("^D", "".join(t.lines()))
        self.assertEqual(termios.tcgetattr(t.slave), t.termios_before)

    def test_ctrl_c_ends_cleanly_and_restores_the_terminal(self):
        t = Term(self)
        t.type(b"some text")
        t.wait_screen(lambda: t.input_line() == "> some text", "typing")
        self.assertNotEqual(termios.tcgetattr(t.slave), t.termios_before)
        t.type(b"\x03")
        self.assertEqual(t.wait_exit(), 130)
        self.assertEqual(termios.tcgetattr(t.slave), t.termios_before)
        self.assertEqual(t.conn.recv(100), b"")  # nothing half-typed sent

    def test_stopped_and_continued_edits_again(self):
        """Ctrl-Z, then fg: the shell had set the terminal back to its own
        (cooked) mode meanwhile; the editor takes it back on SIGCONT, so
        keys are edited again at once, the half-typed line kept (before,
        the terminal stayed cooked until Enter: text echoed twice, arrow
        keys sent as escapes). SIGSTOP stands in for Ctrl-Z: a pty's
        SIGTSTP is discarded for the orphaned process group here."""
        t = Term(self)
        t.type(b"abc")
        t.wait_screen(lambda: t.input_line() == "> abc", "the typing")
        editing = termios.tcgetattr(t.slave)
        os.kill(t.proc.pid, signal.SIGSTOP)
        termios.tcsetattr(t.slave, termios.TCSANOW, t.termios_before)
        os.kill(t.proc.pid, signal.SIGCONT)
        end = time.monotonic() + TIMEOUT
        while termios.tcgetattr(t.slave)[3] & termios.ICANON:
            self.assertLess(time.monotonic(), end,
                            "the terminal stayed in cooked mode")
            t.pump(0.05)
        self.assertEqual(termios.tcgetattr(t.slave), editing)
        t.type(b"\x1b[Dd\r")  # left, then d: edited, not an escape
        self.assertEqual(t.recv_line(), b"abdc")

    def test_colour_for_names_and_notices(self):
        t = Term(self)
        t.conn.sendall(b"<bob> hi\n*** dave joined\n")
        t.wait_screen(lambda: "*** dave joined" in t.lines(), "the lines")
        self.assertIn(b"\x1b[1;36m<bob>\x1b[0m hi", bytes(t.raw))
        self.assertIn(b"\x1b[33m*** dave joined\x1b[0m", bytes(t.raw))
        bob = t.screen.buffer[0][1]
        self.assertEqual((bob.data, bob.fg, bob.bold), ("b", "cyan", True))

    def test_no_color_is_respected(self):
        t = Term(self, env={"NO_COLOR": "1"})
        t.conn.sendall(b"<bob> hi\n*** dave joined\n")
        t.wait_screen(lambda: "*** dave joined" in t.lines(), "the lines")
        t.type(b"mine\r")
        t.wait_screen(lambda: "<me> mine" in t.lines(), "own line")
        self.assertNotIn(b"\x1b[1;", bytes(t.raw))
        self.assertNotIn(b"\x1b[33m", bytes(t.raw))
        self.assertEqual(t.screen.buffer[0][1].fg, "default")

    def test_escape_from_the_server_is_shown_not_obeyed(self):
        t = Term(self)
        t.conn.sendall(b"<eve> \x1b[2J\x1b[31mred\n")
        t.wait_screen(lambda: any(ln.startswith("<eve>") for ln in t.lines()),
                      "eve's line")
        self.assertNotIn(b"\x1b[2J", bytes(t.raw))
        self.assertNotIn(b"\x1b[31m", bytes(t.raw))


if __name__ == "__main__":
    unittest.main()
