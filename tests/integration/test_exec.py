#!/usr/bin/env python3
"""Integration tests for exec (issue 10, "Features on it" 1; the spec is
/work/wt/briefs/features.md, "Exec"). Written before the feature: each test
proves one promise of the spec against real programs (a Python echo
program, /bin/cat, /bin/sh):

  - connect mode (`sockit -e PROG host port`), plain listen mode (one
    client, then sockit exits with the child's end), -k (one child per
    client, concurrently: distinct pids), Unix stream sockets (-U);
  - `--exec "PROG ARGS"` splits on blanks without a shell; PROG is looked
    up in PATH; `-c` / `--sh-exec` run /bin/sh -c (pipes, $VARS);
  - the child's stdin is what the peer sends, its stdout goes to the peer,
    its stderr is sockit's stderr;
  - the child exiting ends the connection after its output (FIN); the
    peer's EOF closes the child's stdin and the child may still answer
    (no kill on EOF);
  - every environment variable (SOCKIT_*, NCAT_*, ucspi-tcp's PROTO and
    TCP*) against the client socket's real address and port;
  - children are reaped (no zombie children of sockit) and get SIGTERM
    when sockit is stopped (exit 143);
  - exit status 0 / 1 per the child and the connection;
  - errors: a program not found / not executable is exit 2 before any
    socket (no connection reaches the listener), conflicts are exit 2 with
    one line naming them.

Only 127.0.0.1, ::1 and Unix sockets. Every wait is bounded.

    python3 tests/integration/test_exec.py [-v] [TestClass[.test_name]]
"""

import os
import re
import signal
import socket
import stat
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (QUIET, TIMEOUT, TIMEOUT_SCALE, CliCase,  # noqa: E402
                    LineReader, Proc, free_port, is_listening, recv_all,
                    sockit, start_listener, unix_listening, wait_for,
                    wait_listening)

# The Python echo program: a greeting, then each line back, then a word
# when its stdin ends; LATE_DELAY later (without a kill on EOF) one more.
ECHO_PROG = r"""#!/usr/bin/env python3
import os, sys, time
out = sys.stdout
out.write("hello\n"); out.flush()
for line in sys.stdin:
    out.write("echo:" + line); out.flush()
out.write("got EOF\n"); out.flush()
time.sleep(float(os.environ.get("LATE_DELAY", "0")))
out.write("late\n"); out.flush()
"""

# Prints every environment variable of the spec as NAME=VALUE (or
# NAME unset), then its pid, then waits for stdin to end.
ENV_NAMES = ["SOCKIT_REMOTE_ADDR", "SOCKIT_REMOTE_PORT", "SOCKIT_LOCAL_ADDR",
             "SOCKIT_LOCAL_PORT", "SOCKIT_PROTO", "NCAT_REMOTE_ADDR",
             "NCAT_REMOTE_PORT", "NCAT_LOCAL_ADDR", "NCAT_LOCAL_PORT",
             "NCAT_PROTO", "PROTO", "TCPREMOTEIP", "TCPREMOTEPORT",
             "TCPLOCALIP", "TCPLOCALPORT"]
ENV_PROG = r"""#!/usr/bin/env python3
import os, sys
names = %r
for n in names:
    v = os.environ.get(n)
    sys.stdout.write("%%s=%%s\n" %% (n, v) if v is not None else "%%s unset\n" %% n)
sys.stdout.write("pid=%%d\n" %% os.getpid())
sys.stdout.write("end\n")
sys.stdout.flush()
sys.stdin.read()
""" % ENV_NAMES

# Prints its pid, then sleeps without reading stdin: only a signal ends it.
SLEEPER_PROG = r"""#!/usr/bin/env python3
import os, sys, time
sys.stdout.write("pid=%d\n" % os.getpid()); sys.stdout.flush()
time.sleep(120)
"""

# Writes to stderr (the operator's), one line to stdout, exits.
STDERR_PROG = r"""#!/usr/bin/env python3
import sys
sys.stderr.write("child-says-on-stderr\n"); sys.stderr.flush()
sys.stdout.write("child-says-on-stdout\n"); sys.stdout.flush()
"""

# Prints its argv, one per line.
ARGV_PROG = r"""#!/usr/bin/env python3
import sys
for a in sys.argv[1:]:
    sys.stdout.write("arg=%s\n" % a)
sys.stdout.flush()
"""

# Exits with the status in its first argument after one line.
EXIT_PROG = r"""#!/usr/bin/env python3
import sys
sys.stdout.write("bye\n"); sys.stdout.flush()
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
"""


def proc_children(pid):
    """{child pid: state letter} of every process whose parent is pid."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found[int(name)] = fields[0]
    return found


def pid_state(pid):
    """The state letter of pid, or None when it no longer exists."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def env_of(lines):
    """{name: value or None} from ENV_PROG's lines."""
    env = {}
    for line in lines:
        text = line.decode()
        if text.endswith(" unset"):
            env[text[:-6]] = None
        elif "=" in text:
            k, v = text.split("=", 1)
            env[k] = v
    return env


class ExecCase(CliCase):
    """CliCase plus the test programs, written to a temporary directory."""

    def program(self, text, name="prog.py"):
        path = os.path.join(self.tmpdir(), name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
        return path

    def read_until_eof(self, conn):
        reader = LineReader(conn, "client")
        reader.wait_eof()
        return bytes(reader.transcript)

    def exec_listener(self, *flags, host="127.0.0.1"):
        """(proc, port) of `sockit -l FLAGS host port` once it listens."""
        return self.listener(*flags, host=host)

    def unix_path(self):
        return os.path.join(self.tmpdir(), "exec.sock")

    def unix_listener(self, *flags):
        path = self.unix_path()
        proc = self.spawn("-l", "-U", *flags, path)
        wait_for(lambda: unix_listening(path) or proc.poll() is not None,
                 "sockit to listen on %s" % path)
        self.assertIsNone(proc.poll(), proc.describe())
        return proc, path


class ConnectModeTest(ExecCase):
    """`sockit -e PROG host port`: the child talks to the listener."""

    def test_python_echo_program(self):
        prog = self.program(ECHO_PROG)
        srv, port = self.server()
        proc = self.spawn("-e", prog, "127.0.0.1", port)
        conn = self.accept_from(srv, proc)
        reader = LineReader(conn, "listener")
        self.assertEqual(reader.read_line(), b"hello")
        conn.sendall(b"ping\n")
        self.assertEqual(reader.read_line(), b"echo:ping")
        conn.shutdown(socket.SHUT_WR)
        self.assertEqual(reader.read_line(), b"got EOF")
        self.assertEqual(reader.read_line(), b"late")
        self.assertEqual(reader.wait_eof(), b"")
        self.assert_exit(proc, 0)

    def test_cat_byte_exact(self):
        data = os.urandom(1 << 20)
        srv, port = self.server()
        proc = self.spawn("-e", "/bin/cat", "127.0.0.1", port)
        conn = self.accept_from(srv, proc)
        join = self.in_background(conn.sendall, data)
        reader = LineReader(conn, "listener")
        got = reader.read_exact(len(data))
        join()
        conn.shutdown(socket.SHUT_WR)
        self.assertEqual(reader.wait_eof(), b"")
        self.assertTrue(got == data, "cat's bytes differ")
        self.assert_exit(proc, 0)

    def test_program_looked_up_in_path(self):
        srv, port = self.server()
        proc = self.spawn("-e", "cat", "127.0.0.1", port)
        conn = self.accept_from(srv, proc)
        conn.sendall(b"via PATH\n")
        self.assertEqual(LineReader(conn).read_line(), b"via PATH")
        conn.shutdown(socket.SHUT_WR)
        self.assert_exit(proc, 0)

    def test_exec_long_form_splits_on_blanks_without_shell(self):
        prog = self.program(ARGV_PROG)
        srv, port = self.server()
        proc = self.spawn("--exec", "%s one  two $HOME a|b" % prog,
                          "127.0.0.1", port)
        conn = self.accept_from(srv, proc)
        out = self.read_until_eof(conn)
        # no shell: $HOME and | stay as they are, blanks separate
        self.assertEqual(out, b"arg=one\narg=two\narg=$HOME\narg=a|b\n")
        self.assert_exit(proc, 0)

    def test_environment_connect_mode(self):
        prog = self.program(ENV_PROG)
        srv, port = self.server()
        proc = self.spawn("-e", prog, "127.0.0.1", port)
        conn = self.accept_from(srv, proc)
        reader = LineReader(conn, "listener")
        reader.wait_line(b"end")
        env = env_of(reader.lines)
        # as the child sees it: the remote is the listener, the local
        # side is sockit's socket (the listener's peer)
        peer = conn.getpeername()
        self.assertEqual(env["SOCKIT_REMOTE_ADDR"], "127.0.0.1")
        self.assertEqual(env["SOCKIT_REMOTE_PORT"], str(port))
        self.assertEqual(env["SOCKIT_LOCAL_ADDR"], peer[0])
        self.assertEqual(env["SOCKIT_LOCAL_PORT"], str(peer[1]))
        self.assertEqual(env["SOCKIT_PROTO"], "TCP")
        for n in ("REMOTE_ADDR", "REMOTE_PORT", "LOCAL_ADDR", "LOCAL_PORT",
                  "PROTO"):
            self.assertEqual(env["NCAT_" + n], env["SOCKIT_" + n], n)
        self.assertEqual(env["PROTO"], "TCP")
        self.assertEqual(env["TCPREMOTEIP"], "127.0.0.1")
        self.assertEqual(env["TCPREMOTEPORT"], str(port))
        self.assertEqual(env["TCPLOCALIP"], peer[0])
        self.assertEqual(env["TCPLOCALPORT"], str(peer[1]))
        conn.shutdown(socket.SHUT_WR)
        self.assert_exit(proc, 0)

    def test_child_failure_exits_1(self):
        prog = self.program(EXIT_PROG)
        srv, port = self.server()
        proc = self.spawn("--exec", "%s 5" % prog, "127.0.0.1", port)
        conn = self.accept_from(srv, proc)
        self.assertEqual(self.read_until_eof(conn), b"bye\n")
        self.assert_exit(proc, 1)


class ListenModeTest(ExecCase):
    """`sockit -l -e PROG port`: one client, then sockit ends with it."""

    def test_one_client_python_echo(self):
        prog = self.program(ECHO_PROG)
        proc, port = self.exec_listener("-e", prog)
        conn = self.connect(port)
        reader = LineReader(conn, "client")
        self.assertEqual(reader.read_line(), b"hello")
        conn.sendall(b"abc\n")
        self.assertEqual(reader.read_line(), b"echo:abc")
        conn.shutdown(socket.SHUT_WR)
        self.assertEqual(reader.read_line(), b"got EOF")
        self.assertEqual(reader.read_line(), b"late")
        self.assertEqual(reader.wait_eof(), b"")
        self.assert_exit(proc, 0)
        self.assertFalse(is_listening(port), "still listening after exit")

    def test_cat_listen(self):
        proc, port = self.exec_listener("-e", "/bin/cat")
        conn = self.connect(port)
        conn.sendall(b"one\ntwo\n")
        conn.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_all(conn), b"one\ntwo\n")
        self.assert_exit(proc, 0)

    def test_child_exit_closes_connection(self):
        """The child exits without reading: the client gets its output,
        then EOF, while the client's own sending side is still open."""
        proc, port = self.exec_listener("-c", "echo bye-now")
        conn = self.connect(port)
        reader = LineReader(conn, "client")
        self.assertEqual(reader.read_line(), b"bye-now")
        self.assertEqual(reader.wait_eof(), b"")
        self.assert_exit(proc, 0)

    def test_peer_eof_closes_stdin_and_child_may_still_answer(self):
        """EOF from the peer is EOF on the child's stdin, not a kill: the
        child answers after it, and after a pause."""
        prog = self.program(ECHO_PROG)
        delay = "%.1f" % (0.5 * TIMEOUT_SCALE)
        # LATE_DELAY comes from sockit's environment, passed to the child
        proc_, port = self._listener_with_env({"LATE_DELAY": delay}, prog)
        conn = self.connect(port)
        reader = LineReader(conn, "client")
        self.assertEqual(reader.read_line(), b"hello")
        conn.shutdown(socket.SHUT_WR)
        self.assertEqual(reader.read_line(), b"got EOF")
        self.assertEqual(reader.read_line(timeout=TIMEOUT + float(delay)),
                         b"late")
        self.assertEqual(reader.wait_eof(), b"")
        self.assert_exit(proc_, 0)

    def _listener_with_env(self, extra, prog):
        env = dict(os.environ, **extra)

        def start(port):
            return [sockit(), "-l", "-e", prog, "127.0.0.1", port]
        for _ in range(5):
            port = free_port()
            p = Proc(start(port), env=env)
            self.addCleanup(p.stop)
            if wait_listening(port, proc=p):
                return p, port
            p.wait_exit()
            if b"Address already in use" not in p.err.transcript:
                break
        self.fail("could not start sockit -l -e" + p.describe())

    def test_stderr_of_child_is_sockits(self):
        prog = self.program(STDERR_PROG)
        proc, port = self.exec_listener("-e", prog)
        conn = self.connect(port)
        self.assertEqual(self.read_until_eof(conn), b"child-says-on-stdout\n")
        self.assert_exit(proc, 0)
        self.assertIn(b"child-says-on-stderr\n", bytes(proc.err.transcript))
        self.assertNotIn(b"child-says-on-stderr", bytes(proc.out.transcript))

    def test_environment_listen_mode(self):
        prog = self.program(ENV_PROG)
        proc, port = self.exec_listener("-e", prog)
        conn = self.connect(port)
        reader = LineReader(conn, "client")
        reader.wait_line(b"end")
        env = env_of(reader.lines)
        me = conn.getsockname()
        expected = {
            "SOCKIT_REMOTE_ADDR": "127.0.0.1",
            "SOCKIT_REMOTE_PORT": str(me[1]),
            "SOCKIT_LOCAL_ADDR": "127.0.0.1",
            "SOCKIT_LOCAL_PORT": str(port),
            "SOCKIT_PROTO": "TCP",
            "NCAT_REMOTE_ADDR": "127.0.0.1",
            "NCAT_REMOTE_PORT": str(me[1]),
            "NCAT_LOCAL_ADDR": "127.0.0.1",
            "NCAT_LOCAL_PORT": str(port),
            "NCAT_PROTO": "TCP",
            "PROTO": "TCP",
            "TCPREMOTEIP": "127.0.0.1",
            "TCPREMOTEPORT": str(me[1]),
            "TCPLOCALIP": "127.0.0.1",
            "TCPLOCALPORT": str(port),
        }
        self.assertEqual({k: env.get(k) for k in expected}, expected)
        conn.shutdown(socket.SHUT_WR)
        self.assert_exit(proc, 0)

    def test_environment_ipv6(self):
        prog = self.program(ENV_PROG)
        proc, port = self.exec_listener("-e", prog, host="::1")
        conn = self.connect(port, host="::1")
        reader = LineReader(conn, "client")
        reader.wait_line(b"end")
        env = env_of(reader.lines)
        self.assertEqual(env["SOCKIT_REMOTE_ADDR"], "::1")
        self.assertEqual(env["SOCKIT_LOCAL_ADDR"], "::1")
        self.assertEqual(env["SOCKIT_REMOTE_PORT"], str(conn.getsockname()[1]))
        self.assertEqual(env["TCPREMOTEIP"], "::1")
        conn.shutdown(socket.SHUT_WR)
        self.assert_exit(proc, 0)

    def test_ipv4_mapped_shown_as_ipv4(self):
        """Listening on every address (a dual-stack socket when sockit
        takes one), an IPv4 client is named 127.0.0.1, never
        ::ffff:127.0.0.1."""
        prog = self.program(ENV_PROG)
        proc, port = start_listener(
            lambda p: [sockit(), "-l", "-e", prog, p],
            on_start=lambda p: self.addCleanup(p.stop))
        conn = self.connect(port)
        reader = LineReader(conn, "client")
        reader.wait_line(b"end")
        env = env_of(reader.lines)
        self.assertEqual(env["SOCKIT_REMOTE_ADDR"], "127.0.0.1")
        self.assertEqual(env["NCAT_REMOTE_ADDR"], "127.0.0.1")
        self.assertEqual(env["TCPREMOTEIP"], "127.0.0.1")
        self.assertEqual(env["SOCKIT_LOCAL_ADDR"], "127.0.0.1")
        conn.shutdown(socket.SHUT_WR)
        self.assert_exit(proc, 0)

    def test_child_failure_exits_1(self):
        proc, port = self.exec_listener("-c", "echo bye; exit 3")
        conn = self.connect(port)
        self.assertEqual(self.read_until_eof(conn), b"bye\n")
        self.assert_exit(proc, 1)

    def test_failing_shell_command_just_closes(self):
        proc, port = self.exec_listener("-c", "no-such-command-sockit-test")
        conn = self.connect(port)
        self.assertEqual(self.read_until_eof(conn), b"")
        self.assert_exit(proc, 1)


class ShellTest(ExecCase):
    """`-c CMD` / `--sh-exec CMD`: /bin/sh -c, so pipes and $VARS work."""

    def test_pipe_in_command(self):
        proc, port = self.exec_listener("-c", "tr a-z A-Z | sed 's/^/up:/'")
        conn = self.connect(port)
        conn.sendall(b"hello\nworld\n")
        conn.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_all(conn), b"up:HELLO\nup:WORLD\n")
        self.assert_exit(proc, 0)

    def test_variables_expand(self):
        proc, port = self.exec_listener(
            "--sh-exec", 'echo "$SOCKIT_REMOTE_PORT $NCAT_LOCAL_PORT"')
        conn = self.connect(port)
        self.assertEqual(self.read_until_eof(conn), b"%d %d\n" % (
            conn.getsockname()[1], port))
        self.assert_exit(proc, 0)


class KeepOpenTest(ExecCase):
    """-k: one child per client, all at once; reaped; killed on stop."""

    def test_concurrent_clients_get_their_own_child(self):
        prog = self.program(ENV_PROG)
        proc, port = self.exec_listener("-k", "-e", prog)
        clients = [self.connect(port) for _ in range(5)]
        pids = set()
        for c in clients:  # every child answers while all are connected
            reader = LineReader(c, "client")
            reader.wait_line(b"end")
            env = env_of(reader.lines)
            self.assertEqual(env["SOCKIT_REMOTE_PORT"],
                             str(c.getsockname()[1]))
            pids.add(env["pid"])
        self.assertEqual(len(pids), 5, "children: %s" % pids)
        kids = proc_children(proc.pid)
        for pid in pids:
            self.assertIn(int(pid), kids, "not a child of sockit")
        for c in clients:
            c.shutdown(socket.SHUT_WR)
            self.assertEqual(LineReader(c).wait_eof(), b"")
        self.assertIsNone(proc.poll(), "-k ended" + proc.describe())

    def test_no_zombies(self):
        proc, port = self.exec_listener("-k", "-c", "echo hi")
        for _ in range(6):
            conn = self.connect(port)
            self.assertEqual(self.read_until_eof(conn), b"hi\n")
            conn.close()

        def reaped():
            kids = proc_children(proc.pid)
            return not any(s == "Z" for s in kids.values())
        wait_for(reaped, "no zombie children of sockit (%r)" %
                 proc_children(proc.pid))
        self.assertIsNone(proc.poll(), proc.describe())

    def test_sigterm_kills_children_and_exits_143(self):
        prog = self.program(SLEEPER_PROG)
        proc, port = self.exec_listener("-k", "-e", prog)
        pids = []
        clients = []
        for _ in range(3):
            c = self.connect(port)
            clients.append(c)
            line = LineReader(c, "client").read_line()
            pids.append(int(line.split(b"=")[1]))
        proc.popen.send_signal(signal.SIGTERM)
        self.assert_exit(proc, 143)
        for pid in pids:  # gone, or a zombie of whoever inherited it
            wait_for(lambda: pid_state(pid) in (None, "Z"),
                     "child %d to die of SIGTERM" % pid)
        for c in clients:
            LineReader(c, "client").wait_eof()

    def test_a_child_that_ignores_sigterm_is_not_waited_for(self):
        # The stop's deadline (the engine's flush deadline, 2 s): a child
        # that ignores SIGTERM outlives sockit instead of holding it.
        proc, port = self.exec_listener(
            "-k", "-c", "trap '' TERM; echo ready; exec sleep 120 2>/dev/null")
        c = self.connect(port)
        self.addCleanup(c.close)
        LineReader(c, "client").wait_line(b"ready")
        kids = list(proc_children(proc.pid))
        self.assertTrue(kids)
        started = time.monotonic()
        proc.popen.send_signal(signal.SIGTERM)
        self.assert_exit(proc, 143)
        self.assertLess(time.monotonic() - started, 2 + TIMEOUT)
        for pid in kids:  # still there: not waited for, not killed
            self.assertIsNotNone(pid_state(pid))
            os.kill(pid, signal.SIGKILL)

    def test_unix_keep_open(self):
        proc, path = self.unix_listener("-k", "-e", "/bin/cat")
        for word in (b"first\n", b"second\n"):
            conn = self.unix_connect(path)
            conn.sendall(word)
            conn.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_all(conn), word)
        self.assertIsNone(proc.poll(), proc.describe())


class UnixTest(ExecCase):
    """-U: exec over a Unix stream socket, SOCKIT_PROTO=UNIX, no TCP*."""

    def test_unix_listen_exec(self):
        prog = self.program(ENV_PROG)
        proc, path = self.unix_listener("-e", prog)
        conn = self.unix_connect(path)
        reader = LineReader(conn, "client")
        reader.wait_line(b"end")
        env = env_of(reader.lines)
        self.assertEqual(env["SOCKIT_PROTO"], "UNIX")
        self.assertEqual(env["NCAT_PROTO"], "UNIX")
        for n in ("PROTO", "TCPREMOTEIP", "TCPREMOTEPORT", "TCPLOCALIP",
                  "TCPLOCALPORT"):
            self.assertIsNone(env[n], "%s set for a Unix socket" % n)
        conn.shutdown(socket.SHUT_WR)
        self.assertEqual(reader.wait_eof(), b"")
        self.assert_exit(proc, 0)

    def test_unix_listen_cat(self):
        proc, path = self.unix_listener("-e", "/bin/cat")
        conn = self.unix_connect(path)
        conn.sendall(b"over unix\n")
        conn.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_all(conn), b"over unix\n")
        self.assert_exit(proc, 0)


class ErrorTest(ExecCase):
    """Bad exec requests: exit 2, one line, before any socket."""

    def assert_usage(self, args, pattern):
        rc, out, err = self.run_sockit(*args)
        self.assertEqual(rc, 2, "exit status; stderr %r" % err)
        self.assertEqual(err.count(b"\n"), 1, "one line: %r" % err)
        self.assertRegex(err, re.compile(rb"^sockit: " + pattern, re.I))
        return err

    def test_missing_program_before_any_socket(self):
        srv, port = self.server()
        self.assert_usage(["-e", "nosuch-sockit-prog", "127.0.0.1", port],
                          rb'.*exec "nosuch-sockit-prog":? not found in PATH')
        srv.settimeout(QUIET)
        with self.assertRaises(socket.timeout, msg="sockit connected"):
            srv.accept()

    def test_missing_program_listen_never_binds(self):
        port = free_port()
        proc = self.spawn("-l", "-e", "/nonexistent/prog", "127.0.0.1", port)
        # no port is bound at any moment up to the exit
        while proc.poll() is None:
            self.assertFalse(is_listening(port, pid=proc.pid),
                             "listened before checking the program")
            time.sleep(0.005)
        self.assert_exit(proc, 2)
        self.assertRegex(bytes(proc.err.transcript),
                         rb'^sockit: exec "/nonexistent/prog": '
                         rb'(not found|no such)')

    def test_not_executable(self):
        path = os.path.join(self.tmpdir(), "plain.txt")
        with open(path, "w") as f:
            f.write("not a program\n")
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        srv, port = self.server()
        self.assert_usage(["-e", path, "127.0.0.1", port],
                          rb'.*exec ".*plain.txt":? is not executable')
        srv.settimeout(QUIET)
        with self.assertRaises(socket.timeout):
            srv.accept()

    def test_e_without_program(self):
        for flag in ("-e", "--exec", "-c", "--sh-exec"):
            with self.subTest(flag=flag):
                rc, out, err = self.run_sockit("-l", "2333", flag)
                self.assertEqual(rc, 2, err)
                # as every option with a value says it (-w, -p)
                self.assertRegex(err, rb'^sockit: option "%s" needs a value'
                                 % flag.encode())

    def test_e_with_c(self):
        self.assert_usage(["-l", "-e", "/bin/cat", "-c", "cat", "2333"],
                          rb".*(-e|--exec).*(-c|--sh-exec)|"
                          rb".*(-c|--sh-exec).*(-e|--exec)")

    def test_conflicts(self):
        cases = [
            (["-u", "-l", "2333"], rb"-u|--udp|udp|UDP"),
            (["-z", "127.0.0.1", "2333"], rb"-z|scan"),
            (["--chat", "-l", "2333"], rb"chat"),
            (["--broker", "-l", "2333"], rb"broker"),
            (["-l", "--to", "127.0.0.1:80", "2333"], rb"--to"),
            (["--send-only", "-l", "2333"], rb"send-only"),
            (["--recv-only", "-l", "2333"], rb"recv-only"),
        ]
        for exec_flag in (["-e", "/bin/cat"], ["-c", "cat"]):
            for extra, word in cases:
                with self.subTest(exec=exec_flag[0], other=extra[0]):
                    err = self.assert_usage(exec_flag + extra, rb".*")
                    self.assertRegex(err, word)
                    self.assertRegex(err, rb"-e|-c|exec")


if __name__ == "__main__":
    unittest.main()
