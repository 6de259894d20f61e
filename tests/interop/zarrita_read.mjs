// Reads Zarr v3 arrays whole with zarrita (an independent JavaScript reader) and prints what it saw
// as one JSON object, for tests/integration/s3rver/zarrita_interop_test.cpp to compare with what
// sluice wrote.
//
//   node zarrita_read.mjs [--modules DIR] STORE ARRAY_PATH...
//
// STORE is a local directory (read with @zarrita/storage's FileSystemStore) or an http(s) URL
// (zarrita's FetchStore: anonymous GET, and HEAD then a ranged GET for a shard's index). Each
// ARRAY_PATH is an array's path in the store ("/" for the root). DIR is the node_modules folder
// holding zarrita, @zarrita/storage and numcodecs (default: tests/servers/node_modules), pinned by
// tests/servers/package-lock.json.
//
// Output: {"zarrita": its version, "arrays": {ARRAY_PATH: {"dtype", "shape", "chunks" (zarrita's
// read chunk: the inner chunk when sharded), "dimension_names" (null when absent), "attributes",
// "fill_value", "result_shape", "values"}}}. Values (all elements, C order) and the fill value are
// strings for numbers: decimal integers (int64 and uint64 exact), floats in JavaScript's shortest
// round-trip form, "NaN", "Infinity", "-Infinity" and "-0"; bool is true/false. Any failure: a
// message on stderr naming the array and exit status 1.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

function usage(message) {
  process.stderr.write(`zarrita_read: ${message}\nusage: node zarrita_read.mjs [--modules DIR] STORE ARRAY_PATH...\n`);
  process.exit(2);
}

const here = path.dirname(fileURLToPath(import.meta.url));
let modules = path.resolve(here, "..", "servers", "node_modules");
const args = process.argv.slice(2);
if (args[0] === "--modules") {
  if (args.length < 2) usage("--modules needs a directory");
  modules = path.resolve(args[1]);
  args.splice(0, 2);
}
if (args.length < 2) usage("expected STORE and at least one ARRAY_PATH");
const [storeArg, ...arrayPaths] = args;

// ESM ignores NODE_PATH and these packages live outside this script's folder: resolve a package's
// export (its "import" condition) by hand from its package.json.
function importExport(pkg, subpath = ".") {
  const dir = path.join(modules, ...pkg.split("/"));
  const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
  let target = manifest.exports?.[subpath];
  if (typeof target === "object" && target !== null) target = target.import ?? target.default;
  if (typeof target !== "string") throw new Error(`${pkg}: no ESM export "${subpath}"`);
  return { module: import(pathToFileURL(path.join(dir, target)).href), version: manifest.version };
}

// One element or the fill value as JSON (see above). String(number) is the shortest decimal that
// reads back to the same double ("1e-45", "-1000.5"), and names NaN and the infinities as zarr.json
// does.
function encode(v) {
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return Object.is(v, -0) ? "-0" : String(v);
  return v;  // boolean or null
}

// The elements of zarrita's result {data, shape, stride} in C order, whatever its strides.
function valuesInCOrder(chunk) {
  const { data, shape, stride } = chunk;
  const at = typeof data.get === "function" ? (i) => data.get(i) : (i) => data[i];
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Array(n);
  const index = new Array(shape.length).fill(0);
  for (let k = 0; k < n; ++k) {
    let offset = 0;
    for (let d = 0; d < shape.length; ++d) offset += index[d] * stride[d];
    out[k] = encode(at(offset));
    for (let d = shape.length - 1; d >= 0; --d) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

let current = "";  // the array being read, for the error message
try {
  const zarrita = importExport("zarrita");
  const zarr = await zarrita.module;
  let store;
  if (/^https?:\/\//.test(storeArg)) {
    store = new zarr.FetchStore(storeArg);
  } else {
    const { default: FileSystemStore } = await importExport("@zarrita/storage", "./fs").module;
    store = new FileSystemStore(path.resolve(storeArg));
  }
  const arrays = {};
  for (const arrayPath of arrayPaths) {
    current = arrayPath;
    const arr = await zarr.open.v3(zarr.root(store).resolve(arrayPath), { kind: "array" });
    const whole = await zarr.get(arr);
    arrays[arrayPath] = {
      dtype: arr.dtype,
      shape: arr.shape,
      chunks: arr.chunks,
      dimension_names: arr.dimensionNames ?? null,
      attributes: arr.attrs,
      fill_value: encode(arr.fillValue),
      result_shape: whole.shape,
      values: valuesInCOrder(whole),
    };
  }
  process.stdout.write(JSON.stringify({ zarrita: zarrita.version, arrays }) + "\n");
} catch (err) {
  process.stderr.write(`zarrita_read: ${storeArg} ${current}: ${err?.stack ?? err}\n`);
  process.exit(1);
}
