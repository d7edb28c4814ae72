"""Self-signed certificates for TLS servers that tests start on 127.0.0.1 (openssl)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def self_signed(folder: Path, subject_alt_name: str, common_name: str) -> tuple[str, str]:
    """A fresh self-signed certificate and its key (files in ``folder``), for
    ``subject_alt_name`` ("IP:127.0.0.1", "DNS:feeds.tocsin-test.invalid"); no CA anyone
    trusts. Skips the test when openssl is not installed."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = folder / "cert.pem", folder / "key.pem"
    key_type = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    names = ["-subj", f"/CN={common_name}", "-addext", f"subjectAltName={subject_alt_name}"]
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            *key_type,
            "-days",
            "1",
            *names,
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return str(cert), str(key)
