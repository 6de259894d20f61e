#!/usr/bin/env bash
# The installed package works on its own: `cmake --install` of a build tree into a fresh prefix, then
# examples/ built with find_package(sluice) and a small program built with pkg-config, both against that
# prefix only. Registered in ctest as `install_package` (label `install`, tests/CMakeLists.txt):
#
#   ctest --test-dir build -L install --output-on-failure
#
# By hand (after building the tree):
#   bash tests/install/install_test.sh --source-dir . --build-dir build [--keep]
#
# Steps (each one fails with "install test: FAILED at <step>: ..." and the relevant log):
#   install    cmake --install <build dir> --prefix <tmp>/prefix
#   layout     bin/sluice runs; lib/libsluice_{api,engine,engine_core}.a; every *.hpp under engine/include
#              and api/include and nothing else under include/; lib/cmake/sluice/sluice-config.cmake,
#              -config-version.cmake, -targets.cmake; lib/pkgconfig/sluice.pc; no installed CMake or
#              pkg-config file names the source or build tree, or a test/CLI/bench-only dependency
#   configure  a copy of examples/ (away from the source tree), CMAKE_PREFIX_PATH=<tmp>/prefix only, no
#              package registries, environment search paths cleared; sluice_DIR must be the prefix's,
#              and no compile command may name the source tree; BOOST_ASIO_NO_DEPRECATED and C++20 must
#              come through the exported targets
#   build      the examples (Ninja); prints each binary's size and the configure and build wall time
#   usage      each example (every sluice_example(NAME) in examples/CMakeLists.txt) run without
#              arguments prints "usage: NAME ..." and exits 2
#   roundtrip  when s3rver is installed (npm ci in tests/servers): the installed bin/sluice uploads an
#              object, download_file fetches and verifies it, read_range reads a range of it, a missing
#              key fails with exit 1 and one line; skipped with a note otherwise
#   pkg-config a program using all three libraries, compiled and linked with
#              c++ -std=c++20 ... $(pkg-config --cflags --libs --static sluice), then run
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: install_test.sh --source-dir DIR --build-dir DIR [--cxx COMPILER] [--cmake CMAKE] [--config CONFIG]
                       [--version X.Y.Z] [--bindir bin] [--libdir lib] [--includedir include]
                       [--jobs N] [--keep]
EOF
  exit 2
}

src="" build="" cxx="${CXX:-c++}" cmake_cmd="cmake" config="" version="" jobs=2 keep=0
bindir=bin libdir=lib includedir=include
while (($#)); do
  case $1 in
    --source-dir) src=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --cxx) cxx=$2; shift 2 ;;
    --cmake) cmake_cmd=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --bindir) bindir=$2; shift 2 ;;
    --libdir) libdir=$2; shift 2 ;;
    --includedir) includedir=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) usage ;;
  esac
done
[[ -n $src && -n $build ]] || usage
src=$(cd "$src" && pwd -P)
build=$(cd "$build" && pwd -P)

step="setup"
fail() {
  echo "install test: FAILED at ${step}: $*" >&2
  exit 1
}
# The last lines of a log, indented, after a failure.
show() { sed -e 's/^/    | /' <(tail -n "${2:-40}" "$1") >&2; }
say() { echo "install test: $*"; }

for d in "$bindir" "$libdir" "$includedir"; do
  [[ $d != /* ]] || fail "install directories must be relative to the prefix (got '$d'); configure with relative CMAKE_INSTALL_*DIR"
done
command -v ninja >/dev/null || fail "ninja not found (Debian package ninja-build)"
command -v pkg-config >/dev/null || fail "pkg-config not found (Debian package pkg-config)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-install-test.XXXXXX")
tmp=$(cd "$tmp" && pwd -P)
s3rver_pid=""
cleanup() {
  if [[ -n $s3rver_pid ]]; then
    kill "$s3rver_pid" 2>/dev/null || true
    wait "$s3rver_pid" 2>/dev/null || true
  fi
  if ((keep)); then
    echo "install test: kept $tmp" >&2
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
prefix=$tmp/prefix
logs=$tmp/logs
mkdir -p "$logs"

# Nothing from the caller's environment may point the consumer builds at other headers, libraries,
# packages or S3 settings: only the prefix (and the system's default directories) count.
unsets=(-u CMAKE_PREFIX_PATH -u CMAKE_INCLUDE_PATH -u CMAKE_LIBRARY_PATH -u CMAKE_PROGRAM_PATH
        -u CPATH -u C_INCLUDE_PATH -u CPLUS_INCLUDE_PATH -u LIBRARY_PATH -u PKG_CONFIG_PATH
        -u PKG_CONFIG_LIBDIR -u PKG_CONFIG_SYSROOT_DIR -u sluice_DIR -u sluice_ROOT -u CXXFLAGS -u LDFLAGS
        -u CMAKE_GENERATOR -u CMAKE_BUILD_PARALLEL_LEVEL -u CMAKE_EXPORT_COMPILE_COMMANDS
        -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_SESSION_TOKEN -u AWS_CA_BUNDLE -u AWS_CONFIG_FILE
        -u AWS_SHARED_CREDENTIALS_FILE -u AWS_DEFAULT_REGION -u AWS_ENDPOINT_URL_S3)
# run_clean [VAR=VALUE...] COMMAND ARGS...
run_clean() { env "${unsets[@]}" "HOME=$tmp/home" "$@"; }
mkdir -p "$tmp/home"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# --------------------------------------------------------------------------------------------- install
step="install"
install_args=(--install "$build" --prefix "$prefix")
[[ -n $config ]] && install_args+=(--config "$config")
"$cmake_cmd" "${install_args[@]}" >"$logs/install.log" 2>&1 || {
  show "$logs/install.log"
  fail "cmake --install $build failed (is the tree built? run ninja in it first)"
}
say "installed $build into a fresh prefix ($(find "$prefix" -type f | wc -l) files)"

# ---------------------------------------------------------------------------------------------- layout
step="layout"
need_file() { [[ -f $prefix/$1 ]] || fail "$1 is not installed"; }
[[ -x $prefix/$bindir/sluice ]] || fail "$bindir/sluice is not installed (or not executable)"
"$prefix/$bindir/sluice" --help >"$logs/sluice-help.log" 2>&1 || {
  show "$logs/sluice-help.log"
  fail "the installed $bindir/sluice --help failed"
}
for lib in sluice_api sluice_engine sluice_engine_core; do need_file "$libdir/lib$lib.a"; done
cmakedir=$libdir/cmake/sluice
for f in sluice-config.cmake sluice-config-version.cmake sluice-targets.cmake; do need_file "$cmakedir/$f"; done
compgen -G "$prefix/$cmakedir/sluice-targets-*.cmake" >/dev/null || fail "no per-configuration $cmakedir/sluice-targets-<config>.cmake"
need_file "$libdir/pkgconfig/sluice.pc"
need_file "$includedir/sluice/engine/runtime/engine.hpp"
need_file "$includedir/sluice/objects/objects.hpp"
# Exactly the public headers: every engine/include and api/include *.hpp, nothing else.
(cd "$src/engine/include" && find . -name '*.hpp'; cd "$src/api/include" && find . -name '*.hpp') | sort >"$logs/headers.expected"
(cd "$prefix/$includedir" && find . -type f) | sort >"$logs/headers.installed"
diff "$logs/headers.expected" "$logs/headers.installed" >"$logs/headers.diff" || {
  show "$logs/headers.diff"
  fail "the installed headers differ from engine/include + api/include (< missing, > unexpected)"
}
# Installed package files must not point back at this checkout (absolute source or build paths), nor
# require what only the tests, the CLI or the benchmarks use.
if grep -rlF -e "$src" -e "$build" "$prefix/$cmakedir" "$prefix/$libdir/pkgconfig" >"$logs/leaks.txt"; then
  show "$logs/leaks.txt"
  fail "installed package files name the source or build tree ($src)"
fi
if grep -nE 'GTest|gtest|benchmark|CLI11' "$prefix/$cmakedir"/*.cmake "$prefix/$libdir/pkgconfig/sluice.pc" |
     grep -vE '^[^:]*:[0-9]+:[[:space:]]*#' >"$logs/extra-deps.txt"; then  # comments may name them
  show "$logs/extra-deps.txt"
  fail "the installed package requires a test/CLI/benchmark-only dependency"
fi
say "layout ok: $bindir/sluice, $libdir/libsluice_{api,engine,engine_core}.a, $(wc -l <"$logs/headers.installed") headers, $cmakedir, $libdir/pkgconfig/sluice.pc"

# ------------------------------------------------------------------------------------------- configure
step="configure"
# A copy of examples/ away from the source tree, so that nothing relative to it (../engine/include, ...)
# can be picked up; the only way in is find_package(sluice) through CMAKE_PREFIX_PATH.
cp -r "$src/examples" "$tmp/examples"
t0=$(now)
run_clean "$cmake_cmd" -S "$tmp/examples" -B "$tmp/build-ex" -G Ninja \
  -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$logs/configure.log" 2>&1 || {
  show "$logs/configure.log"
  fail "configuring examples/ against the installed package failed"
}
t1=$(now)
found_dir=$(sed -n 's/^sluice_DIR:[A-Z]*=//p' "$tmp/build-ex/CMakeCache.txt")
[[ $found_dir == "$prefix/$cmakedir" ]] ||
  fail "find_package(sluice) found '$found_dir', not the fresh prefix's $prefix/$cmakedir"
ccdb=$tmp/build-ex/compile_commands.json
[[ -s $ccdb ]] || fail "no compile_commands.json in the examples build"
if grep -F -e "$src" -e "$build" "$ccdb" >"$logs/ccdb-leaks.txt"; then
  show "$logs/ccdb-leaks.txt" 5
  fail "a compile command of the examples names the source or build tree"
fi
grep -q -- "-DBOOST_ASIO_NO_DEPRECATED" "$ccdb" || fail "BOOST_ASIO_NO_DEPRECATED did not reach the consumer (exported compile definitions)"
grep -qE -- "-std=(c|gnu)\+\+(2a|20|2b|23)" "$ccdb" || fail "the consumer is not compiled as C++20 (exported compile features)"
grep -qF -- "$prefix/$includedir" "$ccdb" || fail "the consumer's compile commands do not include $prefix/$includedir"

# ----------------------------------------------------------------------------------------------- build
step="build"
run_clean "$cmake_cmd" --build "$tmp/build-ex" -j "$jobs" >"$logs/build.log" 2>&1 || {
  show "$logs/build.log" 60
  fail "building examples/ against the installed package failed"
}
t2=$(now)
# Every sluice header the compiler actually read (ninja's dependency log) must come from the prefix.
ninja -C "$tmp/build-ex" -t deps >"$logs/deps.txt" 2>&1 || { show "$logs/deps.txt"; fail "ninja -t deps failed"; }
grep -q "^ *$prefix/$includedir/sluice/" "$logs/deps.txt" || fail "the examples read no header from $prefix/$includedir/sluice"
if grep -E '/sluice/(engine|objects)/' "$logs/deps.txt" | grep -vF "$prefix/$includedir/sluice/" >"$logs/deps-leaks.txt"; then
  show "$logs/deps-leaks.txt" 10
  fail "the examples read sluice headers from outside the fresh prefix"
fi
mapfile -t examples < <(sed -n 's/^[[:space:]]*sluice_example(\([A-Za-z0-9_]*\)).*/\1/p' "$src/examples/CMakeLists.txt")
((${#examples[@]})) || fail "no sluice_example(NAME) line in examples/CMakeLists.txt"
say "consumer build (examples/, ${#examples[@]} programs, $(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$tmp/build-ex/CMakeCache.txt"), -j$jobs): configure $(elapsed "$t0" "$t1") s, build $(elapsed "$t1" "$t2") s"
for ex in "${examples[@]}"; do
  bin=$tmp/build-ex/$ex
  [[ -x $bin ]] || fail "examples/$ex.cpp did not produce $bin"
  size=$(stat -c %s "$bin")
  stripped=""
  if command -v strip >/dev/null && strip -o "$tmp/$ex.stripped" "$bin" 2>/dev/null; then
    stripped=", $(stat -c %s "$tmp/$ex.stripped") stripped"
    rm -f "$tmp/$ex.stripped"
  fi
  say "  $ex: $size bytes$stripped"
done

# ----------------------------------------------------------------------------------------------- usage
step="usage"
for ex in "${examples[@]}"; do
  rc=0
  "$tmp/build-ex/$ex" >"$logs/$ex.usage" 2>&1 </dev/null || rc=$?
  [[ $rc == 2 ]] || { show "$logs/$ex.usage"; fail "$ex without arguments exited with $rc, not 2"; }
  grep -q "^usage: $ex " "$logs/$ex.usage" || { show "$logs/$ex.usage"; fail "$ex without arguments printed no 'usage: $ex ...' line"; }
done
say "usage ok: each example without arguments prints its usage line and exits 2"

# ------------------------------------------------------------------------------------------- roundtrip
step="roundtrip"
s3rver_js=$src/tests/servers/node_modules/s3rver/bin/s3rver.js
if [[ ! -f $s3rver_js ]] || ! command -v node >/dev/null; then
  say "SKIPPED roundtrip: s3rver is not installed (npm ci in tests/servers, or bash tools/install-deps.sh)"
else
  mkdir -p "$tmp/s3rver"
  node --openssl-legacy-provider "$s3rver_js" --directory "$tmp/s3rver" --address 127.0.0.1 --port 0 \
    >"$logs/s3rver.log" 2>&1 &
  s3rver_pid=$!
  port=""
  for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$logs/s3rver.log" | head -n 1)
    [[ -n $port ]] && break
    kill -0 "$s3rver_pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $port ]] || { show "$logs/s3rver.log"; fail "s3rver did not start"; }
  s3env=(run_clean AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
         "AWS_ENDPOINT_URL=http://127.0.0.1:$port")
  sluice=("${s3env[@]}" timeout 60 "$prefix/$bindir/sluice" -q)
  # 20 MiB: more than two 8 MiB parts, so download_file runs the parallel ranged path.
  head -c $((20 << 20)) /dev/urandom >"$tmp/object.bin"
  "${sluice[@]}" mb s3://install-test >"$logs/mb.log" 2>&1 || { show "$logs/mb.log"; fail "the installed sluice could not create a bucket"; }
  "${sluice[@]}" cp "$tmp/object.bin" s3://install-test/dir/object.bin >"$logs/cp.log" 2>&1 ||
    { show "$logs/cp.log"; fail "the installed sluice could not upload"; }

  "${s3env[@]}" timeout 60 "$tmp/build-ex/download_file" s3://install-test/dir/object.bin "$tmp/downloaded.bin" \
    >"$logs/download.log" 2>&1 || { show "$logs/download.log"; fail "download_file failed"; }
  cmp -s "$tmp/object.bin" "$tmp/downloaded.bin" || fail "download_file wrote different bytes"
  grep -q "$((20 << 20)) bytes, verified" "$logs/download.log" ||
    { show "$logs/download.log"; fail "download_file did not report '20971520 bytes, verified'"; }

  "${s3env[@]}" timeout 60 "$tmp/build-ex/read_range" s3://install-test/dir/object.bin 1000000 4321 \
    >"$tmp/range.bin" 2>"$logs/range.log" || { show "$logs/range.log"; fail "read_range failed"; }
  dd if="$tmp/object.bin" of="$tmp/range.expected" iflag=skip_bytes,count_bytes skip=1000000 count=4321 bs=64K status=none
  cmp -s "$tmp/range.expected" "$tmp/range.bin" || fail "read_range wrote different bytes than the object's range"

  rc=0
  "${s3env[@]}" timeout 60 "$tmp/build-ex/read_range" s3://install-test/missing 0 10 >/dev/null 2>"$logs/missing.log" || rc=$?
  [[ $rc == 1 && $(wc -l <"$logs/missing.log") == 1 ]] && grep -q '^read_range: s3://install-test/missing: .*NoSuchKey' "$logs/missing.log" ||
    { show "$logs/missing.log"; fail "read_range of a missing key: exit $rc, expected 1 and one 'NoSuchKey' line"; }
  say "roundtrip ok (s3rver): installed sluice cp up, download_file 20 MiB verified, read_range 4321 bytes, missing key -> exit 1"
  kill "$s3rver_pid" 2>/dev/null || true
  wait "$s3rver_pid" 2>/dev/null || true
  s3rver_pid=""
fi

# ------------------------------------------------------------------------------------------ pkg-config
step="pkg-config"
pc=(run_clean "PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig" pkg-config)
pc_prefix=$("${pc[@]}" --variable=prefix sluice 2>"$logs/pc.log") || { show "$logs/pc.log"; fail "pkg-config cannot find sluice in $prefix/$libdir/pkgconfig"; }
[[ $(cd "$pc_prefix" && pwd -P) == "$prefix" ]] || fail "sluice.pc's prefix is $pc_prefix, not the fresh prefix $prefix"
if [[ -n $version ]]; then
  [[ $("${pc[@]}" --modversion sluice) == "$version" ]] || fail "sluice.pc's version is $("${pc[@]}" --modversion sluice), not $version"
fi
pc_flags=$("${pc[@]}" --cflags --libs --static sluice 2>"$logs/pc.log") || { show "$logs/pc.log"; fail "pkg-config --cflags --libs --static sluice failed (a Requires.private module missing?)"; }
[[ $pc_flags == *-DBOOST_ASIO_NO_DEPRECATED* ]] || fail "sluice.pc's Cflags lack -DBOOST_ASIO_NO_DEPRECATED: $pc_flags"
[[ $pc_flags != *"$src"* ]] || fail "pkg-config flags name the source tree: $pc_flags"
mkdir -p "$tmp/pc"
cat >"$tmp/pc/consumer.cpp" <<'EOF'
// Uses all three libraries: sluice_engine_core (URL parsing, XXH3), sluice_api (objects::covers, Zarr
// metadata through simdjson and Boost.JSON) and sluice_engine (the engine, a transfer scheduler with its
// S3 clients, a coroutine, the codecs with their zlib, c-blosc and ISA-L). No request is sent.
#include <sluice/engine/codec/blosc.hpp>
#include <sluice/engine/codec/crc32c.hpp>
#include <sluice/engine/codec/gzip.hpp>
#include <sluice/engine/codec/zstd.hpp>
#include <sluice/engine/integrity/xxh3.hpp>
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/engine/s3/uri.hpp>
#include <sluice/engine/transfer/scheduler.hpp>
#include <sluice/objects/objects.hpp>
#include <sluice/zarr/metadata.hpp>

#include <cstdio>
#include <cstring>
#include <vector>

int main() {
  using namespace sluice;
  const char check[] = "123456789";
  if (codec::crc32c(std::as_bytes(std::span(check, 9))) != 0xE3069283u) return 1;
  std::vector<std::byte> chunk(4096, std::byte{7});
  auto zstd = codec::make_zstd_codec({});
  auto gzip = codec::make_gzip_codec({});
  auto blosc = codec::make_blosc_codec({});
  if (!zstd || !gzip || !blosc) return 1;
  for (const auto* c : {zstd->get(), gzip->get(), blosc->get()}) {
    std::vector<std::byte> packed(c->max_encoded_size(chunk.size())), back(chunk.size());
    auto n = c->encode(chunk, packed, "consumer");
    if (!n || !c->decode(std::span(packed).first(*n), back, "consumer") || back != chunk) return 1;
  }
  auto url = s3::parse_s3_url("s3://bucket/some/key");
  if (!url || url->key != "some/key") return 1;
  if (!objects::covers("data/exp", "data/exp/x") || objects::covers("data/exp", "data/experiment2/x")) return 1;
  auto group = zarr::parse_group_metadata(R"({"zarr_format": 3, "node_type": "group", "attributes": {"a": 1}})",
                                          "zarr.json");
  if (!group || zarr::write_metadata(*group).value() != R"({"zarr_format":3,"node_type":"group","attributes":{"a":1}})")
    return 1;
  engine eng(engine::options{1});
  s3::client_options opts;
  opts.config.endpoint_url = "http://127.0.0.1:9";
  opts.config.region = "us-east-1";
  auto sched = transfer::scheduler::create(eng, opts, transfer::options{});
  if (!sched) {
    std::fprintf(stderr, "consumer: %s\n", sched.error().describe().c_str());
    return 1;
  }
  int answer = eng.run([]() -> asio::awaitable<int> { co_return 42; }());
  std::printf("pkg-config consumer ok: bucket %s, xxh3(key) %s, %u context(s), coroutine %d, codecs zstd gzip blosc crc32c\n",
              url->bucket.c_str(), integrity::to_hex(integrity::xxh3(url->key)).c_str(), (*sched)->contexts(),
              answer);
  return answer == 42 ? 0 : 1;
}
EOF
read -ra pc_words <<<"$pc_flags"
t3=$(now)
(cd "$tmp/pc" && run_clean "$cxx" -std=c++20 consumer.cpp -o consumer "${pc_words[@]}") >"$logs/pc-build.log" 2>&1 || {
  show "$logs/pc-build.log" 60
  fail "$cxx -std=c++20 consumer.cpp \$(pkg-config --cflags --libs --static sluice) failed; flags: $pc_flags"
}
t4=$(now)
"$tmp/pc/consumer" >"$logs/pc-run.log" 2>&1 || { show "$logs/pc-run.log"; fail "the pkg-config consumer built but failed to run"; }
say "pkg-config ok ($(elapsed "$t3" "$t4") s to build, $(stat -c %s "$tmp/pc/consumer") bytes): $(cat "$logs/pc-run.log")"
say "  flags: $pc_flags"

step="done"
say "PASSED"
