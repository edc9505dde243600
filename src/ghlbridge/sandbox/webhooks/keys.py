"""The sandbox's webhook signing keys, and the two signatures GHL puts on every delivery.

GHL signs the raw body twice: Ed25519 (base64, ``x-ghl-signature``) and RSA-SHA256 PKCS#1
v1.5 (base64, ``x-wh-signature``). The sandbox does the same with its own keys, made
deterministically from the seed (so a seed always publishes the same public keys) or loaded
from PEM files. `cryptography` cannot generate an RSA key from a seed, so the primes are drawn
here from a seeded stream and the key is assembled from its numbers.
"""

from __future__ import annotations

import base64
import functools
import math
import random
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from ghlbridge.sandbox.ids import derive_seed

ED25519_HEADER = "x-ghl-signature"
RSA_HEADER = "x-wh-signature"
RSA_BITS = 2048
"""GHL's key is RSA-4096; 2048 bits keep start-up and signing fast and verify the same way."""


def _odd_primes_below(limit: int) -> list[int]:
    sieve = bytearray([1]) * limit
    sieve[:2] = b"\x00\x00"
    for n in range(2, math.isqrt(limit) + 1):
        if sieve[n]:
            sieve[n * n :: n] = bytes(len(range(n * n, limit, n)))
    return [n for n in range(3, limit) if sieve[n]]


_SMALL_PRIMES = _odd_primes_below(10_000)
_WINDOW = 4096
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class PublicKeys:
    """The PEM (SubjectPublicKeyInfo) public halves receivers verify with."""

    ed25519: str
    rsa: str

    def as_json(self) -> dict[str, str]:
        return {"ed25519": self.ed25519, "rsa": self.rsa}


class WebhookKeys:
    """An Ed25519 and an RSA private key; `sign` gives a delivery's signature headers."""

    def __init__(self, ed25519_key: ed25519.Ed25519PrivateKey, rsa_key: rsa.RSAPrivateKey) -> None:
        self._ed25519 = ed25519_key
        self._rsa = rsa_key
        self.public = PublicKeys(
            _public_pem(ed25519_key.public_key()), _public_pem(rsa_key.public_key())
        )

    @classmethod
    def load(
        cls,
        seed: int,
        *,
        ed25519_file: str | Path | None = None,
        rsa_file: str | Path | None = None,
    ) -> WebhookKeys:
        """Keys from PEM private-key files where given, else the seed's own keys."""
        ed_key = _read_private(ed25519_file) if ed25519_file else seeded_ed25519(seed)
        rsa_key = _read_private(rsa_file) if rsa_file else seeded_rsa(seed)
        if not isinstance(ed_key, ed25519.Ed25519PrivateKey):
            raise ValueError(f"webhook key file {ed25519_file}: not an Ed25519 private key")
        if not isinstance(rsa_key, rsa.RSAPrivateKey):
            raise ValueError(f"webhook key file {rsa_file}: not an RSA private key")
        return cls(ed_key, rsa_key)

    def sign(self, body: bytes) -> dict[str, str]:
        """Both signature headers over the exact bytes sent."""
        ed_sig = self._ed25519.sign(body)
        rsa_sig = self._rsa.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return {
            ED25519_HEADER: base64.b64encode(ed_sig).decode(),
            RSA_HEADER: base64.b64encode(rsa_sig).decode(),
        }


def _public_pem(key: ed25519.Ed25519PublicKey | rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _read_private(path: str | Path) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"webhook key file {path}: {exc}") from None


def seeded_ed25519(seed: int) -> ed25519.Ed25519PrivateKey:
    raw = random.Random(derive_seed(seed, "webhook-ed25519")).randbytes(32)
    return ed25519.Ed25519PrivateKey.from_private_bytes(raw)


def seeded_rsa(seed: int) -> rsa.RSAPrivateKey:
    """The seed's RSA key; made once per process and seed (it takes a few hundred ms)."""
    with _lock:
        return _seeded_rsa(seed)


@functools.cache
def _seeded_rsa(seed: int) -> rsa.RSAPrivateKey:
    rng = random.Random(derive_seed(seed, "webhook-rsa"))
    e = 65537
    while True:
        p, q = _prime(rng, RSA_BITS // 2, e), _prime(rng, RSA_BITS // 2, e)
        if p != q:
            break
    p, q = max(p, q), min(p, q)
    d = pow(e, -1, math.lcm(p - 1, q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, p * q),
    )
    return numbers.private_key()


def _prime(rng: random.Random, bits: int, e: int) -> int:
    """A random `bits`-bit prime with its top two bits set (so p*q has 2*bits bits).

    Candidates come from a window of odd numbers after a random start, sieved by the small
    primes first, so only a few dozen reach the (slow, pure-Python) Miller-Rabin test.
    """
    while True:
        start = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        composite = bytearray(_WINDOW)  # offset i stands for start + 2*i
        for p in _SMALL_PRIMES:
            first = (-start * pow(2, -1, p)) % p  # the first i with p | start + 2*i
            composite[first::p] = b"\x01" * len(range(first, _WINDOW, p))
        for i in range(_WINDOW):
            candidate = start + 2 * i
            if composite[i] or candidate.bit_length() != bits or (candidate - 1) % e == 0:
                continue
            if _probably_prime(candidate, rng):
                return candidate


def _probably_prime(n: int, rng: random.Random, rounds: int = 5) -> bool:
    """Miller-Rabin; for random 1024-bit candidates 5 rounds err below 2**-100 (FIPS 186-4)."""
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True
