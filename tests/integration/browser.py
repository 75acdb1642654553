"""Headless Chromium for the web tests: Debian's chromium and
chromium-driver through python3-selenium (scripts/install-deps test).
Chromium not starting is a failure, never a skip: make test installs it."""

import sys

try:
    import selenium  # noqa: F401
except ImportError:  # a Python of its own (pyenv) next to Debian's
    sys.path.append("/usr/lib/python3/dist-packages")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE = (390, 844)  # a phone's CSS pixels


def start_chromium(*extra_args):
    """A headless Chromium at a phone's width (no display needed)."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage",
              "--window-size=%d,%d" % PHONE) + extra_args:
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
