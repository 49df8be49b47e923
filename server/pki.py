"""The product's own certificate authority and the server's HTTPS certificate.

Agents pin the CA by the SHA-256 of its DER form at enrollment, so the CA is made once per data
folder and never comes from a public authority. Keys are EC P-256: fast to make and accepted by
every TLS stack the agents meet.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server.config import DataPaths, write_private

CA_LIFETIME = datetime.timedelta(days=20 * 365)
SERVER_LIFETIME = datetime.timedelta(days=5 * 365)
# Backdated a little so a client whose clock runs slow still accepts a fresh certificate.
CLOCK_SKEW = datetime.timedelta(days=1)
DEFAULT_NAMES = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class IssuedPair:
    cert_pem: bytes
    key_pem: bytes


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _subject_alternative_names(names: list[str]) -> list[x509.GeneralName]:
    seen: list[x509.GeneralName] = []
    for name in names:
        try:
            entry: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name.strip("[]")))
        except ValueError:
            entry = x509.DNSName(name)
        if entry not in seen:
            seen.append(entry)
    return seen


def make_ca(common_name: str = "xunjian CA") -> tuple[IssuedPair, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return IssuedPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)), key


def issue_server_certificate(
    ca_cert_pem: bytes, ca_key: ec.EllipticCurvePrivateKey, names: list[str]
) -> IssuedPair:
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names = _subject_alternative_names([*DEFAULT_NAMES, *names])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xunjian server")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + SERVER_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return IssuedPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def create_pki(paths: DataPaths, extra_names: list[str]) -> None:
    """Write the CA and the server certificate into a new data folder."""
    ca, ca_key = make_ca()
    server = issue_server_certificate(ca.cert_pem, ca_key, extra_names)
    for folder in (paths.ca_dir, paths.tls_dir):
        folder.mkdir(mode=0o700)
    write_private(paths.ca_key, ca.key_pem)
    paths.ca_cert.write_bytes(ca.cert_pem)
    write_private(paths.server_key, server.key_pem)
    paths.server_cert.write_bytes(server.cert_pem)


def read_ca_pem(paths: DataPaths) -> bytes:
    return paths.ca_cert.read_bytes()
