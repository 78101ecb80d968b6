#!/usr/bin/env python3
"""Writes vectors.json: Auth0 `custom_password_hash` objects made by other
implementations than the Rust crates under test.

Made by Python's hashlib and hmac (digests, HMAC, PBKDF2, scrypt), pycryptodome
(MD4, and PBKDF2/HMAC over MD4, which OpenSSL 3 no longer offers), the
`bcrypt` package and `argon2-cffi`:

    python3 -m venv /tmp/v && /tmp/v/bin/pip install bcrypt argon2-cffi pycryptodome
    /tmp/v/bin/python make_vectors.py > vectors.json

bcrypt and Argon2 salts are random, so a rerun writes other (equally valid)
hashes for those; every other vector uses the fixed salts below.
"""
import base64
import hashlib
import hmac
import json

import argon2
import bcrypt
from Crypto.Hash import HMAC as CHMAC, MD4
from Crypto.Protocol.KDF import PBKDF2

PASSWORD = "correct horse battery staple"
UNICODE = "pässwörd-日本"


def b64(data, pad=True):
    text = base64.b64encode(data).decode()
    return text if pad else text.rstrip("=")


def encode(data, encoding):
    if encoding == "hex":
        return data.hex()
    if encoding == "base64":
        return b64(data)
    raise ValueError(encoding)


def password_bytes(password, encoding):
    if encoding in ("utf16le", "ucs2"):
        return password.encode("utf-16-le")
    if encoding in ("latin1", "binary", "ascii"):
        # Node.js: the low byte of every UTF-16 unit.
        return bytes(u & 0xFF for u in memoryview(password.encode("utf-16-le")).cast("H"))
    return password.encode("utf-8")


def digest(name, data):
    if name == "md4":
        return MD4.new(data).digest()
    return hashlib.new(name, data).digest()


def mac(name, key, data):
    if name == "md4":
        return CHMAC.new(key, data, digestmod=MD4).digest()
    return hmac.new(key, data, name).digest()


vectors = []


def add(label, password, custom):
    vectors.append({"label": label, "password": password, "custom_password_hash": custom})


# Plain salted digests: every algorithm, unsalted and both positions, every
# hash, salt and password encoding.
for algorithm in ["md4", "md5", "sha1", "sha256", "sha512"]:
    add(f"{algorithm} unsalted hex", PASSWORD, {
        "algorithm": algorithm,
        "hash": {"value": digest(algorithm, PASSWORD.encode()).hex(), "encoding": "hex"},
    })
    salt = b"NaCl-2024"
    add(f"{algorithm} prefix utf8 salt, base64", PASSWORD, {
        "algorithm": algorithm,
        "hash": {"value": b64(digest(algorithm, salt + PASSWORD.encode())), "encoding": "base64"},
        "salt": {"value": salt.decode(), "position": "prefix"},
    })
    raw_salt = bytes(range(250, 256)) + b"\x00\x01"
    add(f"{algorithm} suffix hex salt, upper-case hex", UNICODE, {
        "algorithm": algorithm,
        "hash": {"value": digest(algorithm, UNICODE.encode() + raw_salt).hex().upper(), "encoding": "hex"},
        "salt": {"value": raw_salt.hex(), "encoding": "hex", "position": "suffix"},
    })
    for encoding in ["utf16le", "ucs2", "latin1"]:
        add(f"{algorithm} base64 salt, {encoding} password", UNICODE, {
            "algorithm": algorithm,
            "hash": {"value": b64(digest(algorithm, raw_salt + password_bytes(UNICODE, encoding))), "encoding": "base64"},
            "salt": {"value": b64(raw_salt), "encoding": "base64", "position": "prefix"},
            "password": {"encoding": encoding},
        })

# HMAC: every digest, every key encoding, with and without salt.
for name in ["md4", "md5", "sha1", "sha224", "sha256", "sha384", "sha512"]:
    key = b"server-side-pepper"
    add(f"hmac-{name} utf8 key", PASSWORD, {
        "algorithm": "hmac",
        "hash": {"value": mac(name, key, PASSWORD.encode()).hex(), "encoding": "hex",
                 "digest": name, "key": {"value": key.decode()}},
    })
add("hmac-sha1 hex key (Auth0's example key)", PASSWORD, {
    "algorithm": "hmac",
    "hash": {"value": b64(mac("sha1", bytes.fromhex("736868"), PASSWORD.encode())), "encoding": "base64",
             "digest": "sha1", "key": {"value": "736868", "encoding": "hex"}},
})
add("hmac-sha256 base64 key, suffix salt, utf16le", UNICODE, {
    "algorithm": "hmac",
    "hash": {"value": b64(mac("sha256", b"\x01\x02\x03\xff", password_bytes(UNICODE, "utf16le") + b"salty")),
             "encoding": "base64", "digest": "sha256",
             "key": {"value": b64(b"\x01\x02\x03\xff"), "encoding": "base64"}},
    "salt": {"value": "salty", "encoding": "utf8", "position": "suffix"},
    "password": {"encoding": "utf16le"},
})

# PBKDF2: PHC strings, digests and Auth0's OpenSSL aliases, defaults left out.
for name, iterations, length in [("sha1", 1000, 20), ("sha256", 2000, 32), ("sha512", 1500, 64),
                                 ("md5", 1000, 16), ("sha224", 1000, 28), ("sha384", 1000, 48)]:
    salt = b"pbkdf2-salt-" + name.encode()
    key = hashlib.pbkdf2_hmac(name, PASSWORD.encode(), salt, iterations, length)
    add(f"pbkdf2-{name}", PASSWORD, {
        "algorithm": "pbkdf2",
        "hash": {"value": f"$pbkdf2-{name}$i={iterations},l={length}${b64(salt, False)}${b64(key, False)}",
                 "encoding": "utf8"},
    })
salt = b"\x10\x20\x30\x40\x50\x60\x70\x80"
key = PBKDF2(UNICODE.encode(), salt, 24, count=1000, hmac_hash_module=MD4)
add("pbkdf2-md4 (pycryptodome)", UNICODE, {
    "algorithm": "pbkdf2",
    "hash": {"value": f"$pbkdf2-md4$i=1000,l=24${b64(salt, False)}${b64(key, False)}"},
})
key = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt, 1200, 40)
add("pbkdf2 alias RSA-SHA256, padded base64", PASSWORD, {
    "algorithm": "pbkdf2",
    "hash": {"value": f"$pbkdf2-RSA-SHA256$i=1200,l=40${b64(salt)}${b64(key)}"},
})
key = hashlib.pbkdf2_hmac("sha512", PASSWORD.encode(), salt, 100000, 64)
add("pbkdf2-sha512 defaults left out (i=100000, l=64)", PASSWORD, {
    "algorithm": "pbkdf2",
    "hash": {"value": f"$pbkdf2-sha512${b64(salt, False)}${b64(key, False)}"},
})

# scrypt: small costs (the tests run unoptimised), hex and base64.
for n, r, p, length, encoding in [(1024, 8, 1, 64, "base64"), (16, 1, 1, 32, "hex"), (256, 4, 2, 48, "hex")]:
    salt = f"scrypt-salt-{n}".encode()
    key = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=n, r=r, p=p, dklen=length)
    add(f"scrypt N={n} r={r} p={p}", PASSWORD, {
        "algorithm": "scrypt",
        "hash": {"value": encode(key, encoding), "encoding": encoding},
        "salt": {"value": salt.decode(), "encoding": "utf8"},
        "keylen": length, "cost": n, "blockSize": r, "parallelization": p,
    })

# LDAP (RFC 2307): every scheme.
for scheme, name, salted in [("MD5", "md5", False), ("SMD5", "md5", True), ("SHA", "sha1", False),
                             ("SSHA", "sha1", True), ("SHA256", "sha256", False), ("SSHA256", "sha256", True),
                             ("SHA384", "sha384", False), ("SSHA384", "sha384", True),
                             ("SHA512", "sha512", False), ("SSHA512", "sha512", True)]:
    salt = b"\x5a\xa5\x01\x02" if salted else b""
    value = b64(digest(name, PASSWORD.encode() + salt) + salt)
    add(f"ldap {{{scheme}}}", PASSWORD, {
        "algorithm": "ldap",
        "hash": {"value": f"{{{scheme}}}{value}", "encoding": "utf8"},
    })

# bcrypt ($2a$ and $2b$) and Argon2 (all three variants) from their reference bindings.
for prefix in [b"2a", b"2b"]:
    value = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4, prefix=prefix)).decode()
    add(f"bcrypt ${prefix.decode()}$ cost 4", PASSWORD, {"algorithm": "bcrypt", "hash": {"value": value}})
add("bcrypt from Auth0's documentation (`hello`, cost 10)", "hello", {
    "algorithm": "bcrypt",
    "hash": {"value": "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"},
})
for variant, kind in [("argon2id", argon2.Type.ID), ("argon2i", argon2.Type.I), ("argon2d", argon2.Type.D)]:
    hasher = argon2.PasswordHasher(time_cost=1, memory_cost=64, parallelism=1, hash_len=24, type=kind)
    add(f"{variant} m=64 t=1 p=1", UNICODE, {"algorithm": "argon2", "hash": {"value": hasher.hash(UNICODE)}})
strong = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=argon2.Type.ID)
add("argon2id at the default strength (no rehash)", PASSWORD,
    {"algorithm": "argon2", "hash": {"value": strong.hash(PASSWORD)}})

print(json.dumps(vectors, indent=1, ensure_ascii=False))
