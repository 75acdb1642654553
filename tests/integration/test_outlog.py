#!/usr/bin/env python3
"""Integration tests for output logs, `-o FILE` / `--output FILE`,
`--append-output` and `--hex-dump FILE` (issue 10, "Features on it" 4;
the spec is /work/wt/briefs/features.md, "Output logs"). Written before
the feature; each test proves one promise:

  - every byte sent and received lands in the log, in order, as it moves
    (the log holds a request before its response is sent);
  - the log is truncated at start, unless --append-output;
  - --hex-dump: one line per 16 bytes with offset, hex and printable
    ASCII ('.' for the rest), a [sent] / [received] header line before
    each change of direction;
  - a log that cannot be opened: exit 1, one line, before connecting (the
    listener sees no connection);
  - a log write failure (/dev/full): one line, the relay goes on;
  - -o with connect, listen, -k, exec and forwarding.

Only 127.0.0.1. Every wait is bounded.

    python3 tests/integration/test_outlog.py [-v] [TestClass[.test_name]]
"""

import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (QUIET, TIMEOUT, CliCase, LineReader,  # noqa: E402
                    free_port, recv_all)

ECHO_PROG = r"""#!/usr/bin/env python3
import sys
for line in sys.stdin:
    sys.stdout.write("echo:" + line); sys.stdout.flush()
sys.stdout.write("got EOF\n"); sys.stdout.flush()
"""


def read(path):
    with open(path, "rb") as f:
        return f.read()


def wait_file(path, want, timeout=None):
    """Waits until the file at path holds exactly want (bytes)."""
    deadline = time.monotonic() + (TIMEOUT if timeout is None else timeout)
    got = None
    while time.monotonic() < deadline:
        try:
            got = read(path)
        except OSError:
            got = None
        if got == want:
            return
        time.sleep(0.02)
    raise AssertionError("log %s: want %r, have %r" % (path, want, got))


def printable(data):
    return "".join(chr(b) if 0x20 <= b < 0x7f else "." for b in data)


class LogCase(CliCase):

    def log_path(self, name="log"):
        return os.path.join(self.tmpdir(), name)

    def exchange(self, *log_flags):
        """A connect-mode conversation of fixed order: req1, resp1, req2,
        resp2; checks that the log grows as bytes move. Returns the log."""
        srv, port = self.server()
        proc = self.spawn(*log_flags, "127.0.0.1", port)
        conn = self.accept_from(srv, proc)
        peer = LineReader(conn, "listener")
        path = log_flags[-1]
        proc.write(b"req1\n")
        self.assertEqual(peer.read_line(), b"req1")
        wait_file(path, b"req1\n")  # logged as it moved
        conn.sendall(b"resp1\n")
        self.assertEqual(proc.out.read_line(), b"resp1")
        wait_file(path, b"req1\nresp1\n")
        proc.write(b"req2\n")
        self.assertEqual(peer.read_line(), b"req2")
        conn.sendall(b"resp2\n")
        self.assertEqual(proc.out.read_line(), b"resp2")
        conn.close()
        proc.close_stdin()
        self.assert_exit(proc, 0)
        return read(path)


class OutputTest(LogCase):

    def test_connect_sent_and_received_in_order(self):
        path = self.log_path()
        self.assertEqual(self.exchange("-o", path),
                         b"req1\nresp1\nreq2\nresp2\n")

    def test_long_name(self):
        path = self.log_path()
        self.assertEqual(self.exchange("--output", path),
                         b"req1\nresp1\nreq2\nresp2\n")

    def test_truncated_at_start(self):
        path = self.log_path()
        with open(path, "wb") as f:
            f.write(b"OLD CONTENT THAT IS LONGER THAN THE NEW ONE\n" * 10)
        self.assertEqual(self.exchange("-o", path),
                         b"req1\nresp1\nreq2\nresp2\n")

    def test_append_output(self):
        path = self.log_path()
        with open(path, "wb") as f:
            f.write(b"OLD\n")
        srv, port = self.server()
        proc = self.spawn("--append-output", "-o", path, "127.0.0.1", port)
        conn = self.accept_from(srv, proc)
        proc.write(b"new\n")
        self.assertEqual(LineReader(conn).read_line(), b"new")
        conn.sendall(b"back\n")
        self.assertEqual(proc.out.read_line(), b"back")
        conn.close()
        proc.close_stdin()
        self.assert_exit(proc, 0)
        self.assertEqual(read(path), b"OLD\nnew\nback\n")

    def test_binary_bytes_are_logged_as_is(self):
        path = self.log_path()
        data = bytes(range(256)) * 64
        srv, port = self.server()
        proc = self.spawn("-N", "-o", path, "127.0.0.1", port)
        conn = self.accept_from(srv, proc)
        proc.write(data)
        proc.close_stdin()
        self.assertEqual(recv_all(conn), data)
        conn.close()
        self.assert_exit(proc, 0)
        self.assertEqual(read(path), data)

    def test_listen_mode(self):
        path = self.log_path()
        proc, port = self.listener("-o", path)
        c = self.connect(port)
        c.sendall(b"hi sockit\n")
        self.assertEqual(proc.out.read_line(), b"hi sockit")
        proc.write(b"hi client\n")
        self.assertEqual(LineReader(c).read_line(), b"hi client")
        c.close()
        proc.close_stdin()
        self.assert_exit(proc, 0)
        self.assertEqual(read(path), b"hi sockit\nhi client\n")

    def test_keep_open_several_clients(self):
        path = self.log_path()
        proc, port = self.listener("-k", "-o", path)
        for word in (b"first\n", b"second\n"):
            c = self.connect(port)
            c.sendall(word)
            proc.out.wait_line(word.rstrip())
            c.close()
        wait_file(path, b"first\nsecond\n")

    def test_with_exec(self):
        path = self.log_path()
        prog = os.path.join(self.tmpdir(), "echo.py")
        with open(prog, "w") as f:
            f.write(ECHO_PROG)
        os.chmod(prog, 0o755)
        proc, port = self.listener("-e", prog, "-o", path)
        c = self.connect(port)
        c.sendall(b"abc\n")
        self.assertEqual(LineReader(c).read_line(), b"echo:abc")
        c.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_all(c), b"got EOF\n")
        self.assert_exit(proc, 0)
        self.assertEqual(read(path), b"abc\necho:abc\ngot EOF\n")

    def test_with_forwarding(self):
        path = self.log_path()
        srv, sport = self.server()
        fwd, port = self.listener("--to", "127.0.0.1:%d" % sport, "-o", path)
        c = self.connect(port)
        t = self.accept(srv)
        c.sendall(b"ping\n")
        self.assertEqual(LineReader(t).read_line(), b"ping")
        t.sendall(b"pong\n")
        self.assertEqual(LineReader(c).read_line(), b"pong")
        wait_file(path, b"ping\npong\n")
        self.assertIsNone(fwd.poll(), fwd.describe())


class HexDumpTest(LogCase):
    """--hex-dump: offset, hex, ASCII per 16 bytes; direction headers."""

    SENT1 = b"hello\x00\x01\x02world-0123456789\xff!"   # 24 bytes: 2 lines
    RECV1 = b"ok\r\n"
    SENT2 = b"A" * 16                                  # exactly one line

    def parse_dump(self, text):
        """[(header or None, offset, data line)] from a dump."""
        out = []
        for line in text.decode("ascii").splitlines():
            if not line.strip():
                continue
            m = re.fullmatch(r"\s*\[(sent|received)\].*", line)
            if m:
                out.append((m.group(1), None, None))
                continue
            m = re.match(r"\s*\[?([0-9a-fA-F]{4,16})\]?:?\s+(.*)$", line)
            self.assertTrue(m, "not a dump line: %r" % line)
            out.append((None, int(m.group(1), 16), m.group(2)))
        return out

    def check_data_line(self, rest, chunk):
        """rest (after the offset) shows chunk in hex, then in ASCII."""
        squeezed = re.sub(r"[\s|]", "", rest)
        hexpart = chunk.hex()
        self.assertTrue(squeezed.lower().startswith(hexpart),
                        "hex of %r not in %r" % (chunk, rest))
        ascii_part = squeezed[len(hexpart):]
        self.assertEqual(ascii_part, printable(chunk).replace(" ", ""),
                         "ASCII column of %r in %r" % (chunk, rest))

    def test_format(self):
        path = self.log_path()
        srv, port = self.server()
        proc = self.spawn("--hex-dump", path, "127.0.0.1", port)
        conn = self.accept_from(srv, proc)
        peer = LineReader(conn, "listener")
        proc.write(self.SENT1)
        self.assertEqual(peer.read_exact(len(self.SENT1)), self.SENT1)
        conn.sendall(self.RECV1)
        self.assertEqual(proc.out.read_exact(len(self.RECV1)), self.RECV1)
        proc.write(self.SENT2)
        self.assertEqual(peer.read_exact(len(self.SENT2)), self.SENT2)
        conn.close()
        proc.close_stdin()
        self.assert_exit(proc, 0)
        self.assertEqual(bytes(proc.out.transcript), self.RECV1,
                         "the dump went to stdout")
        rows = self.parse_dump(read(path))
        kinds = [r[0] or "data" for r in rows]
        self.assertEqual(kinds, ["sent", "data", "data", "received", "data",
                                 "sent", "data"], rows)
        s1, s2 = rows[1], rows[2]
        self.assertEqual(s1[1], 0)
        self.assertEqual(s2[1], 16)
        self.check_data_line(s1[2], self.SENT1[:16])
        self.check_data_line(s2[2], self.SENT1[16:])
        # offsets count from the start of the block, of the direction or
        # of the whole log: any of them, as long as it is one of these
        self.assertIn(rows[4][1], (0, len(self.SENT1)))
        self.check_data_line(rows[4][2], self.RECV1)
        self.assertIn(rows[6][1], (0, len(self.SENT1),
                                   len(self.SENT1) + len(self.RECV1)))
        self.check_data_line(rows[6][2], self.SENT2)

    def test_both_logs_at_once(self):
        raw, dump = self.log_path("raw"), self.log_path("dump")
        srv, port = self.server()
        proc = self.spawn("-o", raw, "--hex-dump", dump, "127.0.0.1", port)
        conn = self.accept_from(srv, proc)
        proc.write(b"xyz")
        self.assertEqual(LineReader(conn).read_exact(3), b"xyz")
        conn.close()
        proc.close_stdin()
        self.assert_exit(proc, 0)
        self.assertEqual(read(raw), b"xyz")
        rows = self.parse_dump(read(dump))
        self.assertEqual(rows[0][0], "sent")
        self.check_data_line(rows[1][2], b"xyz")


class LogErrorTest(LogCase):
    """A log that cannot be opened or written."""

    def assert_no_connection(self, srv):
        srv.settimeout(QUIET)
        with self.assertRaises(socket.timeout, msg="sockit connected"):
            srv.accept()

    def test_unopenable_output_exits_1_before_connecting(self):
        for flag in ("-o", "--hex-dump"):
            with self.subTest(flag=flag):
                srv, port = self.server()
                path = "/nonexistent-sockit-dir/log"
                rc, out, err = self.run_sockit(flag, path, "127.0.0.1", port)
                self.assertEqual(rc, 1, err)
                self.assertEqual(err.count(b"\n"), 1, err)
                self.assertRegex(err, rb"^sockit: .*nonexistent-sockit-dir/log"
                                 rb".*No such file or directory")
                self.assert_no_connection(srv)

    def test_unopenable_output_listen_mode(self):
        rc, out, err = self.run_sockit("-l", "-o", "/nonexistent-dir/x",
                                       "127.0.0.1", free_port())
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, rb"^sockit: .*/nonexistent-dir/x")

    def test_write_failure_one_line_relay_goes_on(self):
        srv, port = self.server()
        proc = self.spawn("-o", "/dev/full", "127.0.0.1", port)
        conn = self.accept_from(srv, proc)
        peer = LineReader(conn, "listener")
        for i in range(3):
            proc.write(b"line %d\n" % i)
            self.assertEqual(peer.read_line(), b"line %d" % i)
            conn.sendall(b"back %d\n" % i)
            self.assertEqual(proc.out.read_line(), b"back %d" % i)
        conn.close()
        proc.close_stdin()
        rc = proc.wait_exit()
        err = bytes(proc.err.transcript)
        self.assertEqual(err.count(b"\n"), 1, "one line: %r" % err)
        self.assertRegex(err, rb"^sockit: .*/dev/full.*No space left")
        self.assertEqual(rc, 0, proc.describe())  # the relay went on and ended well


if __name__ == "__main__":
    unittest.main()
