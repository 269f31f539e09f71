"""The official Tencent Cloud SDK (tencentcloud-sdk-python-common, CommonClient) against
`signed_echo --scheme tencent-cloud`: TC3-HMAC-SHA256, HmacSHA1 and HmacSHA256."""

import os
import sys

import requests
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from common import AWKWARD, after_signing, case, edit_query, expect, finish, old_clock, set_body

ENDPOINT, KEY, SECRET = sys.argv[1], sys.argv[2], sys.argv[3]


def client(sign="TC3-HMAC-SHA256", method="POST", key=KEY, secret=SECRET, token=None):
    http = HttpProfile(protocol="http", endpoint=ENDPOINT, reqMethod=method)
    profile = ClientProfile(signMethod=sign, httpProfile=http)
    cred = credential.Credential(key, secret, token)
    return CommonClient("cvm", "2017-03-12", cred, "ap-guangzhou", profile=profile)


def call(c, params=None):
    return c.call_json("Echo", dict(AWKWARD) if params is None else params)


def refused(code, c, params=None):
    try:
        resp = call(c, params)
    except TencentCloudSDKException as e:
        expect(e.get_code() == code, f"expected {code}, SDK reported {e.get_code()}: {e.get_message()}")
        return
    raise AssertionError(f"expected {code}, got success {resp}")


VARIANTS = [
    ("TC3-HMAC-SHA256", "GET"),
    ("TC3-HMAC-SHA256", "POST"),
    ("HmacSHA1", "GET"),
    ("HmacSHA1", "POST"),
    ("HmacSHA256", "GET"),
    ("HmacSHA256", "POST"),
]

for sign, method in VARIANTS:
    tag = f"{sign} {method}"

    @case(f"{tag}: valid call succeeds with the key id")
    def _():
        resp = call(client(sign, method))
        expect(resp["Response"]["key_id"] == KEY, resp)
        expect(resp["Response"]["RequestId"], resp)

    @case(f"{tag}: wrong secret")
    def _():
        refused("AuthFailure.SignatureFailure", client(sign, method, secret=SECRET + "x"))

    @case(f"{tag}: unknown key")
    def _():
        refused("AuthFailure.SecretIdNotFound", client(sign, method, key="AKIDunknown"))

    @case(f"{tag}: 20-minute-old timestamp")
    def _():
        with old_clock(20 * 60):
            refused("AuthFailure.SignatureExpire", client(sign, method))

    if sign == "TC3-HMAC-SHA256":

        @case(f"{tag}: identical request sent twice (an SDK retry)")
        def _():
            # TC3 has no nonce, and Tencent's endpoint accepts an identical request again
            # within the window: so does the replay guard, unless told to remember signatures
            c = client(sign, method)
            with after_signing(requests.Session, twice=True):
                resp = call(c)
            expect(resp["Response"]["key_id"] == KEY, f"the second send should pass: {resp}")

    else:

        @case(f"{tag}: replay")
        def _():
            c = client(sign, method)
            with after_signing(requests.Session, twice=True):
                # v1 signs a Nonce: the guard accepts it once
                refused("AuthFailure.SignatureFailure", c)

    if method == "GET":

        @case(f"{tag}: tampered parameter")
        def _():
            def edit(p):
                edit_query(p, lambda pairs: [(k, v + "!" if k == "star" else v) for k, v in pairs])

            with after_signing(requests.Session, edit):
                refused("AuthFailure.SignatureFailure", client(sign, method))

        @case(f"{tag}: missing signature")
        def _():
            def edit(p):
                p.headers.pop("Authorization", None)
                edit_query(p, lambda pairs: [(k, v) for k, v in pairs if k != "Signature"])

            with after_signing(requests.Session, edit):
                refused("MissingParameter", client(sign, method))

    else:

        @case(f"{tag}: tampered body")
        def _():
            def edit(p):
                body = p.body if isinstance(p.body, bytes) else p.body.encode()
                set_body(p, body.replace(b"home", b"hame"))

            with after_signing(requests.Session, edit):
                refused("AuthFailure.SignatureFailure", client(sign, method))

        @case(f"{tag}: missing signature")
        def _():
            def edit(p):
                p.headers.pop("Authorization", None)
                body = p.body if isinstance(p.body, bytes) else p.body.encode()
                kept = b"&".join(kv for kv in body.split(b"&") if not kv.startswith(b"Signature="))
                if sign.startswith("Hmac"):
                    set_body(p, kept)

            with after_signing(requests.Session, edit):
                refused("MissingParameter", client(sign, method))


@case("TC3 POST JSON with nested values")
def _():
    resp = call(client(), {"Limit": 10, "Filters": [{"Name": "zone", "Values": ["ap-1", "张三 +*~/"]}]})
    expect(resp["Response"]["key_id"] == KEY, resp)


# Temporary credentials (auth.md §4): Credential(id, key, token) sends X-TC-Token (TC3, not
# signed) or Token (v1, signed).
STS_KEY, STS_SECRET = os.environ["STS_KEY"], os.environ["STS_SECRET"]

for sign, method in VARIANTS:
    tag = f"STS {sign} {method}"

    @case(f"{tag}: valid token succeeds with the temporary key id")
    def _():
        resp = call(client(sign, method, STS_KEY, STS_SECRET, os.environ["STS_TOKEN"]))
        expect(resp["Response"]["key_id"] == STS_KEY, resp)

    @case(f"{tag}: expired token (AuthFailure.TokenFailure)")
    def _():
        refused("AuthFailure.TokenFailure", client(sign, method, STS_KEY, STS_SECRET, os.environ["STS_OLD_TOKEN"]))

    @case(f"{tag}: another key's token (AuthFailure.TokenFailure)")
    def _():
        refused("AuthFailure.TokenFailure", client(sign, method, STS_KEY, STS_SECRET, os.environ["STS_OTHER_TOKEN"]))

    @case(f"{tag}: temporary key without its token (AuthFailure.TokenFailure)")
    def _():
        refused("AuthFailure.TokenFailure", client(sign, method, STS_KEY, STS_SECRET))


finish("tencent-cloud interop")
