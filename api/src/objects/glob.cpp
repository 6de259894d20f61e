#include <sluice/objects/glob.hpp>

namespace sluice::objects {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

// Matches one [...] set at pattern[i] against c; returns the index after the
// set, or npos when the set is unterminated.
std::size_t match_set(std::string_view p, std::size_t i, char c, bool& matched) noexcept {
  std::size_t j = i + 1;
  bool negate = false;
  if (j < p.size() && (p[j] == '!' || p[j] == '^')) {
    negate = true;
    ++j;
  }
  bool any = false;
  bool first = true;
  for (; j < p.size() && (p[j] != ']' || first); first = false) {
    unsigned char lo = static_cast<unsigned char>(p[j]);
    if (p[j] == '\\' && j + 1 < p.size()) lo = static_cast<unsigned char>(p[++j]);
    unsigned char hi = lo;
    if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
      hi = static_cast<unsigned char>(p[j + 2]);
      j += 2;
    }
    const auto uc = static_cast<unsigned char>(c);
    if (uc >= lo && uc <= hi) any = true;
    ++j;
  }
  if (j >= p.size()) return std::string_view::npos;
  matched = c != '/' && (any != negate);
  return j + 1;
}

bool match_at(std::string_view p, std::size_t pi, std::string_view k, std::size_t ki) noexcept {
  while (pi < p.size()) {
    const char pc = p[pi];
    if (pc == '*') {
      const bool deep = pi + 1 < p.size() && p[pi + 1] == '*';
      std::size_t next = pi + (deep ? 2 : 1);
      if (deep) {
        // "**/" may also match no segment at all.
        if (next < p.size() && p[next] == '/' && match_at(p, next + 1, k, ki)) return true;
        for (std::size_t j = ki; j <= k.size(); ++j)
          if (match_at(p, next, k, j)) return true;
        return false;
      }
      for (std::size_t j = ki; j <= k.size(); ++j) {
        if (match_at(p, next, k, j)) return true;
        if (j < k.size() && k[j] == '/') break;
      }
      return false;
    }
    if (ki >= k.size()) return false;
    if (pc == '?') {
      if (k[ki] == '/') return false;
      ++pi;
      ++ki;
      continue;
    }
    if (pc == '[') {
      bool matched = false;
      std::size_t after = match_set(p, pi, k[ki], matched);
      if (after == std::string_view::npos || !matched) return false;
      pi = after;
      ++ki;
      continue;
    }
    char want = pc;
    if (pc == '\\' && pi + 1 < p.size()) want = p[++pi];
    if (k[ki] != want) return false;
    ++pi;
    ++ki;
  }
  return ki == k.size();
}

result<void> check_pattern(std::string_view p) {
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      ++i;
    } else if (p[i] == '[') {
      bool ignored = false;
      if (match_set(p, i, 'a', ignored) == std::string_view::npos)
        return fail(errc::invalid_argument, "the pattern '" + std::string(p) + "' has an unterminated '['");
    }
  }
  return {};
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view key) noexcept {
  return match_at(pattern, 0, key, 0);
}

bool has_wildcards(std::string_view pattern) noexcept {
  return pattern.find_first_of("*?[") != std::string_view::npos;
}

std::string literal_prefix(std::string_view pattern) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '*' || c == '?' || c == '[') break;
    if (c == '\\' && i + 1 < pattern.size()) {
      out += pattern[++i];
      continue;
    }
    out += c;
  }
  return out;
}

std::string literal_directory(std::string_view pattern) {
  const std::string literal = literal_prefix(pattern);
  const auto slash = literal.rfind('/');
  return slash == std::string::npos ? std::string() : literal.substr(0, slash + 1);
}

awaitable<result<void>> glob(store::store& s, std::string_view pattern, const match_callback& on_match) {
  SLUICE_CO_TRY_VOID(check_pattern(pattern));
  const std::string prefix = literal_prefix(pattern);
  store::list_callback filter = [&](store::list_page& page) -> result<bool> {
    for (const auto& e : page.entries) {
      if (!glob_match(pattern, e.key)) continue;
      SLUICE_TRY(bool more, on_match(e));
      if (!more) return false;
    }
    return true;
  };
  co_return co_await s.list(prefix, store::list_all, filter);
}

awaitable<result<usage>> du(store::store& s, std::string_view prefix) {
  usage u;
  store::list_callback count = [&](store::list_page& page) -> result<bool> {
    for (const auto& e : page.entries) {
      if (!store::covers(prefix, e.key)) continue;
      u.bytes += e.size;
      ++u.objects;
    }
    return true;
  };
  SLUICE_CO_TRY_VOID(co_await s.list(prefix, store::list_all, count));
  co_return u;
}

namespace {

// Counts `e` in the total and, when it lies in a sub-prefix of `level`, in that sub-prefix's entry.
void count_at_level(usage_by_prefix& out, std::string_view level, const store::entry& e) {
  out.total.bytes += e.size;
  ++out.total.objects;
  if (!std::string_view(e.key).starts_with(level)) return;
  const std::string_view rel = std::string_view(e.key).substr(level.size());
  const auto slash = rel.find('/');
  if (slash == std::string_view::npos) return;
  const std::string_view name = rel.substr(0, slash + 1);
  // Listings come in key order, so a sub-prefix's keys are consecutive.
  if (out.prefixes.empty() || out.prefixes.back().first != name) out.prefixes.emplace_back(name, usage{});
  out.prefixes.back().second.bytes += e.size;
  ++out.prefixes.back().second.objects;
}

}  // namespace

awaitable<result<usage_by_prefix>> du_by_prefix(store::store& s, std::string_view prefix) {
  usage_by_prefix out;
  // The level below: "data/exp" lists "data/exp/..." (and counts the key "data/exp" itself).
  const std::string level =
      prefix.empty() || prefix.back() == '/' ? std::string(prefix) : std::string(prefix) + "/";
  store::list_callback count = [&](store::list_page& page) -> result<bool> {
    for (const auto& e : page.entries)
      if (store::covers(prefix, e.key)) count_at_level(out, level, e);
    return true;
  };
  SLUICE_CO_TRY_VOID(co_await s.list(prefix, store::list_all, count));
  co_return out;
}

awaitable<result<usage_by_prefix>> du_matching(store::store& s, std::string_view pattern) {
  usage_by_prefix out;
  const std::string level = literal_directory(pattern);
  const match_callback count = [&](const store::entry& e) -> result<bool> {
    count_at_level(out, level, e);
    return true;
  };
  SLUICE_CO_TRY_VOID(co_await glob(s, pattern, count));
  co_return out;
}

}  // namespace sluice::objects
