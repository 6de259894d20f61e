#!/usr/bin/python3
"""Signs requests with botocore's SigV4 for S3, as the reference for sluice's signer.

Usage: botocore_sigv4.py REQUESTS.jsonl

Each input line is one JSON request written by tests/unit/sigv4_botocore_test.cpp:
  id, kind ("header" | "presign"), method, host, path_prefix ("" or "/bucket"),
  key (raw object key, or null for a bucket-level request), params ([[name, value]]),
  headers ([[name, value]], repeats allowed), body_hex, sign_payload (bool),
  access_key, secret_key, token (or null), region, epoch (seconds), expires.

For each, one JSON line is printed in the same order:
  id, path (the path botocore builds from the key: percent_encode(key, safe='/~')),
  signature, authorization (header kind) or query (presign kind, without '?'),
  canonical_request, timestamp; or id and error.

Time is frozen per request by giving botocore.auth a datetime whose utcnow()
returns the request's epoch; the script checks that botocore used it.
Exit status: 0 ok, 2 botocore missing, 3 botocore did not use the frozen time.
"""

import datetime
import json
import sys
import types

try:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.utils import percent_encode
except ImportError as e:
    sys.stderr.write(
        f"botocore_sigv4.py: cannot import botocore ({e}); "
        "install python3-botocore (run: bash tools/install-deps.sh)\n"
    )
    sys.exit(2)


class FrozenDatetime(datetime.datetime):
    """datetime.datetime whose 'now' is the request time being signed."""

    frozen = None  # aware UTC datetime

    @classmethod
    def utcnow(cls):
        return cls.frozen.replace(tzinfo=None)

    @classmethod
    def now(cls, tz=None):
        if tz is None:
            return cls.frozen.replace(tzinfo=None)
        return cls.frozen.astimezone(tz)


def freeze_botocore_clock():
    fake = types.SimpleNamespace(
        **{k: getattr(datetime, k) for k in dir(datetime) if not k.startswith("__")}
    )
    fake.datetime = FrozenDatetime
    botocore.auth.datetime = fake


class RecordingHeaderAuth(botocore.auth.S3SigV4Auth):
    last_canonical_request = None

    def canonical_request(self, request):
        self.last_canonical_request = super().canonical_request(request)
        return self.last_canonical_request


class RecordingQueryAuth(botocore.auth.S3SigV4QueryAuth):
    last_canonical_request = None

    def canonical_request(self, request):
        self.last_canonical_request = super().canonical_request(request)
        return self.last_canonical_request


def build_request(r, path):
    url = "https://" + r["host"] + path
    if r["kind"] == "presign":
        # SigV4QueryAuth merges params as a dict (names are unique in presign requests).
        params = {name: value for name, value in r["params"]}
    else:
        params = [(name, value) for name, value in r["params"]]
    request = AWSRequest(
        method=r["method"], url=url, data=bytes.fromhex(r["body_hex"]), params=params
    )
    # AWSRequest.headers is an email.message-style map: assigning twice keeps both values,
    # which is how repeated headers reach the signer.
    for name, value in r["headers"]:
        request.headers[name] = value
    request.context["client_config"] = types.SimpleNamespace(
        s3={"payload_signing_enabled": r["sign_payload"]}
    )
    return request


def sign(r):
    path = r["path_prefix"]
    if r["key"] is not None:
        path += "/" + percent_encode(r["key"], safe="/~")
    elif not path:
        path = "/"
    frozen = datetime.datetime.fromtimestamp(r["epoch"], datetime.timezone.utc)
    FrozenDatetime.frozen = frozen
    expected_timestamp = frozen.strftime("%Y%m%dT%H%M%SZ")

    creds = Credentials(r["access_key"], r["secret_key"], r["token"])
    request = build_request(r, path)
    out = {"id": r["id"], "path": path}
    if r["kind"] == "presign":
        signer = RecordingQueryAuth(creds, "s3", r["region"], expires=r["expires"])
        signer.add_auth(request)
        query = request.url.split("?", 1)[1]
        out["query"] = query
        out["signature"] = query.rsplit("&X-Amz-Signature=", 1)[1]
    else:
        signer = RecordingHeaderAuth(creds, "s3", r["region"])
        signer.add_auth(request)
        auth = request.headers["Authorization"]
        out["authorization"] = auth
        out["signature"] = auth.rsplit("Signature=", 1)[1]
    out["canonical_request"] = signer.last_canonical_request
    out["timestamp"] = request.context["timestamp"]
    if out["timestamp"] != expected_timestamp:
        sys.stderr.write(
            f"botocore_sigv4.py: botocore signed with time {out['timestamp']}, not the frozen "
            f"{expected_timestamp}: this botocore reads the clock differently; update "
            "freeze_botocore_clock()\n"
        )
        sys.exit(3)
    return out


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: botocore_sigv4.py REQUESTS.jsonl\n")
        return 1
    freeze_botocore_clock()
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            try:
                out = sign(r)
            except Exception as e:  # report per request; the C++ side shows it
                out = {"id": r.get("id"), "error": f"{type(e).__name__}: {e}"}
            sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
