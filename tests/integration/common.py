"""Shared helpers for sockit's integration tests (Python 3 standard library).

Every wait here is bounded: a helper that times out raises AssertionError
with what it saw, so a hung program fails its test instead of hanging it.

  build_dir(), binary(name)      where the programs under test are
  TIMEOUT, QUIET                 bounds for waits, scaled for sanitizer builds
  free_port(), refusing_port()   ports to use on 127.0.0.1 / ::1
  LineReader                     lines from a pipe or a socket, with timeouts
  Proc                           a program with piped stdin/stdout/stderr
  start_listener()               start a program on a free port, with retry
  wait_listening()               wait until a process listens on a port
  udp_recv()                     one datagram, with a timeout
  wait_for()                     poll a condition, bounded
  sockit(), CliCase, Spawned     the command under test and its test case
  recv_exact(), recv_all()       bytes from a stream socket, bounded
  unix_listening(), awkward()... smaller helpers of the command's suites
"""

import hashlib
import os
import re
import selectors
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def build_dir():
    """The CMake build tree: $SOCKIT_BUILD_DIR, else ../../build."""
    d = os.environ.get("SOCKIT_BUILD_DIR") or os.path.join(HERE, "..", "..",
                                                           "build")
    return os.path.abspath(d)


def _sanitized_build():
    try:
        with open(os.path.join(build_dir(), "CMakeCache.txt")) as f:
            return any(l.strip() == "SOCKIT_SANITIZE:BOOL=ON" for l in f)
    except OSError:
        return False


# Sanitizer builds start and run slower: give every bound more room. The
# scale may also be set by hand (SOCKIT_TIMEOUT_SCALE=4 on a slow machine).
TIMEOUT_SCALE = float(os.environ.get("SOCKIT_TIMEOUT_SCALE") or
                      (3 if _sanitized_build() else 1))
TIMEOUT = 5.0 * TIMEOUT_SCALE  # longest wait for something that must happen
QUIET = 0.5 * TIMEOUT_SCALE  # how long to listen to show nothing arrives

SANITIZER_MARKS = (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer",
                   b"runtime error:", b"ThreadSanitizer")


def binary(name, subdir="examples"):
    """Path of a built program; a missing one fails the test, never skips."""
    path = os.path.join(build_dir(), subdir, name)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise AssertionError(
            "missing binary %s: build first (cmake --build), or set "
            "SOCKIT_BUILD_DIR" % path)
    return path


# --------------------------------------------------------------- ports

def free_port(host="127.0.0.1", socktype=socket.SOCK_STREAM):
    """A port the kernel just had free on host. Someone may take it before
    the caller does: start_listener() retries when that happens."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socktype) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def refusing_port(host="127.0.0.1"):
    """(socket, port): a TCP socket bound but not listening, so connects to
    the port are refused, and nobody else can take the port meanwhile. The
    caller closes the socket."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    return s, s.getsockname()[1]


def _socket_inodes(pid):
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return inodes
    for name in names:
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue
        m = re.fullmatch(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(m.group(1))
    return inodes


def _proc_net_sockets(proto, port):
    """(state, inode) of every socket in /proc/net/<proto>{,6} on port."""
    found = []
    for table in (proto, proto + "6"):
        try:
            with open("/proc/net/" + table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) < 10:
                continue
            local, state, inode = fields[1], fields[3], fields[9]
            if int(local.rsplit(":", 1)[1], 16) == port:
                found.append((state, inode))
    return found


def is_listening(port, proto="tcp", pid=None):
    """True when a TCP socket listens (or a UDP socket is bound) on port;
    with pid, only a socket that process holds counts. Reads /proc, so it
    never disturbs the program (a probing connect would be a client)."""
    want = "0A" if proto == "tcp" else "07"  # TCP_LISTEN, TCP_CLOSE (UDP)
    socks = [i for s, i in _proc_net_sockets(proto, port) if s == want]
    if pid is None:
        return bool(socks)
    mine = _socket_inodes(pid)
    return any(i in mine for i in socks)


def wait_listening(port, proto="tcp", proc=None, timeout=None):
    """Waits until port listens (TCP) or is bound (UDP), by proc if given.
    Returns True, or False when proc exited first. Raises on timeout."""
    deadline = time.monotonic() + (TIMEOUT if timeout is None else timeout)
    while True:
        if is_listening(port, proto, proc.pid if proc else None):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        if time.monotonic() >= deadline:
            raise AssertionError("nothing listens on %s port %d after %.1fs%s"
                                 % (proto, port, timeout or TIMEOUT,
                                    proc.describe() if proc else ""))
        time.sleep(0.01)


# --------------------------------------------------------------- lines

class LineReader:
    """Splits what a pipe or socket delivers into lines, with timeouts.

    Lines come back as bytes without their '\\n'. Everything read is kept in
    `transcript` and every line in `lines`, for later assertions. Every
    wait fails with AssertionError, naming what was expected and seen."""

    def __init__(self, source, name="stream", context=None):
        self.source = source
        self.context = context  # () -> str, appended to failure messages
        self.fd = source if isinstance(source, int) else source.fileno()
        self.name = name
        self.buf = bytearray()
        self.transcript = bytearray()
        self.lines = []
        self.eof = False

    def _read(self):
        try:
            if isinstance(self.source, socket.socket):
                data = self.source.recv(65536)
            else:
                data = os.read(self.fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
        self.buf += data
        self.transcript += data

    def fill(self, timeout):
        """Reads what arrives within timeout (seconds, >= 0); returns True
        when something (data or EOF) came."""
        if self.eof:
            return False
        with selectors.DefaultSelector() as sel:
            sel.register(self.fd, selectors.EVENT_READ)
            if not sel.select(max(0.0, timeout)):
                return False
        self._read()
        return True

    def drain(self):
        """Reads whatever is already there, without waiting."""
        while self.fill(0):
            pass

    def _pop_line(self):
        i = self.buf.find(b"\n")
        if i < 0:
            if self.eof and self.buf:  # a last line without '\n'
                i = len(self.buf)
            else:
                return None
        line = bytes(self.buf[:i])
        del self.buf[:i + 1]
        self.lines.append(line)
        return line

    def read_line(self, timeout=None):
        """The next line, or None at EOF. Raises AssertionError on timeout."""
        deadline = time.monotonic() + (TIMEOUT if timeout is None else timeout)
        while True:
            line = self._pop_line()
            if line is not None:
                return line
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail("%s: no complete line within %.1fs; "
                                     "pending %r" % (self.name, timeout or
                                                     TIMEOUT, self._tail()))
            self.fill(left)

    def wait_line(self, match, timeout=None, what=None):
        """Reads lines until one matches and returns it. match is bytes
        (the whole line), a compiled regex (searched) or a predicate."""
        if isinstance(match, (bytes, bytearray)):
            pred = lambda l, m=bytes(match): l == m
        elif isinstance(match, re.Pattern):
            pred = lambda l: match.search(l) is not None
        else:
            pred = match
        deadline = time.monotonic() + (TIMEOUT if timeout is None else timeout)
        seen = []
        while True:
            left = deadline - time.monotonic()
            line = self._pop_line()
            if line is None and not self.eof and left > 0:
                self.fill(left)
                continue
            if line is None:
                self._fail(
                    "%s: %s: no line matching %s; lines seen: %s; pending %r"
                    % (self.name, "EOF" if self.eof else "timeout",
                       what or repr(match), _short(seen), self._tail()))
            if pred(line):
                return line
            seen.append(line)

    def all_lines(self):
        """Every line received so far, read or not, without '\\n'."""
        self.drain()
        lines = bytes(self.transcript).split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        return lines

    def read_exact(self, n, timeout=None):
        """Exactly n bytes (which need not end a line), or AssertionError."""
        deadline = time.monotonic() + (TIMEOUT if timeout is None else timeout)
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if self.eof or left <= 0:
                self._fail("%s: wanted %d bytes, got %d before %s: %r"
                                     % (self.name, n, len(self.buf),
                                        "EOF" if self.eof else "timeout",
                                        self._tail()))
            self.fill(left)
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def wait_eof(self, timeout=None):
        """Reads until EOF; returns the bytes left unread before it."""
        deadline = time.monotonic() + (TIMEOUT if timeout is None else timeout)
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail("%s: no EOF within %.1fs; pending %r"
                                     % (self.name, timeout or TIMEOUT,
                                        self._tail()))
            self.fill(left)
        rest = bytes(self.buf)
        self.buf.clear()
        return rest

    def assert_quiet(self, duration=None):
        """Fails if anything arrives within duration."""
        deadline = time.monotonic() + (QUIET if duration is None else duration)
        before = len(self.transcript)
        while time.monotonic() < deadline and not self.eof:
            self.fill(deadline - time.monotonic())
        if len(self.transcript) != before:
            self._fail("%s: expected silence, got %r" %
                                 (self.name, bytes(self.transcript[before:])))

    def _tail(self):
        return _short([bytes(self.buf)])

    def _fail(self, message):
        raise AssertionError(message + (self.context() if self.context else
                                        ""))


def _short(items, limit=400):
    text = repr(items)
    return text if len(text) <= limit else text[:limit] + "...(%d chars)" % len(
        text)


# --------------------------------------------------------------- processes

class Proc:
    """A program under test with piped stdin, stdout and stderr.

    proc.out and proc.err are LineReaders. stop() kills it if it still runs
    and closes the pipes; register it with addCleanup."""

    def __init__(self, argv, env=None):
        self.argv = [str(a) for a in argv]
        self.popen = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=env,
                                      bufsize=0)
        self.pid = self.popen.pid
        self.out = LineReader(self.popen.stdout, "%s stdout" % self.label,
                              self.describe)
        self.err = LineReader(self.popen.stderr, "%s stderr" % self.label,
                              self.describe)
        self.stopped = False

    @property
    def label(self):
        return os.path.basename(self.argv[0])

    def poll(self):
        return self.popen.poll()

    def write(self, data):
        """Writes bytes (or str, as UTF-8) to the program's stdin."""
        if isinstance(data, str):
            data = data.encode()
        view = memoryview(data)
        fd = self.popen.stdin.fileno()
        deadline = time.monotonic() + TIMEOUT
        while view:
            with selectors.DefaultSelector() as sel:
                sel.register(fd, selectors.EVENT_WRITE)
                if not sel.select(max(0.0, deadline - time.monotonic())):
                    raise AssertionError("%s: stdin not writable within %.1fs"
                                         % (self.label, TIMEOUT))
            n = os.write(fd, view)
            view = view[n:]

    def close_stdin(self):
        if not self.popen.stdin.closed:
            self.popen.stdin.close()

    def wait_exit(self, timeout=None):
        """Waits for the program to exit, reading its output meanwhile (so
        it never blocks on a full pipe). Returns the exit code; kills it and
        raises AssertionError on timeout."""
        deadline = time.monotonic() + (TIMEOUT if timeout is None else timeout)
        while self.popen.poll() is None:
            if time.monotonic() >= deadline:
                self.kill()
                raise AssertionError("%s did not exit within %.1fs%s" %
                                     (self.label, timeout or TIMEOUT,
                                      self.describe()))
            self.out.fill(0.02)
            self.err.fill(0)
        # Output written just before exit is still in the pipes.
        self.out.wait_eof(TIMEOUT)
        self.err.wait_eof(TIMEOUT)
        return self.popen.returncode

    def kill(self):
        if self.popen.poll() is None:
            self.popen.kill()
        try:
            self.popen.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            pass

    def stop(self):
        """Kills the program if needed, closes its pipes, and fails when a
        sanitizer reported an error on stderr."""
        if self.stopped:
            return
        self.stopped = True
        self.close_stdin()
        self.kill()
        for r in (self.out, self.err):
            try:
                r.drain()
            except OSError:
                pass
        self.popen.stdout.close()
        self.popen.stderr.close()
        for mark in SANITIZER_MARKS:
            if mark in self.err.transcript:
                raise AssertionError("%s: sanitizer report on stderr:\n%s" %
                                     (self.label, self.err.transcript.decode(
                                         "utf-8", "replace")))

    def describe(self):
        """The program's exit status and output so far, for messages."""
        for reader in (self.out, self.err):
            try:
                reader.drain()
            except (OSError, ValueError):  # pipes already closed
                pass
        return ("\n  argv: %s\n  exit: %s\n  stdout: %s\n  stderr: %s" %
                (" ".join(self.argv), self.popen.poll(),
                 _short([bytes(self.out.transcript)], 2000),
                 _short([bytes(self.err.transcript)], 2000)))


def start_listener(argv_for_port, proto="tcp", host="127.0.0.1", attempts=5,
                   on_start=None):
    """Starts argv_for_port(port) on a free port and waits until it listens
    there. A lost race for the port (the program says "Address already in
    use") is retried on another port. Returns (proc, port). on_start(proc) is
    called for every process started, e.g. to register its cleanup."""
    socktype = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    last = None
    for _ in range(attempts):
        port = free_port(host, socktype)
        proc = Proc(argv_for_port(port))
        if on_start:
            on_start(proc)
        if wait_listening(port, proto, proc):
            return proc, port
        proc.wait_exit()
        last = proc.describe()
        if b"Address already in use" not in proc.err.transcript:
            break
    raise AssertionError("could not start a listener: %s" % last)


def udp_recv(sock, timeout=None, size=65536):
    """One datagram (data, address) from sock; AssertionError on timeout."""
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ)
        if not sel.select(TIMEOUT if timeout is None else timeout):
            raise AssertionError("no datagram within %.1fs" %
                                 (TIMEOUT if timeout is None else timeout))
    return sock.recvfrom(size)


def udp_assert_quiet(sock, duration=None):
    """Fails if a datagram arrives on sock within duration."""
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ)
        if sel.select(QUIET if duration is None else duration):
            data, addr = sock.recvfrom(65536)
            raise AssertionError("expected no datagram, got %r from %r" %
                                 (data[:200], addr))


def addr_text(sockaddr):
    """The examples' address form: 127.0.0.1:5000 or [::1]:5000."""
    host, port = sockaddr[0], sockaddr[1]
    return ("[%s]:%d" % (host, port) if ":" in host else
            "%s:%d" % (host, port))



def in_background(test, fn, *args):
    """Runs fn(*args) in a thread for a unittest test; returns a
    join(timeout=None) that waits, fails if it is stuck, and re-raises."""
    errors = []

    def run():
        try:
            fn(*args)
        except BaseException as e:  # reported by join()
            errors.append(e)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    test.addCleanup(thread.join, TIMEOUT)

    def join(timeout=None):
        thread.join(timeout or 2 * TIMEOUT)
        test.assertFalse(thread.is_alive(), "background task stuck")
        if errors:
            raise errors[0]
    return join


def wait_for(pred, what, timeout=None):
    """pred()'s first true value, polled every 20 ms; AssertionError
    naming what after timeout."""
    deadline = time.monotonic() + (TIMEOUT if timeout is None else timeout)
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timeout waiting for %s" % what)
        time.sleep(0.02)


# --------------------------------------------------------------- the command
# sockit itself and the test case its suites share (test_cli, test_relay,
# test_exec, test_forward, test_outlog, test_habits, test_udp_batch).

def sockit():
    return binary("sockit", subdir="")


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def awkward(tag=b""):
    """Bytes a text-minded relay would mangle: NUL, invalid UTF-8, CR."""
    return (tag + b"\x00\xff\xfe\xc3\x28\xed\xa0\x80\xf4\x90\x80\x80\r\n"
            b"\x00\x1b[2J\x7f")


def sha(data):
    return hashlib.sha256(data).hexdigest()


class Spawned:
    """sockit with stdin/stdout of the caller's choice (files, pipes) and
    stderr read through a LineReader; the same waits as common.Proc."""

    def __init__(self, argv, stdin, stdout):
        self.argv = [str(a) for a in argv]
        self.popen = subprocess.Popen(self.argv, stdin=stdin, stdout=stdout,
                                      stderr=subprocess.PIPE, bufsize=0)
        self.pid = self.popen.pid
        self.err = LineReader(self.popen.stderr, "sockit stderr",
                              self.describe)
        self.stopped = False

    def poll(self):
        return self.popen.poll()

    def wait_exit(self, timeout=None):
        deadline = time.monotonic() + (timeout or TIMEOUT)
        while self.popen.poll() is None:
            if time.monotonic() >= deadline:
                self.popen.kill()
                raise AssertionError("sockit did not exit within %.1fs%s" %
                                     (timeout or TIMEOUT, self.describe()))
            self.err.fill(0.02)
        self.err.wait_eof()
        return self.popen.returncode

    def stop(self):
        if self.stopped:
            return
        self.stopped = True
        if self.popen.poll() is None:
            self.popen.kill()
        try:
            self.popen.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        try:
            self.err.drain()
        except (OSError, ValueError):
            pass
        self.popen.stderr.close()
        for mark in SANITIZER_MARKS:
            if mark in self.err.transcript:
                raise AssertionError("sanitizer report:\n%s" %
                                     self.err.transcript.decode(
                                         "utf-8", "replace"))

    def describe(self):
        try:
            self.err.drain()
        except (OSError, ValueError):
            pass
        return "\n  argv: %s\n  exit: %s\n  stderr: %r" % (
            " ".join(self.argv), self.popen.poll(),
            bytes(self.err.transcript[:2000]))


class CliCase(unittest.TestCase):
    """Starts sockit and Python peers; addCleanup tears everything down
    in reverse order, even when a test fails."""

    maxDiff = 2000

    # -- sockit

    def spawn(self, *args):
        proc = Proc([sockit()] + [str(a) for a in args])
        self.addCleanup(proc.stop)
        return proc

    def spawn_io(self, args, stdin, stdout):
        proc = Spawned([sockit()] + [str(a) for a in args], stdin, stdout)
        self.addCleanup(proc.stop)
        return proc

    def listener(self, *flags, host="127.0.0.1", proto="tcp"):
        """(proc, port): `sockit -l <flags> host port` once it listens."""
        return start_listener(
            lambda port: [sockit(), "-l", *flags, host, port], proto, host,
            on_start=lambda p: self.addCleanup(p.stop))

    def run_sockit(self, *args, stdin=b"", timeout=None):
        """Runs sockit to its end; returns (exit code, stdout, stderr)."""
        proc = self.spawn(*args)
        if stdin:
            proc.write(stdin)
        proc.close_stdin()
        rc = proc.wait_exit(timeout)
        return rc, bytes(proc.out.transcript), bytes(proc.err.transcript)

    def assert_exit(self, proc, code, timeout=None):
        rc = proc.wait_exit(timeout)
        self.assertEqual(rc, code, "exit status%s" % proc.describe())

    def assert_stderr(self, proc, pattern):
        """stderr is exactly one line, matching pattern (bytes: equal)."""
        err = bytes(proc.err.transcript)
        if isinstance(pattern, bytes):
            self.assertEqual(err, pattern + b"\n", proc.describe())
        else:
            self.assertRegex(err, re.compile(pattern + rb"\n\Z"))
            self.assertEqual(err.count(b"\n"), 1, proc.describe())

    def assert_interrupted(self, proc, signum):
        """Stopped by signum (SIGINT, SIGTERM) while waiting for a client,
        before any relay: it cleans up and exits 128 + signum (130, 143),
        rather than dying by the signal."""
        rc = proc.wait_exit()
        self.assertEqual(rc, 128 + signum, proc.describe())

    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="sockit-cli-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    # -- Python peers

    def server(self, host="127.0.0.1", backlog=8):
        """(listening socket, port) of a Python TCP server."""
        sock = socket.socket(family_of(host), socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.bind((host, 0))
        sock.listen(backlog)
        sock.settimeout(TIMEOUT)
        return sock, sock.getsockname()[1]

    def accept(self, listening):
        try:
            conn, _ = listening.accept()
        except socket.timeout:
            self.fail("sockit did not connect within %.1fs" % TIMEOUT)
        self.addCleanup(conn.close)
        conn.settimeout(TIMEOUT)
        return conn

    def connect(self, port, host="127.0.0.1"):
        sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.addCleanup(sock.close)
        return sock

    def full_backlog(self):
        """The port of a listener (backlog 1, never accepting) whose accept
        queue is full: further SYNs are dropped, connects hang."""
        srv, port = self.server(backlog=1)
        for _ in range(16):
            c = socket.socket()
            self.addCleanup(c.close)
            c.settimeout(0.3 * TIMEOUT_SCALE)
            try:
                c.connect(("127.0.0.1", port))
            except socket.timeout:
                return port
        self.fail("the accept queue never filled")

    def udp_socket(self, host="127.0.0.1"):
        sock = socket.socket(family_of(host), socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind((host, 0))
        return sock

    def accept_from(self, srv, proc):
        """The connection sockit (proc) makes to srv; fails at once with
        sockit's stderr when it exits instead."""
        deadline = time.monotonic() + TIMEOUT
        srv.settimeout(0.05)
        while True:
            try:
                conn, _ = srv.accept()
                break
            except socket.timeout:
                if proc.poll() is not None:
                    self.fail("sockit exited instead of connecting" +
                              proc.describe())
                if time.monotonic() >= deadline:
                    self.fail("sockit did not connect" + proc.describe())
        self.addCleanup(conn.close)
        conn.settimeout(TIMEOUT)
        return conn

    def unix_connect(self, path):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.settimeout(TIMEOUT)
        sock.connect(path)
        return sock

    def in_background(self, fn, *args):
        return in_background(self, fn, *args)

    def stream_until_closed(self, conn, data, chunk=65536):
        """Sends data from a thread until it is all sent or the peer goes
        away (the test closes or resets the other end)."""
        def run():
            try:
                for i in range(0, len(data), chunk):
                    conn.sendall(data[i:i + chunk])
            except OSError:
                pass
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.addCleanup(thread.join, TIMEOUT)
        self.addCleanup(conn.close)
        return thread


def connected_line(port, host=b"127.0.0.1"):
    """nc's -v line for a client, with any service name of the port."""
    return re.compile(rb"\AConnection to %s %d port \[tcp/[^]]+\] "
                      rb"succeeded!\Z" % (re.escape(host), port))


def unix_listening(path):
    """True when a Unix stream socket listens at path (/proc/net/unix)."""
    with open("/proc/net/unix") as f:
        for row in f.read().splitlines()[1:]:
            fields = row.split(None, 7)
            if (len(fields) == 8 and fields[7] == path and
                    int(fields[3], 16) & 0x10000):  # __SO_ACCEPTCON
                return True
    return False


def recv_exact(sock, n, timeout=None):
    """Exactly n bytes from a stream socket, or AssertionError."""
    return LineReader(sock, "python peer").read_exact(n, timeout)


def recv_all(sock, timeout=None):
    """Everything until EOF from a stream socket."""
    r = LineReader(sock, "python peer")
    return r.wait_eof(timeout)
