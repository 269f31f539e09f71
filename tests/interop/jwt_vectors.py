"""Mints the token vectors of crates/tollgate-token from an independent implementation (PyJWT).

Reads the committed fixture keys, writes their public JWKs (PyJWT's own conversion) and a
token per algorithm, valid until 2100, to crates/tollgate-token/tests/fixtures/. Run once with
the interop venv (pip install 'pyjwt[crypto]'); the output is committed, the tests only read it:

    /var/tmp/tollgate-interop-venv/bin/python tests/interop/jwt_vectors.py
"""

import json
import pathlib

import jwt
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from cryptography.hazmat.primitives.serialization import load_pem_private_key

root = pathlib.Path(__file__).resolve().parents[2]
fixtures = root / "crates" / "tollgate-token" / "tests" / "fixtures"

# key file, JWK kid, algorithm, PyJWT's converter
KEYS = [
    ("rsa2048", "rsa-1", "RS256", RSAAlgorithm),
    ("ec256", "ec256-1", "ES256", ECAlgorithm),
    ("ec384", "ec384-1", "ES384", ECAlgorithm),
    ("ed25519", "ed-1", "EdDSA", OKPAlgorithm),
]

CLAIMS = {
    "sub": "user-42",
    "userId": "u-1001",
    "aud": "tollgate-tests",
    "iss": "pyjwt",
    "iat": 1700000000,
    "exp": 4102444800,  # 2100-01-01
    "jti": "pyjwt-vector",
}

jwks = []
tokens = {}
for name, kid, alg, conv in KEYS:
    private = load_pem_private_key((fixtures / f"{name}.pem").read_bytes(), password=None)
    jwk = json.loads(conv.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    jwks.append(jwk)
    tokens[alg] = jwt.encode(dict(CLAIMS, jti=f"pyjwt-{alg}"), private, algorithm=alg, headers={"kid": kid})
# PS256 with the RSA key
rsa = load_pem_private_key((fixtures / "rsa2048.pem").read_bytes(), password=None)
tokens["PS256"] = jwt.encode(dict(CLAIMS, jti="pyjwt-PS256"), rsa, algorithm="PS256", headers={"kid": "rsa-1"})

(fixtures / "jwks.json").write_text(json.dumps({"keys": jwks}, indent=2) + "\n")
(fixtures / "pyjwt-vectors.json").write_text(
    json.dumps({"generator": f"PyJWT {jwt.__version__}", "claims": CLAIMS, "tokens": tokens}, indent=2) + "\n"
)
print(f"wrote {len(jwks)} JWKs and {len(tokens)} tokens with PyJWT {jwt.__version__}")
