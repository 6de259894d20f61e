// The zarrita peer of the macro benchmark's array rows (bench/macro/run.sh): reads a Zarr v3 array
// over HTTP with zarrita's FetchStore, whole or a selection, and prints one JSON line with what
// sluice_array_bench prints for the same read.
//
//   node zarrita_array.mjs [--modules DIR] URL [--select A:B,C:D]
//
// URL is the array's root (http://127.0.0.1:PORT/bench/array/src.zarr). DIR holds zarrita,
// @zarrita/storage and numcodecs (default: tests/servers/node_modules, pinned by its lock file).
// zarrita's defaults otherwise: every chunk of the read requested at once, one GET per inner chunk
// of a shard; the shard index by a suffix range (useSuffixRequest: nginx answers `bytes=-N`, as
// sluice asks for it; zarrita's default is a HEAD and then a ranged GET). zstd decodes in
// numcodecs' WebAssembly build, on the main thread.
//
// Timed: zarr.get only (not node's start, the imports or zarr.json); http_requests counts the
// requests it sent (through FetchStore's fetch option), `window` is its Unix time span. cpu_s is user + system time of
// the process over the read (process.cpuUsage), peak_rss_bytes its largest resident set
// (process.resourceUsage().maxRSS). checksum: the sum of the elements as a double in C order.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
let modules = path.resolve(here, "..", "..", "tests", "servers", "node_modules");
let url = null;
let select = null;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; ++i) {
  if (args[i] === "--modules") modules = path.resolve(args[++i]);
  else if (args[i] === "--select") select = args[++i];
  else if (url === null) url = args[i];
  else {
    process.stderr.write(`zarrita_array: unexpected argument ${args[i]}\n`);
    process.exit(2);
  }
}
if (url === null) {
  process.stderr.write("usage: node zarrita_array.mjs [--modules DIR] URL [--select A:B,C:D]\n");
  process.exit(2);
}

// ESM ignores NODE_PATH: import a package's "import" export by hand (as tests/interop/zarrita_read.mjs).
function importExport(pkg) {
  const dir = path.join(modules, ...pkg.split("/"));
  const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
  let target = manifest.exports?.["."];
  if (typeof target === "object" && target !== null) target = target.import ?? target.default;
  return import(pathToFileURL(path.join(dir, target)).href);
}

try {
  const zarr = await importExport("zarrita");
  const { FetchStore } = await importExport("@zarrita/storage");
  let requests = 0;
  const store = new FetchStore(url, {
    useSuffixRequest: true,
    fetch: (request) => {
      ++requests;
      return fetch(request);
    },
  });
  const arr = await zarr.open.v3(zarr.root(store), { kind: "array" });
  const selection = select === null ? null : select.split(",").map((s) => {
    const [a, b] = s.split(":").map(Number);
    return zarr.slice(a, b);
  });
  // 10 ms of quiet around the timed part: the harness takes its requests from nginx's log by time.
  const quiet = () => new Promise((done) => setTimeout(done, 10));
  await quiet();
  const requests0 = requests;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const got = await zarr.get(arr, selection);
  const t1 = performance.now();
  const seconds = (t1 - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const timedRequests = requests - requests0;
  await quiet();
  const data = got.data;
  let sum = 0;
  for (let i = 0; i < data.length; ++i) sum += data[i];
  const decoded = data.length * data.BYTES_PER_ELEMENT;
  const cpuS = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(JSON.stringify({
    mode: "zarrita",
    selection: select !== null,
    decoded_bytes: decoded,
    seconds,
    decoded_bytes_per_s: decoded / seconds,
    cpu_s: cpuS,
    cpu_s_per_gib: cpuS / (decoded / 2 ** 30),
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    destination_bytes: decoded,
    checksum: sum,
    http_requests: timedRequests,
    window: [(performance.timeOrigin + t0) / 1000, (performance.timeOrigin + t1) / 1000],
  }) + "\n");
} catch (e) {
  process.stderr.write(`zarrita_array: ${url}: ${e?.stack ?? e}\n`);
  process.exit(1);
}
