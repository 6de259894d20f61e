#include <sluice/engine/runtime/engine.hpp>

#include <algorithm>

namespace sluice {

engine::engine(options opts) {
  unsigned n = opts.threads ? opts.threads : std::max(1u, std::thread::hardware_concurrency());
  contexts_.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    // Each context is driven by exactly one thread: tell Asio so it can skip locking.
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.emplace_back(contexts_.back()->get_executor());
  }
  for (unsigned i = 0; i < n; ++i) {
    threads_.emplace_back([ctx = contexts_[i].get()] { ctx->run(); });
  }
}

engine::~engine() {
  for (auto& g : guards_) g.reset();
  for (auto& c : contexts_) c->stop();
  for (auto& t : threads_) t.join();
}

asio::any_io_executor engine::executor() noexcept {
  unsigned i = next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size();
  return contexts_[i]->get_executor();
}

}  // namespace sluice
