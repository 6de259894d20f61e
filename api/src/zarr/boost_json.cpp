// Boost.JSON's implementation, compiled once into sluice_api: Debian's Boost 1.81
// headers ship it (this include) but no compiled libboost_json in the package the
// build already uses, and a separate library would be one more dependency for
// every consumer of the installed package. No other file may include src.hpp.
#include <boost/json/src.hpp>
