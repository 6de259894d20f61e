// Zarr v3 groups on any store: create (with every parent group's zarr.json,
// since the spec has no implicit groups), open, walk the hierarchy, open the
// arrays below, update attributes, and consolidate.
//
// Consolidated metadata (zarr-python's inline form, metadata.hpp) makes a
// hierarchy of any size cost one GET: a group opened with it answers nodes(),
// open_array() and open_group() from that document without another request.
// It is a snapshot: nodes created or changed after consolidate() are not in
// it until consolidate() runs again (as in zarr-python).
//
// Thread safety: const members may run concurrently; set_attributes() and
// consolidate() change the object and must not overlap other calls on it.
#pragma once

#include <sluice/store/store.hpp>
#include <sluice/zarr/array.hpp>
#include <sluice/zarr/metadata.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <memory>
#include <string>
#include <vector>

namespace sluice::zarr {

// A node below a group: its path relative to that group, and its metadata.
struct node {
  std::string path;
  node_metadata metadata;
};

class group {
 public:
  // Writes path/zarr.json from `metadata` (replacing a node there), and an
  // empty group's zarr.json in each parent up to the store root that has none.
  static boost::asio::awaitable<result<group>> create(std::shared_ptr<store::store> st, std::string path,
                                                      group_metadata metadata);
  // Reads path/zarr.json: one request. Errors: not_found when there is none,
  // invalid_metadata when it holds an array.
  static boost::asio::awaitable<result<group>> open(std::shared_ptr<store::store> st, std::string path);

  const group_metadata& metadata() const noexcept { return *meta_; }
  const std::string& path() const noexcept { return path_; }
  bool consolidated() const noexcept { return meta_->consolidated.has_value(); }

  // Every node below this group, sorted by path: from the consolidated
  // metadata when there is some (no request), else by walking the store (one
  // listing per group, one read per node; chunk folders are never listed).
  boost::asio::awaitable<result<std::vector<node>>> nodes() const;

  // The array or group at `relative` (e.g. "t2m", "surface/t2m") below this
  // group: from the consolidated metadata when it holds the node (no request),
  // else by reading its zarr.json.
  boost::asio::awaitable<result<array>> open_array(std::string relative) const;
  boost::asio::awaitable<result<group>> open_group(std::string relative) const;

  // Replaces the group's attributes (rewrites its zarr.json, keeping the
  // consolidated metadata it has).
  boost::asio::awaitable<result<void>> set_attributes(boost::json::object attributes);

  // Walks the store below this group (as nodes() does without consolidated
  // metadata) and rewrites its zarr.json with the consolidated metadata of
  // every node found.
  boost::asio::awaitable<result<void>> consolidate();

 private:
  std::shared_ptr<store::store> store_;
  std::string path_;
  std::shared_ptr<const group_metadata> meta_;
};

}  // namespace sluice::zarr
