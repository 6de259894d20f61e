#include <sluice/engine/integrity/recorded_hash.hpp>
#include <sluice/engine/integrity/xxh3.hpp>

#include <charconv>
#include <vector>

namespace sluice::integrity {

namespace {
void put_le64(std::byte* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
}
}  // namespace

std::string format_recorded(const recorded_hash& h) {
  std::string s = to_hex(h.value);
  if (h.part_size) s += "/" + std::to_string(h.part_size);
  return s;
}

std::optional<recorded_hash> parse_recorded(std::string_view text) {
  recorded_hash h;
  auto slash = text.find('/');
  auto hex = from_hex(text.substr(0, slash));
  if (!hex) return std::nullopt;
  h.value = *hex;
  if (slash != std::string_view::npos) {
    auto rest = text.substr(slash + 1);
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), h.part_size);
    if (ec != std::errc() || p != rest.data() + rest.size() || h.part_size == 0) return std::nullopt;
  }
  return h;
}

uint64_t composite_of(std::span<const uint64_t> part_hashes, uint64_t part_size) {
  std::vector<std::byte> bytes((part_hashes.size() + 1) * 8);
  for (std::size_t i = 0; i < part_hashes.size(); ++i) put_le64(bytes.data() + 8 * i, part_hashes[i]);
  put_le64(bytes.data() + 8 * part_hashes.size(), part_size);
  return xxh3(std::span<const std::byte>(bytes));
}

uint64_t hash_content(std::span<const std::byte> data, uint64_t part_size) {
  if (part_size == 0) return xxh3(data);
  std::vector<uint64_t> parts;
  for (std::size_t off = 0; off < data.size() || (off == 0 && parts.empty()); off += part_size) {
    parts.push_back(xxh3(data.subspan(off, std::min<std::size_t>(part_size, data.size() - off))));
    if (data.empty()) break;
  }
  return composite_of(parts, part_size);
}

void content_hasher::update(std::span<const std::byte> data) {
  if (part_size_ == 0) {
    current_.update(data);
    return;
  }
  while (!data.empty()) {
    std::size_t take = static_cast<std::size_t>(std::min<uint64_t>(data.size(), part_size_ - in_part_));
    current_.update(data.first(take));
    in_part_ += take;
    data = data.subspan(take);
    if (in_part_ == part_size_) {
      parts_.push_back(current_.digest());
      current_.reset();
      in_part_ = 0;
    }
  }
}

uint64_t content_hasher::digest() {
  if (part_size_ == 0) return current_.digest();
  // The last, shorter part; an empty object counts as one empty part.
  if (in_part_ > 0 || parts_.empty()) parts_.push_back(current_.digest());
  in_part_ = 0;
  current_.reset();
  return composite_of(parts_, part_size_);
}

}  // namespace sluice::integrity
