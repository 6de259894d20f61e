#include <sluice/engine/buffer/buffer.hpp>

#include <cstdlib>
#include <new>

namespace sluice {

aligned_buffer::aligned_buffer(std::size_t size) : size_(size) {
  capacity_ = (size + page_size - 1) / page_size * page_size;
  if (capacity_ == 0) capacity_ = page_size;
  void* p = std::aligned_alloc(page_size, capacity_);
  if (!p) throw std::bad_alloc();
  data_.reset(static_cast<std::byte*>(p));
}

void aligned_buffer::free_aligned::operator()(std::byte* p) const noexcept { std::free(p); }

}  // namespace sluice
