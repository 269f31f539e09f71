"""The official Aliyun POP SDK (aliyun-python-sdk-core, AcsClient + CommonRequest) against
`signed_echo --scheme aliyun-rpc`: GET and POST form."""

import json
import sys

import os

from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest, RpcRequest
from aliyunsdkcore.utils import parameter_helper
from aliyunsdkcore.vendored.requests import Session

from common import AWKWARD, after_signing, case, edit_query, expect, finish, set_body

ENDPOINT, KEY, SECRET = sys.argv[1], sys.argv[2], sys.argv[3]


def client(key=KEY, secret=SECRET):
    return AcsClient(key, secret, "cn-hangzhou", auto_retry=False)


def request(method):
    r = CommonRequest(domain=ENDPOINT, version="2014-05-26", action_name="Echo")
    r.set_protocol_type("http")
    r.set_method(method)
    r.set_accept_format("json")
    if method == "GET":
        for k, v in AWKWARD.items():
            r.add_query_param(k, v)
    else:
        r.add_query_param("page", "1")
        for k, v in AWKWARD.items():
            r.add_body_params(k, v)
    return r


def refused(code, status, c, method):
    try:
        resp = c.do_action_with_exception(request(method))
    except ServerException as e:
        expect(e.get_error_code() == code, f"expected {code}, SDK reported {e.get_error_code()}: {e.get_error_msg()}")
        expect(e.get_http_status() == status, f"expected HTTP {status}, got {e.get_http_status()}")
        return
    raise AssertionError(f"expected {code}, got success {resp!r}")


for method in ["GET", "POST"]:

    @case(f"{method}: valid call succeeds with the key id")
    def _():
        body = json.loads(client().do_action_with_exception(request(method)))
        expect(body["key_id"] == KEY, body)

    @case(f"{method}: wrong secret")
    def _():
        # CommonRequest never records its string to sign, so the SDK cannot tell a wrong
        # secret from a changed request here and reports the server's code as is.
        refused("SignatureDoesNotMatch", 400, client(secret=SECRET + "x"), method)

    @case(f"{method}: unknown key")
    def _():
        refused("InvalidAccessKeyId.NotFound", 404, client(key="LTAIunknown"), method)

    @case(f"{method}: 20-minute-old timestamp")
    def _():
        import time

        old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 20 * 60))
        real = parameter_helper.get_iso_8061_date
        parameter_helper.get_iso_8061_date = lambda: old
        try:
            refused("InvalidTimeStamp.Expired", 400, client(), method)
        finally:
            parameter_helper.get_iso_8061_date = real

    @case(f"{method}: replay")
    def _():
        with after_signing(Session, twice=True):
            refused("SignatureNonceUsed", 400, client(), method)

    @case(f"{method}: missing signature")
    def _():
        def edit(p):
            edit_query(p, lambda pairs: [(k, v) for k, v in pairs if k != "Signature"])

        with after_signing(Session, edit):
            refused("MissingSignature", 400, client(), method)

    if method == "GET":

        @case("GET: tampered parameter")
        def _():
            def edit(p):
                edit_query(p, lambda pairs: [(k, v + "!" if k == "name" else v) for k, v in pairs])

            with after_signing(Session, edit):
                refused("SignatureDoesNotMatch", 400, client(), method)

    else:

        @case("POST: tampered form body")
        def _():
            def edit(p):
                body = p.body if isinstance(p.body, bytes) else p.body.encode()
                set_body(p, body.replace(b"home", b"hame"))

            with after_signing(Session, edit):
                refused("SignatureDoesNotMatch", 400, client(), method)


class EchoRequest(RpcRequest):
    """A typed request, as the product SDKs generate: it records its string to sign."""

    def __init__(self, method):
        RpcRequest.__init__(self, "Ecs", "2014-05-26", "Echo")
        self.set_endpoint(ENDPOINT)
        self.set_protocol_type("http")
        self.set_method(method)
        for k, v in AWKWARD.items():
            self.add_query_param(k, v)


for method in ["GET", "POST"]:

    @case(f"RpcRequest {method}: valid call succeeds")
    def _():
        body = json.loads(client().do_action_with_exception(EchoRequest(method)))
        expect(body["key_id"] == KEY, body)

    @case(f"RpcRequest {method}: wrong secret is told apart from a changed request (InvalidAccessKeySecret)")
    def _():
        # The SDK compares its own string to sign with the one in our message.
        try:
            client(secret=SECRET + "x").do_action_with_exception(EchoRequest(method))
        except ServerException as e:
            expect(e.get_error_code() == "InvalidAccessKeySecret", f"SDK reported {e.get_error_code()}: {e.get_error_msg()}")
            return
        raise AssertionError("expected a refusal")


# Temporary credentials (auth.md §4): StsTokenCredential sends SecurityToken, signed.
STS_KEY, STS_SECRET = os.environ["STS_KEY"], os.environ["STS_SECRET"]


def sts_client(token, key=STS_KEY, secret=STS_SECRET):
    return AcsClient(region_id="cn-hangzhou", auto_retry=False, credential=StsTokenCredential(key, secret, token))


for method in ["GET", "POST"]:

    @case(f"STS {method}: valid token succeeds with the temporary key id")
    def _():
        body = json.loads(sts_client(os.environ["STS_TOKEN"]).do_action_with_exception(request(method)))
        expect(body["key_id"] == STS_KEY, body)

    @case(f"STS {method}: expired token (InvalidSecurityToken.Expired)")
    def _():
        refused("InvalidSecurityToken.Expired", 403, sts_client(os.environ["STS_OLD_TOKEN"]), method)

    @case(f"STS {method}: another key's token (InvalidSecurityToken.MismatchWithAccessKey)")
    def _():
        refused("InvalidSecurityToken.MismatchWithAccessKey", 403, sts_client(os.environ["STS_OTHER_TOKEN"]), method)

    @case(f"STS {method}: temporary key signed without its token (MissingSecurityToken)")
    def _():
        refused("MissingSecurityToken", 400, client(STS_KEY, STS_SECRET), method)

    @case(f"STS {method}: token changed after signing (it is signed)")
    def _():
        def edit(p):
            edit_query(p, lambda pairs: [(k, os.environ["STS_OTHER_TOKEN"] if k == "SecurityToken" else v) for k, v in pairs])

        with after_signing(Session, edit):
            refused("SignatureDoesNotMatch", 400, sts_client(os.environ["STS_TOKEN"]), method)


finish("aliyun-rpc interop")
