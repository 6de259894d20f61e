// Page-aligned, move-only byte buffers. The same buffer can be handed to a
// socket read, a hash and an O_DIRECT write without copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace sluice {

inline constexpr std::size_t page_size = 4096;

class aligned_buffer {
 public:
  aligned_buffer() = default;
  // Allocates `size` bytes (rounded up to a page for the allocation only).
  // Throws std::bad_alloc on allocation failure.
  explicit aligned_buffer(std::size_t size);
  aligned_buffer(aligned_buffer&&) noexcept = default;
  aligned_buffer& operator=(aligned_buffer&&) noexcept = default;

  std::byte* data() noexcept { return data_.get(); }
  const std::byte* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }
  // Shrinks the visible size (never grows past capacity).
  void resize(std::size_t n) noexcept { size_ = n <= capacity_ ? n : capacity_; }

  std::span<std::byte> span() noexcept { return {data(), size_}; }
  std::span<const std::byte> span() const noexcept { return {data(), size_}; }

 private:
  struct free_aligned {
    void operator()(std::byte* p) const noexcept;
  };
  std::unique_ptr<std::byte, free_aligned> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace sluice
