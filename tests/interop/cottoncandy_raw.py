#!/usr/bin/python3
"""Raw arrays as cottoncandy lays them out, written and checked by an independent client (botocore and
numpy from Debian), for tests/integration/s3rver/cli_object_array_test.cpp.

cottoncandy's upload_raw_array stores an array's bytes (in its own C or Fortran order and byte order,
gzip-compressed or not) with user metadata dtype (numpy's dtype.str), shape ("2,3,4"), compression
("False" or the codec name) and order ("C" or "F"). This script does the same with botocore, without
cottoncandy, and reads such objects back with numpy.

  cottoncandy_raw.py write BUCKET KEY DTYPE SHAPE ORDER COMPRESSION OUT.npy
      puts the test array (see expected()) with that layout; saves it with numpy to OUT.npy
  cottoncandy_raw.py check BUCKET KEY DTYPE SHAPE
      reads the object as cottoncandy would (metadata, decompression, np.frombuffer + reshape in the
      stored order) and compares it with the test array; prints "ok" or what differs (exit 1)

The endpoint and keys come from SLUICE_TEST_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
SHAPE is "2,3,4" ("" for 0-d); COMPRESSION is False or gzip.
"""
import gzip
import os
import sys

import botocore.config
import botocore.session
import numpy as np


def client():
    session = botocore.session.get_session()
    return session.create_client(
        "s3",
        endpoint_url=os.environ["SLUICE_TEST_ENDPOINT"],
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        config=botocore.config.Config(s3={"addressing_style": "path"}),
    )


def shape_of(text):
    return tuple(int(d) for d in text.split(",")) if text else ()


def expected(dtype, shape):
    """The test array: element k (in C order) is k, cast to dtype (bool: odd k)."""
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    k = np.arange(n, dtype=np.int64)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        values = (k % 2 == 1)
    elif dt.kind == "c":
        values = k.astype(np.float64) + 0.5j * k.astype(np.float64)
    elif dt.kind == "f":
        values = k.astype(np.float64) * 0.25 - 3
    else:
        values = k
    return values.astype(dt).reshape(shape)


def write(bucket, key, dtype, shape_text, order, compression, out_npy):
    a = expected(dtype, shape_of(shape_text))
    body = a.tobytes(order=order)
    if compression == "gzip":
        body = gzip.compress(body)
    elif compression != "False":
        raise SystemExit("compression must be False or gzip")
    meta = {"dtype": a.dtype.str, "shape": ",".join(str(d) for d in a.shape), "compression": compression,
            "order": order}
    client().put_object(Bucket=bucket, Key=key, Body=body, Metadata=meta)
    np.save(out_npy, a)


def check(bucket, key, dtype, shape_text):
    want = expected(dtype, shape_of(shape_text))
    got = client().get_object(Bucket=bucket, Key=key)
    meta = got["Metadata"]
    body = got["Body"].read()
    if meta.get("compression") == "gzip":
        body = gzip.decompress(body)
    elif meta.get("compression") not in ("False", None):
        print("unexpected compression metadata %r" % meta.get("compression"))
        return 1
    shape = shape_of(meta["shape"])
    a = np.frombuffer(body, dtype=np.dtype(meta["dtype"])).reshape(shape, order=meta.get("order", "C"))
    problems = []
    if a.dtype != want.dtype:
        problems.append("dtype %s, expected %s" % (a.dtype.str, want.dtype.str))
    if a.shape != want.shape:
        problems.append("shape %r, expected %r" % (a.shape, want.shape))
    elif not np.array_equal(a, want):
        problems.append("elements differ")
    print("; ".join(problems) if problems else "ok")
    return 1 if problems else 0


def main(argv):
    if len(argv) == 8 and argv[0] == "write":
        write(*argv[1:])
        return 0
    if len(argv) == 5 and argv[0] == "check":
        return check(*argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
