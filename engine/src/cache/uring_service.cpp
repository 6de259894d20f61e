#include "cache/uring_service.hpp"

#include <sluice/engine/cache/file_writer.hpp>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

namespace sluice::cache {

namespace asio = boost::asio;

bool io_uring_available() noexcept {
  static const bool available = [] {
    io_uring ring{};
    if (io_uring_queue_init(4, &ring, 0) < 0) return false;
    bool ops = false;
    if (io_uring_probe* probe = io_uring_get_probe_ring(&ring)) {
      ops = io_uring_opcode_supported(probe, IORING_OP_WRITE) &&
            io_uring_opcode_supported(probe, IORING_OP_FSYNC);
      io_uring_free_probe(probe);
    }
    io_uring_queue_exit(&ring);
    return ops;
  }();
  return available;
}

uring_service::uring_service(asio::io_context& ioc) : asio::execution_context::service(ioc), ioc_(&ioc) {
  // Create the I/O objects now, not lazily: their services must be registered before this one
  // so that they are shut down and destroyed after it.
  retry_timer_.emplace(*ioc_);
  if (!io_uring_available()) {
    init_error_ = "io_uring is not available on this system (kernel, seccomp or io_uring_disabled)";
    return;
  }
  if (int r = io_uring_queue_init(ring_entries, &ring_, 0); r < 0) {
    init_error_ = std::string("io_uring_queue_init: ") + std::strerror(-r);
    return;
  }
  ring_inited_ = true;
  int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) {
    init_error_ = std::string("eventfd: ") + std::strerror(errno);
    return;
  }
  eventfd_.emplace(*ioc_, efd);
  if (int r = io_uring_register_eventfd(&ring_, efd); r < 0) {
    init_error_ = std::string("io_uring_register_eventfd: ") + std::strerror(-r);
    return;
  }
  ready_ = true;
}

uring_service::~uring_service() {
  shutdown();
  if (ring_inited_) io_uring_queue_exit(&ring_);
}

void uring_service::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  ready_ = false;
  // The kernel may still read the buffers of accepted operations: wait for all of them before
  // destroying any handler (a handler may own another operation's buffer).
  if (ring_inited_) {
    while (in_kernel_ > 0) {
      io_uring_cqe* cqe = nullptr;
      int r = io_uring_wait_cqe(&ring_, &cqe);
      if (r == -EINTR) continue;
      if (r < 0) break;  // the ring itself is broken; nothing more will complete
      io_uring_cqe_seen(&ring_, cqe);
      --in_kernel_;
    }
  }
  // Entries left unsubmitted were never seen by the kernel (no SQPOLL): safe to drop.
  pending_.clear();
  std::vector<op*> dead(live_.begin(), live_.end());
  live_.clear();
  for (op* o : dead) delete o;  // destroys the handler (and its coroutine) without invoking it
  eventfd_.reset();
  retry_timer_.reset();
}

void uring_service::start(std::unique_ptr<op> o) {
  if (shut_down_ || !ready_) return;  // handler destroyed: its io_context is going away
  live_.insert(o.get());
  pending_.push_back(o.release());
  schedule_flush();
}

void uring_service::schedule_flush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(*ioc_, [this] { flush(); });
}

void uring_service::flush() {
  flush_posted_ = false;
  if (shut_down_) return;
  while (!pending_.empty()) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
      if (submit() <= 0) break;  // refused: keep the rest pending, retry later
      continue;
    }
    op* o = pending_.front();
    pending_.pop_front();
    if (o->kind == op_kind::write) {
      io_uring_prep_write(sqe, o->fd, o->data, o->len, o->offset);
    } else if (o->kind == op_kind::read) {
      io_uring_prep_read(sqe, o->fd, o->data, o->len, o->offset);
    } else {
      io_uring_prep_fsync(sqe, o->fd, 0);
    }
    io_uring_sqe_set_data(sqe, o);
    ++unsubmitted_;
  }
  submit();
  if ((unsubmitted_ > 0 || !pending_.empty()) && in_kernel_ == 0) retry_later();
  arm();
}

int uring_service::submit() {
  if (unsubmitted_ == 0) return 0;
  int r;
  do {
    r = io_uring_submit(&ring_);
  } while (r == -EINTR);
  if (r > 0) {
    unsigned n = static_cast<unsigned>(r) < unsubmitted_ ? static_cast<unsigned>(r) : unsubmitted_;
    unsubmitted_ -= n;
    in_kernel_ += n;
  }
  return r;
}

void uring_service::retry_later() {
  if (retry_armed_) return;
  retry_armed_ = true;
  retry_timer_->expires_after(std::chrono::milliseconds(1));
  retry_timer_->async_wait([this](boost::system::error_code ec) {
    retry_armed_ = false;
    if (!ec && !shut_down_) flush();
  });
}

void uring_service::arm() {
  if (armed_ || in_kernel_ == 0) return;
  armed_ = true;
  eventfd_->async_wait(asio::posix::descriptor_base::wait_read, [this](boost::system::error_code ec) {
    armed_ = false;
    if (ec || shut_down_) return;
    on_ready();
  });
}

void uring_service::on_ready() {
  // Reset the counter first: a completion posted after the drain below signals again.
  uint64_t count = 0;
  [[maybe_unused]] ssize_t n = ::read(eventfd_->native_handle(), &count, sizeof count);
  io_uring_cqe* cqe = nullptr;
  while (!shut_down_ && io_uring_peek_cqe(&ring_, &cqe) == 0) {
    auto* o = static_cast<op*>(io_uring_cqe_get_data(cqe));
    int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    if (in_kernel_ > 0) --in_kernel_;
    complete(o, res);  // may start new operations (they wait for the posted flush)
  }
  if (shut_down_) return;
  if (unsubmitted_ > 0 || !pending_.empty()) flush();  // a refused submission may go now
  arm();
}

void uring_service::complete(op* o, int res) {
  live_.erase(o);
  std::unique_ptr<op> owned(o);
  auto handler = std::move(o->handler);
  auto work = std::move(o->work);
  owned.reset();
  auto ex = asio::get_associated_executor(handler, ioc_->get_executor());
  // We run inside the eventfd's completion on the io_context's thread: dispatch resumes a
  // coroutine on this context inline and posts to any other executor.
  asio::dispatch(ex, [handler = std::move(handler), res]() mutable { std::move(handler)(res); });
}

}  // namespace sluice::cache
