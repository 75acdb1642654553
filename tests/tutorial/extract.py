#!/usr/bin/env python3
"""Cuts the tutorial's six Python programs out of the seed, verbatim.

The seed (../shared/seed/000_18554500d96e329f.txt from the repository
root) is a Markdown article. Its programs are indented code blocks (one
TAB per line) under the headings "### 3.2 socket_tcp代码" and
"### 3.4 socket_udp代码", each after a bold item: "**1、服务器端**"
(server), "**2、客户端**" (client), "**3、简单交互演示**" (the
two-thread demo). Each block is written here without its indent TAB and
nothing else changed: tcp_server.py, tcp_client.py, tcp_chat_demo.py,
udp_server.py, udp_client.py, udp_chat_demo.py.

    python3 tests/tutorial/extract.py [SEED [OUTDIR]]

The committed copies beside this script are its output; test_tutorial.py
checks that they still equal a fresh extraction.
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SEED = os.path.join(ROOT, "..", "shared", "seed", "000_18554500d96e329f.txt")

SECTIONS = {"socket_tcp": "tcp", "socket_udp": "udp"}
ITEMS = {"1": "server", "2": "client", "3": "chat_demo"}
NAMES = ["%s_%s.py" % (p, i) for p in ("tcp", "udp")
         for i in ("server", "client", "chat_demo")]


def extract(text):
    """{file name: program text} for every program found in text."""
    programs, section, item, block = {}, None, None, None
    for line in text.split("\n") + [""]:
        if block is not None and not line.startswith("\t"):
            if section and item:
                name = "%s_%s.py" % (section, item)
                if name in programs:
                    raise ValueError("two programs for %s" % name)
                programs[name] = "\n".join(block) + "\n"
            block, item = None, None
        if line.startswith("\t"):
            if block is None:
                block = []
            block.append(line[1:])
            continue
        m = re.match(r"#{2,3} ", line)
        if m:
            section = next((v for k, v in SECTIONS.items() if k in line),
                           None)
            item = None
        m = re.fullmatch(r"\*\*([123])、.*\*\*", line.strip())
        if m and section:
            item = ITEMS[m.group(1)]
    return programs


def main(argv):
    seed = argv[1] if len(argv) > 1 else SEED
    outdir = argv[2] if len(argv) > 2 else HERE
    with open(seed, encoding="utf-8") as f:
        programs = extract(f.read())
    if sorted(programs) != sorted(NAMES):
        sys.exit("extract.py: expected %s in %s, found %s"
                 % (NAMES, seed, sorted(programs)))
    for name in NAMES:
        with open(os.path.join(outdir, name), "w", encoding="utf-8") as f:
            f.write(programs[name])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
