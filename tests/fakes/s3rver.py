"""s3rver, an S3-compatible server written in Node by others, on 127.0.0.1, over HTTP or
over TLS with a certificate from a CA made for the test.

Why: moto is what the project tests against everywhere else, and moto takes whatever
botocore sends. s3rver is a second implementation that does not speak every botocore
default (it keeps an `aws-chunked` upload's framing as the object's body) and enforces
other things than moto (presigned expiry, not `If-None-Match` on PutObject), which is how
stores met in deployments behave. `.ci/run` installs it (`npm ci --prefix .ci/node`, the
versions pinned in `.ci/node/package-lock.json`); a test run without it installs it the
same way, and tests skip only where node itself is missing.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / ".ci" / "node"
MODULE = NODE_DIR / "node_modules" / "s3rver"
RUNNER = Path(__file__).with_name("s3rver.js")
ACCESS_KEY = "S3RVER"
"""s3rver's built-in account (it checks the key id, not SigV4 signatures)."""
_install_lock = threading.Lock()


@dataclass(frozen=True)
class Store:
    endpoint: str
    bucket: str
    ca_file: str | None


def node() -> str:
    """The node binary, or a skip naming why: the only reason these tests may not run."""
    found = shutil.which("node")
    if found is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: s3rver (an S3 server in Node) cannot run")
    return found


def installed() -> Path:
    """s3rver as `.ci/run` installs it; installed here the same way if it is not yet."""
    with _install_lock:
        if not MODULE.is_dir():
            subprocess.run(
                ["npm", "ci", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund"],
                check=True,
                capture_output=True,
                timeout=600,
            )
    return MODULE


@contextmanager
def s3rver(workdir: Path, bucket: str, *, tls: bool) -> Iterator[Store]:
    binary = node()
    module = installed()
    data = workdir / "s3rver-data"
    data.mkdir(parents=True, exist_ok=True)
    args = [binary, str(RUNNER), str(module), str(data), bucket]
    ca_file = None
    if tls:
        ca_file, key, cert = make_ca(workdir)
        args += [key, cert]
    proc = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().decode().strip()
        if not port.isdigit():
            _, err = proc.communicate(timeout=10)
            raise RuntimeError(f"s3rver did not start: {err.decode(errors='replace')[-500:]}")
        scheme = "https" if tls else "http"
        yield Store(f"{scheme}://127.0.0.1:{port}", bucket, ca_file)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def make_ca(workdir: Path) -> tuple[str, str, str]:
    """A CA and a certificate for 127.0.0.1 it signed: (ca.pem, key.pem, cert.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "connector test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (workdir / "ca.pem", workdir / "key.pem", workdir / "cert.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(paths[1], 0o600)
    paths[2].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(paths[0]), str(paths[1]), str(paths[2])
