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


if __name__ == "__main__":
    unittest.main(verbosity=2)
