// One io_uring per io_context, driven by the context's own reactor.
//
// The ring signals an eventfd on every completion; the eventfd sits in a
// posix::stream_descriptor, so the io_context wakes up for completions like for
// any socket. An operation carries its own address in user_data (no lookup on
// completion) and holds the caller's completion handler type-erased.
//
// Submissions made during one turn of the io_context are batched: start() only
// queues, and a posted flush hands the batch to the kernel with one
// io_uring_submit. A full submission queue is submitted and refilled; a refused
// submission (EAGAIN/EBUSY) is retried after the next completion or after a
// millisecond when nothing is in flight.
//
// Threading: everything after construction runs on the io_context's single
// thread (engine contexts are run by one thread each); nothing is locked.
// Shutdown (io_context destruction): waits for the operations the kernel holds,
// because it may still be writing from their buffers, then destroys every
// pending handler without invoking it.
#pragma once

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>

namespace sluice::cache {

// The io_context behind an executor of one (plain, work-tracking, or a strand of one), else null.
inline boost::asio::io_context* io_context_of(const boost::asio::any_io_executor& ex) noexcept {
  namespace asio = boost::asio;
  using plain = asio::io_context::executor_type;
  using tracked = decltype(asio::require(std::declval<plain>(), asio::execution::outstanding_work.tracked));
  if (auto* e = ex.target<plain>()) return &e->context();
  if (auto* e = ex.target<tracked>()) return &e->context();
  if (auto* e = ex.target<asio::strand<plain>>()) return &e->get_inner_executor().context();
  return nullptr;
}

class uring_service : public boost::asio::execution_context::service {
 public:
  using key_type = uring_service;
  static inline boost::asio::execution_context::id id;

  static constexpr unsigned ring_entries = 256;

  // Obtain it with boost::asio::use_service<uring_service>(io_context&).
  explicit uring_service(boost::asio::io_context& ioc);
  ~uring_service() override;
  uring_service(const uring_service&) = delete;
  uring_service& operator=(const uring_service&) = delete;

  // False when the ring could not be set up (see init_error()); then nothing may be started.
  bool ok() const noexcept { return ready_; }
  const std::string& init_error() const noexcept { return init_error_; }

  // Writes n bytes from p at offset off of fd; completes with the CQE result (bytes written
  // or -errno). A short count is the caller's to re-queue.
  template <class Token>
  auto async_write(int fd, const void* p, unsigned n, uint64_t off, Token&& token) {
    return boost::asio::async_initiate<Token, void(int)>(
        [this, fd, p, n, off](auto handler) {
          auto o = make_op(std::move(handler));
          o->kind = op_kind::write;
          o->fd = fd;
          o->data = const_cast<void*>(p);  // only read from (IORING_OP_WRITE)
          o->len = n;
          o->offset = off;
          start(std::move(o));
        },
        token);
  }

  // Reads up to n bytes at offset off of fd into p; completes with the CQE
  // result (bytes read, 0 at the end of the file, or -errno).
  template <class Token>
  auto async_read(int fd, void* p, unsigned n, uint64_t off, Token&& token) {
    return boost::asio::async_initiate<Token, void(int)>(
        [this, fd, p, n, off](auto handler) {
          auto o = make_op(std::move(handler));
          o->kind = op_kind::read;
          o->fd = fd;
          o->data = p;
          o->len = n;
          o->offset = off;
          start(std::move(o));
        },
        token);
  }

  // fsync(fd); completes with 0 or -errno.
  template <class Token>
  auto async_fsync(int fd, Token&& token) {
    return boost::asio::async_initiate<Token, void(int)>(
        [this, fd](auto handler) {
          auto o = make_op(std::move(handler));
          o->kind = op_kind::fsync;
          o->fd = fd;
          start(std::move(o));
        },
        token);
  }

  // Operations queued, in the submission queue or held by the kernel.
  std::size_t live_operations() const noexcept { return live_.size(); }

 private:
  enum class op_kind { write, read, fsync };
  struct op {
    // Boost 1.81's any_completion_handler move assignment recurses forever: only ever
    // move-construct it.
    op(boost::asio::any_completion_handler<void(int)> h, boost::asio::any_completion_executor w)
        : handler(std::move(h)), work(std::move(w)) {}
    op_kind kind = op_kind::write;
    int fd = -1;
    void* data = nullptr;  // the source of a write, the destination of a read
    unsigned len = 0;
    uint64_t offset = 0;
    boost::asio::any_completion_handler<void(int)> handler;
    boost::asio::any_completion_executor work;  // keeps the handler's executor busy until completion
  };

  template <class Handler>
  std::unique_ptr<op> make_op(Handler&& handler) {
    auto work = boost::asio::prefer(boost::asio::any_completion_executor(
                                        boost::asio::get_associated_executor(handler, ioc_->get_executor())),
                                    boost::asio::execution::outstanding_work.tracked);
    return std::make_unique<op>(std::forward<Handler>(handler), std::move(work));
  }

  void shutdown() override;
  void start(std::unique_ptr<op> o);
  void schedule_flush();
  void flush();
  int submit();
  void arm();
  void on_ready();
  void complete(op* o, int res);
  void retry_later();

  // Set up by the constructor (any thread), then read-only.
  boost::asio::io_context* ioc_ = nullptr;
  io_uring ring_{};
  bool ring_inited_ = false;
  bool ready_ = false;
  std::string init_error_;
  std::optional<boost::asio::posix::stream_descriptor> eventfd_;
  std::optional<boost::asio::steady_timer> retry_timer_;

  // Owned by the io_context's thread.
  std::deque<op*> pending_;       // started, not yet in the submission queue
  std::unordered_set<op*> live_;  // every op not yet completed (owned here)
  unsigned unsubmitted_ = 0;      // in the submission queue, not yet accepted by the kernel
  unsigned in_kernel_ = 0;        // accepted by the kernel, completion not yet reaped
  bool flush_posted_ = false;
  bool armed_ = false;
  bool retry_armed_ = false;
  bool shut_down_ = false;
};

}  // namespace sluice::cache
