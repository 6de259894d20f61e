#!/usr/bin/python3
"""cottoncandy's chunked (dask), sparse and dictionary layouts, written and checked by an independent
client (botocore and numpy from Debian, without cottoncandy), for
tests/integration/s3rver/cli_object_layouts_test.cpp.

What cottoncandy stores (every part a raw array: bytes plus user metadata dtype, shape, compression,
order; gzip-compressed by default):
  chunked     NAME/pt0000, NAME/pt0001, ... and NAME/metadata.json with shape, dtype, dask
              ([[coords], key] per part), chunk_sizes and chunks (per dimension); its writer may add
              a trailing part of length 0 along the split axis
  sparse      NAME/data, NAME/indices, NAME/indptr (csr, csc) or NAME/row, NAME/col, NAME/data (coo),
              and NAME/metadata.json {"type", "attrs", "shape"}
  dictionary  NAME/<key> per entry, nested dictionaries as deeper prefixes; nothing else

  cottoncandy_layouts.py write-chunked BUCKET NAME OUT.npy     the test array in parts along the
                                                              last axis (and a 0-length last part)
  cottoncandy_layouts.py check-chunked BUCKET NAME            assembles it as download_dask_array does
  cottoncandy_layouts.py write-sparse BUCKET NAME FORMAT OUT.npz
                                                              the test matrix; OUT.npz as SciPy's
                                                              save_npz lays it out (deflated)
  cottoncandy_layouts.py check-sparse BUCKET NAME FORMAT      reads it back and compares
  cottoncandy_layouts.py write-dict BUCKET NAME OUT.npz       the test dictionary (one nested entry)
  cottoncandy_layouts.py check-dict BUCKET NAME               reads it back and compares
  cottoncandy_layouts.py compare-npz A.npz B.npz              same members with the same arrays

The endpoint and keys come from SLUICE_TEST_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
Prints "ok" or what differs (exit 1).
"""
import gzip
import json
import os
import sys

import numpy as np

from cottoncandy_raw import client  # the same botocore client, from the same environment


def put_raw(c, bucket, key, a):
    a = np.ascontiguousarray(a)
    meta = {"dtype": a.dtype.str, "shape": ",".join(str(d) for d in a.shape), "compression": "gzip",
            "order": "C"}
    c.put_object(Bucket=bucket, Key=key, Body=gzip.compress(a.tobytes()), Metadata=meta)


def get_raw(c, bucket, key):
    got = c.get_object(Bucket=bucket, Key=key)
    meta = got["Metadata"]
    body = got["Body"].read()
    if meta.get("compression") == "gzip":
        body = gzip.decompress(body)
    elif meta.get("compression") not in ("False", "None", None):
        raise SystemExit("unexpected compression %r" % meta.get("compression"))
    shape = tuple(int(d) for d in meta["shape"].split(",")) if meta["shape"] else ()
    return np.frombuffer(body, dtype=np.dtype(meta["dtype"])).reshape(shape, order=meta.get("order", "C"))


def test_array():
    return (np.arange(6 * 5 * 40, dtype=np.float64) * 0.5 - 7).astype("<f4").reshape(6, 5, 40)


def write_chunked(bucket, name, out_npy):
    c = client()
    a = test_array()
    step = 15  # 40 along the last axis: 15, 15, 10, and a part of length 0 as cottoncandy may write
    lengths = [15, 15, 10, 0]
    dask, sizes, at = [], [], 0
    for i, n in enumerate(lengths):
        key = "%s/pt%04i" % (name, i)
        part = a[:, :, at:at + n].copy()
        put_raw(c, bucket, key, part)
        dask.append([[0, 0, i], key])
        sizes.append(list(part.shape))
        at += n
    assert at == a.shape[2] and step
    meta = {"shape": list(a.shape), "dtype": a.dtype.str, "dask": dask, "chunk_sizes": sizes,
            "chunks": [[6], [5], lengths]}
    c.put_object(Bucket=bucket, Key=name + "/metadata.json", Body=json.dumps(meta).encode())
    np.save(out_npy, a)
    return 0


def check_chunked(bucket, name):
    c = client()
    meta = json.loads(c.get_object(Bucket=bucket, Key=name + "/metadata.json")["Body"].read())
    out = np.zeros(meta["shape"], dtype=np.dtype(meta["dtype"]))
    offsets = [np.concatenate([[0], np.cumsum(ch)]) for ch in meta["chunks"]]
    for coords, key in meta["dask"]:
        part = get_raw(c, bucket, key)
        box = tuple(slice(offsets[d][i], offsets[d][i] + meta["chunks"][d][i]) for d, i in enumerate(coords))
        out[box] = part
    want = np.load(os.environ["SLUICE_EXPECTED_NPY"])
    ok = out.dtype == want.dtype and out.shape == want.shape and np.array_equal(out, want)
    print("ok" if ok else "differs: %s %r vs %s %r" % (out.dtype, out.shape, want.dtype, want.shape))
    return 0 if ok else 1


def test_sparse(fmt):
    """A 7 x 9 matrix with 12 entries, in FORMAT's arrays (as SciPy holds them)."""
    rows = np.array([0, 0, 1, 2, 2, 2, 3, 4, 5, 6, 6, 6], dtype=np.int32)
    cols = np.array([1, 8, 4, 0, 3, 7, 5, 2, 6, 0, 1, 8], dtype=np.int32)
    data = (np.arange(12, dtype=np.float64) + 1.5)
    if fmt == "coo":
        return {"row": rows, "col": cols, "data": data}
    major, minor = (rows, cols) if fmt == "csr" else (cols, rows)
    order = np.lexsort((minor, major))
    n = 7 if fmt == "csr" else 9
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.add.at(indptr, major + 1, 1)
    return {"data": data[order], "indices": minor[order].astype(np.int32), "indptr": np.cumsum(indptr).astype(np.int32)}


ATTRS = {"csr": ["data", "indices", "indptr"], "csc": ["data", "indices", "indptr"], "coo": ["row", "col", "data"]}


def write_sparse(bucket, name, fmt, out_npz):
    c = client()
    arrays = test_sparse(fmt)
    for attr in ATTRS[fmt]:
        put_raw(c, bucket, "%s/%s" % (name, attr), arrays[attr])
    meta = {"type": fmt, "attrs": ATTRS[fmt], "shape": [7, 9]}
    c.put_object(Bucket=bucket, Key=name + "/metadata.json", Body=json.dumps(meta).encode())
    np.savez_compressed(out_npz, format=np.array(fmt.encode()), shape=np.array([7, 9]), **arrays)
    return 0


def check_sparse(bucket, name, fmt):
    c = client()
    meta = json.loads(c.get_object(Bucket=bucket, Key=name + "/metadata.json")["Body"].read())
    want = test_sparse(fmt)
    problems = []
    if meta.get("type") != fmt or meta.get("attrs") != ATTRS[fmt] or meta.get("shape") != [7, 9]:
        problems.append("metadata.json %r" % meta)
    for attr in ATTRS[fmt]:
        got = get_raw(c, bucket, "%s/%s" % (name, attr))
        if not np.array_equal(got, want[attr]) or got.dtype != want[attr].dtype:
            problems.append("%s differs" % attr)
    print("; ".join(problems) if problems else "ok")
    return 1 if problems else 0


def test_dict():
    return {"weights": np.arange(12, dtype="<f8").reshape(3, 4), "labels": np.array([3, 1, 2], dtype="<i8"),
            "sub/mask": np.array([True, False, True])}


def write_dict(bucket, name, out_npz):
    c = client()
    entries = test_dict()
    for key, a in entries.items():
        put_raw(c, bucket, "%s/%s" % (name, key), a)
    np.savez(out_npz, **entries)
    return 0


def check_dict(bucket, name):
    c = client()
    want = test_dict()
    listed = c.list_objects_v2(Bucket=bucket, Prefix=name + "/")
    keys = sorted(o["Key"][len(name) + 1:] for o in listed.get("Contents", []))
    problems = []
    if keys != sorted(want):
        problems.append("keys %r" % keys)
    for key, a in want.items():
        got = get_raw(c, bucket, "%s/%s" % (name, key))
        if got.dtype != a.dtype or not np.array_equal(got, a):
            problems.append("%s differs" % key)
    print("; ".join(problems) if problems else "ok")
    return 1 if problems else 0


def compare_npz(a_path, b_path):
    a, b = np.load(a_path), np.load(b_path)
    problems = []
    if sorted(a.files) != sorted(b.files):
        problems.append("members %r vs %r" % (sorted(a.files), sorted(b.files)))
    for k in a.files:
        if k in b.files:
            x, y = a[k], b[k]
            if x.dtype.kind == "S":  # SciPy's format member: compare the text
                x, y = x.item().decode(), y.item().decode() if y.dtype.kind == "S" else y
            elif x.dtype != y.dtype or x.shape != y.shape or not np.array_equal(x, y):
                problems.append("%s differs (%s %r vs %s %r)" % (k, x.dtype, x.shape, y.dtype, y.shape))
                continue
            if not np.array_equal(np.asarray(x), np.asarray(y)):
                problems.append("%s differs" % k)
    print("; ".join(problems) if problems else "ok")
    return 1 if problems else 0


def main(argv):
    commands = {"write-chunked": (write_chunked, 3), "check-chunked": (check_chunked, 2),
                "write-sparse": (write_sparse, 4), "check-sparse": (check_sparse, 3),
                "write-dict": (write_dict, 3), "check-dict": (check_dict, 2), "compare-npz": (compare_npz, 2)}
    if argv and argv[0] in commands and len(argv) - 1 == commands[argv[0]][1]:
        return commands[argv[0]][0](*argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
