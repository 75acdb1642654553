#!/usr/bin/env python3
"""What a user of the library meets (issue 8, packaging).

- `cmake --install BUILD --prefix TMP` (what `make install PREFIX=TMP`
  runs) writes a sockit.pc whose prefix is TMP, not the prefix the build
  was configured with.
- The README's library snippet is examples/quickstart.c, byte for byte.
- That program builds against the installed copy through pkg-config
  alone, and runs: against a real listener, a refused port and a bad
  port, with the exit codes it documents.
- LICENSE is the BSD 2-Clause licence and is installed.
- A plain `make` asks scripts/install-deps for the build group only;
  `make test`, `make bench` and `make fuzz` for their own tools; each
  group of the script names its packages and no others.
"""

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from common import (TIMEOUT, LineReader, _sanitized_build,  # noqa: E402
                    build_dir, refusing_port)

QUICKSTART = os.path.join(ROOT, "examples", "quickstart.c")


def run(argv, env=None, timeout=120):
    """Runs argv; returns (exit code, stdout, stderr) as text."""
    p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def readme_library_snippet():
    """The C code block under the README's "The library" heading."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## The library[^\n]*\n(.*?)(?=^## )", text,
                  re.S | re.M)
    if not m:
        raise AssertionError("README.md has no '## The library' section")
    blocks = re.findall(r"^```c\n(.*?)^```\n", m.group(1), re.S | re.M)
    if len(blocks) != 1:
        raise AssertionError("expected one ```c block in the library "
                             "section, found %d" % len(blocks))
    return blocks[0]


class InstalledTree:
    """One `cmake --install` into a temporary prefix, shared by the tests
    (installing is the slow part)."""

    prefix = None
    tmp = None

    @classmethod
    def get(cls):
        if cls.prefix is None:
            cls.tmp = tempfile.TemporaryDirectory(prefix="sockit-install-")
            cls.prefix = os.path.join(cls.tmp.name, "pfx")
            rc, out, err = run([shutil.which("cmake") or "cmake", "--install",
                                build_dir(), "--prefix", cls.prefix])
            if rc != 0:
                raise AssertionError("cmake --install failed (%d):\n%s%s"
                                     % (rc, out, err))
        return cls.prefix

    @classmethod
    def pc_dir(cls):
        found = glob.glob(os.path.join(cls.get(), "**", "pkgconfig",
                                       "sockit.pc"), recursive=True)
        if len(found) != 1:
            raise AssertionError("expected one installed sockit.pc, found %r"
                                 % found)
        return os.path.dirname(found[0])

    @classmethod
    def pkg_config(cls, *args):
        env = dict(os.environ, PKG_CONFIG_PATH=cls.pc_dir())
        rc, out, err = run(["pkg-config", *args, "sockit"], env=env)
        if rc != 0:
            raise AssertionError("pkg-config %s sockit failed: %s"
                                 % (" ".join(args), err))
        return out.strip()


def tearDownModule():
    if InstalledTree.tmp is not None:
        InstalledTree.tmp.cleanup()


class PkgConfigTest(unittest.TestCase):

    def test_pc_prefix_is_the_install_prefix(self):
        prefix = InstalledTree.get()
        self.assertEqual(InstalledTree.pkg_config("--variable=prefix"),
                         prefix)
        libdir = InstalledTree.pkg_config("--variable=libdir")
        self.assertTrue(libdir.startswith(prefix + "/"), libdir)
        self.assertTrue(glob.glob(os.path.join(libdir, "libsockit.so*")),
                        "no libsockit.so in %s" % libdir)
        includedir = InstalledTree.pkg_config("--variable=includedir")
        self.assertTrue(os.path.isfile(os.path.join(includedir, "sockit",
                                                    "sockit.h")))

    def test_license_is_bsd_2_clause_and_installed(self):
        with open(os.path.join(ROOT, "LICENSE"), encoding="utf-8") as f:
            text = f.read()
        self.assertIn("BSD 2-Clause License", text)
        self.assertIn("Copyright (c) 2026 the sockit authors", text)
        self.assertTrue(glob.glob(os.path.join(InstalledTree.get(), "share",
                                               "doc", "*", "LICENSE")))


class QuickstartTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="sockit-quickstart-")
        cls.exe = os.path.join(cls.tmp.name, "quickstart")
        flags = (InstalledTree.pkg_config("--cflags").split() +
                 InstalledTree.pkg_config("--libs").split())
        if _sanitized_build():  # the installed library needs its runtime
            flags += ["-fsanitize=address,undefined"]
        argv = ["cc", "-Wall", "-Wextra", "-Werror", QUICKSTART,
                "-o", cls.exe] + flags
        rc, out, err = run(argv)
        if rc != 0:
            raise AssertionError("%s\nfailed (%d):\n%s%s"
                                 % (" ".join(argv), rc, out, err))
        cls.env = dict(os.environ,
                       LD_LIBRARY_PATH=InstalledTree.pkg_config(
                           "--variable=libdir"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_readme_snippet_is_quickstart_c(self):
        with open(QUICKSTART, encoding="utf-8") as f:
            self.assertEqual(readme_library_snippet(), f.read())

    def test_sends_hello_to_a_real_listener(self):
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            listener.settimeout(TIMEOUT)
            port = listener.getsockname()[1]
            rc, out, err = run([self.exe, "127.0.0.1:%d" % port],
                               env=self.env, timeout=TIMEOUT)
            self.assertEqual((rc, out, err), (0, "", ""))
            conn, _ = listener.accept()
            with conn:
                self.assertEqual(LineReader(conn, "listener").wait_eof(),
                                 b"hello\n")

    def test_refused_connection_exits_1(self):
        sock, port = refusing_port()
        self.addCleanup(sock.close)
        rc, out, err = run([self.exe, "127.0.0.1:%d" % port], env=self.env,
                           timeout=TIMEOUT)
        self.assertEqual((rc, out, err), (
            1, "", "connect 127.0.0.1:%d: Connection refused\n" % port))

    def test_bad_port_exits_2(self):
        rc, out, err = run([self.exe, "127.0.0.1:2333x"], env=self.env,
                           timeout=TIMEOUT)
        self.assertEqual((rc, out, err), (
            2, "", 'port "2333x" is not an integer in 1..65535\n'))


def fake_bin(directory, tools, scripts=None):
    """A bin directory holding links to the real tools named, and small
    shell scripts (name -> body) standing in for others."""
    os.makedirs(directory, exist_ok=True)
    for t in tools:
        if os.path.lexists(os.path.join(directory, t)):
            continue
        real = shutil.which(t)
        if real is None:
            raise AssertionError("%s is needed by this test" % t)
        os.symlink(real, os.path.join(directory, t))
    for name, body in (scripts or {}).items():
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body + "\n")
        os.chmod(path, 0o755)
    return directory


class DepsTest(unittest.TestCase):
    """Which packages each make target brings (issue 8)."""

    BUILD_TOOLS = ["sh", "cmake", "pkg-config", "cc", "python3"]

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="sockit-deps-")
        self.addCleanup(self.tmp.cleanup)
        self.log = os.path.join(self.tmp.name, "asked")

    def make_deps(self, target, tools):
        """Runs the dependency check of `make target` with only tools on
        PATH and a stand-in install-deps that records its arguments;
        returns the groups it was asked for."""
        bindir = fake_bin(os.path.join(self.tmp.name, "bin"), tools)
        recorder = fake_bin(os.path.join(self.tmp.name, "rec"), [], {
            "install-deps": 'echo "$@" >> "%s"' % self.log})
        argv = [shutil.which("make") or "make", "-s", "-C", ROOT, target,
                "INSTALL_DEPS=%s/install-deps" % recorder]
        env = dict(os.environ, PATH=bindir)
        rc, out, err = run(argv, env=env)
        self.assertEqual(rc, 0, "make %s:\n%s%s" % (target, out, err))
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return f.read().split()

    def test_plain_build_needs_only_the_build_tools(self):
        # No nc, ncat, socat, iperf3, gnuplot, perf or clang on PATH.
        self.assertEqual(self.make_deps("deps-build", self.BUILD_TOOLS), [])
        self.assertEqual(self.make_deps("deps", self.BUILD_TOOLS), [])

    def test_test_bench_and_fuzz_bring_their_tools(self):
        for target, group in (("deps-test", "test"), ("deps-bench", "bench"),
                              ("deps-fuzz", "fuzz")):
            with self.subTest(target=target):
                if os.path.exists(self.log):
                    os.unlink(self.log)
                self.assertEqual(self.make_deps(target, self.BUILD_TOOLS),
                                 [group])

    def test_targets_check_their_group(self):
        # make -n shows the recipes: each target's own group check.
        for target, groups in (("build", ["build"]),
                               ("test", ["test", "build"]),
                               ("bench-quick", ["bench", "build"]),
                               ("fuzz", ["build", "fuzz"])):
            with self.subTest(target=target):
                rc, out, err = run(["make", "-n", "-C", ROOT, target,
                                    "BUILD=" + build_dir()])
                self.assertEqual(rc, 0, err)
                asked = re.findall(r"\$\(INSTALL_DEPS\) (\w+)|"
                                   r"install-deps (\w+)", out)
                self.assertEqual(sorted(a or b for a, b in asked),
                                 sorted(groups), out)

    def install_deps_missing(self, *groups):
        """The packages scripts/install-deps names for groups when none is
        installed, as a non-root user (it only prints the command)."""
        bindir = fake_bin(os.path.join(self.tmp.name, "fake"),
                          ["sh", "grep"], {
                              "dpkg-query": "exit 1",
                              "id": "echo 1000",
                              "apt-get": 'echo "apt-get must not run" >&2; '
                                         "exit 99"})
        rc, out, err = run(["sh", os.path.join(ROOT, "scripts",
                                               "install-deps"), *groups],
                           env=dict(os.environ, PATH=bindir))
        self.assertEqual(rc, 1, err)
        m = re.search(r"^install-deps: missing packages: (.*)$", err, re.M)
        self.assertIsNotNone(m, err)
        return set(m.group(1).split())

    def test_install_deps_groups(self):
        build = self.install_deps_missing("build")
        self.assertEqual(build, self.install_deps_missing())  # the default
        self.assertTrue({"cmake", "gcc", "pkg-config", "libuv1-dev",
                         "libcmocka-dev"} <= build, build)
        extras = {"ncat", "socat", "netcat-openbsd", "iperf3", "gnuplot-nox",
                  "linux-perf", "clang"}
        self.assertEqual(build & extras, set())
        self.assertTrue({"ncat", "socat", "netcat-openbsd"} <=
                        self.install_deps_missing("test"))
        bench = self.install_deps_missing("bench")
        self.assertTrue({"iperf3", "gnuplot-nox", "linux-perf"} <= bench)
        self.assertEqual(self.install_deps_missing("fuzz"), {"clang"})
        self.assertEqual(self.install_deps_missing("all"),
                         build | extras | self.install_deps_missing("test")
                         | bench)

    def test_install_deps_is_idempotent_and_refuses_unknown_groups(self):
        bindir = fake_bin(os.path.join(self.tmp.name, "ok"), ["sh", "grep"], {
            "dpkg-query": "printf 'install ok installed'",
            "apt-get": "exit 99"})
        script = os.path.join(ROOT, "scripts", "install-deps")
        env = dict(os.environ, PATH=bindir)
        self.assertEqual(run(["sh", script, "all"], env=env), (0, "", ""))
        rc, out, err = run(["sh", script, "nope"], env=env)
        self.assertEqual((rc, out), (2, ""))
        self.assertEqual(err, 'install-deps: unknown group "nope"; expected '
                         "build, test, bench, fuzz or all\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
