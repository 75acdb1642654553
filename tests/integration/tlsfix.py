"""The TLS tests' certificates, made with the openssl command (a fixture,
not a test file: CTest runs only test_*.py).

    tlsfix.make_certs()        a new temporary directory of certificates
    tlsfix.cert("good.pem")    a path in it
    tlsfix.fingerprint(name)   sha256:HEX of a certificate, as --ssl-pin
    tlsfix.remove_certs()      for tearDownModule

In it: ca.pem/ca.key (the test CA), good (CN localhost, SAN localhost and
127.0.0.1), expired, future (not yet valid), wronghost (other.example),
client (a client certificate), all signed by the CA, and self (a
self-signed certificate for localhost). EC P-256 keys, valid two days.
"""

import hashlib
import os
import shutil
import ssl
import subprocess
import tempfile

CERTS = None  # the directory of certificates (make_certs)

CA_CNF = """[ca]
default_ca = ca_default
[ca_default]
dir = .
database = index.txt
new_certs_dir = newcerts
serial = serial
default_md = sha256
policy = policy_any
copy_extensions = copy
unique_subject = no
[policy_any]
commonName = supplied
"""

EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
LOCAL_SAN = "subjectAltName=DNS:localhost,IP:127.0.0.1"


def openssl(*args):
    """Runs the openssl command in CERTS; CalledProcessError on failure."""
    subprocess.run(["openssl"] + list(args), cwd=CERTS, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _signed(name, cn, san, dates):
    """name.pem / name.key signed by the CA, valid over dates (openssl ca
    -startdate/-enddate, or -days): openssl 3.0's req and x509 cannot set
    a not-after in the past, ca can."""
    openssl("req", "-new", *EC_KEY, "-keyout", name + ".key", "-out",
             name + ".csr", "-subj", "/CN=" + cn, *(["-addext", san]
                                                    if san else []))
    openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem",
             "-keyfile", "ca.key", "-in", name + ".csr", "-out", name + ".pem",
             "-notext", *dates)


def make_certs(directory=None):
    """Makes the certificates in directory (a new temporary one when
    None), which becomes CERTS; returns it."""
    global CERTS
    CERTS = directory or tempfile.mkdtemp(prefix="sockit-certs-")
    with open(os.path.join(CERTS, "ca.cnf"), "w") as f:
        f.write(CA_CNF)
    os.mkdir(os.path.join(CERTS, "newcerts"))
    open(os.path.join(CERTS, "index.txt"), "w").close()
    with open(os.path.join(CERTS, "serial"), "w") as f:
        f.write("01\n")
    openssl("req", "-x509", *EC_KEY, "-keyout", "ca.key", "-out", "ca.pem",
             "-subj", "/CN=sockit test CA", "-days", "2")
    _signed("good", "localhost", LOCAL_SAN, ["-days", "2"])
    _signed("expired", "localhost", LOCAL_SAN,
            ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"])
    _signed("future", "localhost", LOCAL_SAN,
            ["-startdate", "20990101000000Z", "-enddate", "20990102000000Z"])
    _signed("wronghost", "other.example",
            "subjectAltName=DNS:other.example,DNS:www.other.example",
            ["-days", "2"])
    _signed("client", "sockit client", None, ["-days", "2"])
    openssl("req", "-x509", *EC_KEY, "-keyout", "self.key", "-out",
             "self.pem", "-subj", "/CN=localhost", "-addext", LOCAL_SAN,
             "-days", "2")
    return CERTS




def remove_certs():
    if CERTS:
        shutil.rmtree(CERTS, ignore_errors=True)


def cert(name):
    return os.path.join(CERTS, name)


def fingerprint(pem_name):
    """sha256:HEX of a certificate, from its DER, as Python computes it."""
    with open(cert(pem_name)) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return "sha256:" + hashlib.sha256(der).hexdigest()
