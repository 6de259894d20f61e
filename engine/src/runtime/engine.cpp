#include <sluice/engine/runtime/engine.hpp>

#include <algorithm>

namespace sluice {

namespace {
// Which engine and context the calling thread drives (set once, by the thread itself).
struct context_thread {
  const engine* owner = nullptr;
  unsigned index = 0;
};
thread_local context_thread this_thread_context;
}  // namespace

engine::engine(options opts) {
  unsigned n = opts.threads ? opts.threads : std::max(1u, std::thread::hardware_concurrency());
  contexts_.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    // Each context is driven by exactly one thread: tell Asio so it can skip locking.
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.emplace_back(contexts_.back()->get_executor());
  }
  for (unsigned i = 0; i < n; ++i) {
    threads_.emplace_back([this, i, ctx = contexts_[i].get()] {
      this_thread_context = {this, i};
      ctx->run();
    });
  }
}

engine::~engine() {
  for (auto& g : guards_) g.reset();
  for (auto& c : contexts_) c->stop();
  for (auto& t : threads_) t.join();
}

std::optional<unsigned> engine::current_context() const noexcept {
  if (this_thread_context.owner != this) return std::nullopt;
  return this_thread_context.index;
}

asio::any_io_executor engine::executor() noexcept {
  unsigned i = next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size();
  return contexts_[i]->get_executor();
}

}  // namespace sluice
