// Who a browser is, seen through reverse proxies (--trusted_proxies): its
// address (for the login limiter and the logs) and whether it reached us over
// TLS (for the Secure cookie and HSTS). X-Forwarded-For and X-Forwarded-Proto
// are believed only from a trusted proxy, and X-Forwarded-For is read from the
// right, skipping trusted proxies, so a browser cannot choose its own address
// by sending the header itself (docs/security.md, "Behind a proxy").
//
// Threading: a ProxyList is immutable once parsed (any thread may read it).
#ifndef CHAT_WS_BRIDGE_SRC_CLIENT_ADDRESS_H_
#define CHAT_WS_BRIDGE_SRC_CLIENT_ADDRESS_H_

#include <boost/asio/ip/address.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chat::bridge {

class ProxyList {
 public:
  ProxyList() = default;
  // Each entry an address (10.0.0.5, ::1) or a CIDR (10.0.0.0/8, fd00::/8).
  // INVALID_ARGUMENT naming the bad entry.
  static absl::StatusOr<ProxyList> Parse(const std::vector<std::string>& entries);

  bool empty() const { return nets_.empty(); }
  bool Contains(const boost::asio::ip::address& address) const;
  bool Contains(absl::string_view address) const;

 private:
  struct Net {
    boost::asio::ip::address address;  // IPv4-mapped IPv6 is stored as IPv4
    int prefix = 0;
  };
  std::vector<Net> nets_;
};

struct ClientView {
  std::string address;  // e.g. "203.0.113.9"
  bool tls = false;     // reached over TLS (directly, or said so by a trusted proxy)
};

// `peer`: the TCP peer's address; `peer_tls`: whether this connection is TLS;
// `forwarded_for`, `forwarded_proto`: the headers' values ("" if absent).
ClientView ResolveClient(absl::string_view peer, bool peer_tls, absl::string_view forwarded_for,
                         absl::string_view forwarded_proto, const ProxyList& proxies);

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_CLIENT_ADDRESS_H_
