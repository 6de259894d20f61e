#include <sluice/zarr/group.hpp>

#include "zarr/hierarchy.hpp"

#include <sluice/zarr/error.hpp>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <deque>

namespace sluice::zarr {

namespace asio = boost::asio;
using detail::join;

namespace {

std::string_view text_of(const store::read_result& r) {
  return {reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size()};
}

asio::awaitable<result<void>> write_doc(store::store& st, const std::string& key, const std::string& doc) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(doc.data()), doc.size());
  SLUICE_CO_TRY_VOID(co_await st.write(key, bytes));
  co_return result<void>{};
}

// The nodes below `path` found by walking the store: one delimiter listing
// per group, one read per child that has a zarr.json (anything else, such as
// an array's chunk folder, is neither listed further nor read). A node that
// is valid Zarr but unsupported is kept as unsupported_node.
asio::awaitable<result<std::vector<node>>> walk(std::shared_ptr<store::store> st, std::string path) {
  std::vector<node> out;
  std::deque<std::string> groups{path};
  store::list_options one_level;
  one_level.delimiter = "/";
  while (!groups.empty()) {
    const std::string at = std::move(groups.front());
    groups.pop_front();
    std::vector<std::string> children;
    const store::list_callback collect = [&](store::list_page& page) -> result<bool> {
      for (auto& p : page.prefixes) children.push_back(p.substr(0, p.size() - 1));
      return true;
    };
    const std::string prefix = at.empty() ? std::string() : at + "/";
    SLUICE_CO_TRY_VOID(co_await st->list(prefix, one_level, collect));
    for (const std::string& child : children) {
      const std::string key = join(child, "zarr.json");
      SLUICE_CO_TRY(store::read_result got, co_await st->read(key));
      if (got.state != store::read_state::value) continue;
      const std::string relative = path.empty() ? child : child.substr(path.size() + 1);
      auto parsed = parse_metadata(text_of(got), st->describe(key));
      if (!parsed) {
        if (parsed.error().code != errc::unsupported) co_return parsed.error();
        boost::system::error_code ec;
        boost::json::value doc = boost::json::parse(text_of(got), ec);
        if (ec || !doc.is_object()) co_return parsed.error();
        out.push_back({relative, unsupported_node{std::move(doc.as_object()), parsed.error().message}});
        continue;
      }
      if (std::holds_alternative<group_metadata>(*parsed)) groups.push_back(child);
      out.push_back({relative, std::move(*parsed)});
    }
  }
  std::sort(out.begin(), out.end(), [](const node& a, const node& b) { return a.path < b.path; });
  co_return out;
}

// A group's consolidated metadata re-rooted at its sub-group `relative`.
consolidated_metadata below(const consolidated_metadata& c, const std::string& relative) {
  consolidated_metadata out;
  const std::string prefix = relative + "/";
  for (const auto& e : c.nodes)
    if (e.path.starts_with(prefix)) out.nodes.push_back({e.path.substr(prefix.size()), e.node});
  return out;
}

}  // namespace

asio::awaitable<result<group>> group::create(std::shared_ptr<store::store> st, std::string path,
                                             group_metadata metadata) {
  const std::string key = join(path, "zarr.json");
  SLUICE_CO_TRY(const std::string doc, write_metadata(metadata, st->describe(key)));
  SLUICE_CO_TRY_VOID(co_await detail::ensure_parent_groups(st, path));
  SLUICE_CO_TRY_VOID(co_await write_doc(*st, key, doc));
  group g;
  g.store_ = std::move(st);
  g.path_ = std::move(path);
  g.meta_ = std::make_shared<const group_metadata>(std::move(metadata));
  co_return g;
}

asio::awaitable<result<group>> group::open(std::shared_ptr<store::store> st, std::string path) {
  const std::string key = join(path, "zarr.json");
  SLUICE_CO_TRY(store::read_result got, co_await st->read(key));
  if (got.state != store::read_state::value)
    co_return fail(sluice::errc::not_found, st->describe(key) + ": no group here (no zarr.json)");
  SLUICE_CO_TRY(group_metadata m, parse_group_metadata(text_of(got), st->describe(key)));
  group g;
  g.store_ = std::move(st);
  g.path_ = std::move(path);
  g.meta_ = std::make_shared<const group_metadata>(std::move(m));
  co_return g;
}

asio::awaitable<result<std::vector<node>>> group::nodes() const {
  if (meta_->consolidated) {
    std::vector<node> out;
    for (const auto& e : meta_->consolidated->nodes) out.push_back({e.path, e.node});
    co_return out;
  }
  co_return co_await walk(store_, path_);
}

asio::awaitable<result<array>> group::open_array(std::string relative) const {
  const std::string path = join(path_, relative);
  if (meta_->consolidated) {
    if (const consolidated_entry* e = meta_->consolidated->find(relative)) {
      if (const auto* m = std::get_if<array_metadata>(&e->node)) co_return array::bind(store_, path, *m);
      if (const auto* u = std::get_if<unsupported_node>(&e->node))
        co_return fail(errc::unsupported, u->reason);
      co_return fail(sluice::errc::invalid_argument,
                     store_->describe(join(path, "zarr.json")) + ": is a group, not an array");
    }
  }
  co_return co_await array::open(store_, path);
}

asio::awaitable<result<group>> group::open_group(std::string relative) const {
  const std::string path = join(path_, relative);
  if (meta_->consolidated) {
    if (const consolidated_entry* e = meta_->consolidated->find(relative)) {
      const auto* m = std::get_if<group_metadata>(&e->node);
      if (!m)
        co_return fail(sluice::errc::invalid_argument,
                       store_->describe(join(path, "zarr.json")) + ": is not a group");
      group_metadata sub = *m;
      sub.consolidated = below(*meta_->consolidated, relative);
      group g;
      g.store_ = store_;
      g.path_ = path;
      g.meta_ = std::make_shared<const group_metadata>(std::move(sub));
      co_return g;
    }
  }
  co_return co_await group::open(store_, path);
}

asio::awaitable<result<void>> group::set_attributes(boost::json::object attributes) {
  group_metadata m = *meta_;
  m.attributes = std::move(attributes);
  const std::string key = join(path_, "zarr.json");
  SLUICE_CO_TRY(const std::string doc, write_metadata(m, store_->describe(key)));
  SLUICE_CO_TRY_VOID(co_await write_doc(*store_, key, doc));
  meta_ = std::make_shared<const group_metadata>(std::move(m));
  co_return result<void>{};
}

asio::awaitable<result<void>> group::consolidate() {
  SLUICE_CO_TRY(std::vector<node> found, co_await walk(store_, path_));
  std::vector<consolidated_entry> entries;
  entries.reserve(found.size());
  for (auto& n : found) entries.push_back({std::move(n.path), std::move(n.metadata)});
  group_metadata m = zarr::consolidate(*meta_, std::move(entries));
  const std::string key = join(path_, "zarr.json");
  SLUICE_CO_TRY(const std::string doc, write_metadata(m, store_->describe(key)));
  SLUICE_CO_TRY_VOID(co_await write_doc(*store_, key, doc));
  meta_ = std::make_shared<const group_metadata>(std::move(m));
  co_return result<void>{};
}

}  // namespace sluice::zarr
