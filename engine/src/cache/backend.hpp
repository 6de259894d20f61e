// Choosing the local I/O backend (private to src/cache).
#pragma once

#include <sluice/engine/cache/file_writer.hpp>
#include <sluice/engine/runtime/result.hpp>

#include <optional>

namespace sluice::cache::detail {

// SLUICE_IO_BACKEND: unset/empty = automatic, "pwrite" or "io_uring" = forced;
// anything else is an invalid_argument error.
result<std::optional<io_backend>> backend_from_environment();

}  // namespace sluice::cache::detail
