#include "client_address.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace chat::bridge {
namespace {

namespace ip = boost::asio::ip;

ip::address Normalize(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

bool ParseAddress(absl::string_view text, ip::address* out) {
  text = absl::StripAsciiWhitespace(text);
  // "[::1]" and "[::1]:443" as some proxies write them; "1.2.3.4:5678" too.
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == absl::string_view::npos) return false;
    text = text.substr(1, close - 1);
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    text = text.substr(0, text.find(':'));
  }
  boost::system::error_code ec;
  ip::address a = ip::make_address(std::string(text), ec);
  if (ec) return false;
  *out = Normalize(a);
  return true;
}

}  // namespace

absl::StatusOr<ProxyList> ProxyList::Parse(const std::vector<std::string>& entries) {
  ProxyList list;
  for (const std::string& raw : entries) {
    absl::string_view entry = absl::StripAsciiWhitespace(raw);
    if (entry.empty()) continue;
    std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(entry, absl::MaxSplits('/', 1));
    Net net;
    boost::system::error_code ec;
    net.address = Normalize(ip::make_address(std::string(parts.first), ec));
    const int max = net.address.is_v4() ? 32 : 128;
    net.prefix = max;
    if (!ec && !parts.second.empty() &&
        (!absl::SimpleAtoi(parts.second, &net.prefix) || net.prefix < 0 || net.prefix > max)) {
      ec = boost::asio::error::invalid_argument;
    }
    if (ec || (entry.find('/') != absl::string_view::npos && parts.second.empty())) {
      return absl::InvalidArgumentError(
          absl::StrCat("--trusted_proxies: '", entry, "' is not an address or CIDR (10.0.0.0/8, fd00::/8)"));
    }
    list.nets_.push_back(net);
  }
  return list;
}

bool ProxyList::Contains(const ip::address& raw) const {
  const ip::address a = Normalize(raw);
  for (const Net& n : nets_) {
    if (n.address.is_v4() != a.is_v4()) continue;
    if (a.is_v4()) {
      const uint32_t mask = n.prefix == 0 ? 0 : ~uint32_t{0} << (32 - n.prefix);
      if ((a.to_v4().to_uint() & mask) == (n.address.to_v4().to_uint() & mask)) return true;
    } else {
      auto x = a.to_v6().to_bytes();
      auto y = n.address.to_v6().to_bytes();
      int bits = n.prefix;
      bool same = true;
      for (size_t i = 0; i < x.size() && bits > 0 && same; ++i, bits -= 8) {
        const uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
        same = (x[i] & mask) == (y[i] & mask);
      }
      if (same) return true;
    }
  }
  return false;
}

bool ProxyList::Contains(absl::string_view address) const {
  ip::address a;
  return ParseAddress(address, &a) && Contains(a);
}

ClientView ResolveClient(absl::string_view peer, bool peer_tls, absl::string_view forwarded_for,
                         absl::string_view forwarded_proto, const ProxyList& proxies) {
  ClientView view{std::string(peer), peer_tls};
  if (proxies.empty() || !proxies.Contains(peer)) return view;
  // The proxy tells how the browser reached it (its first hop's value).
  if (!forwarded_proto.empty()) {
    absl::string_view first = absl::StripAsciiWhitespace(forwarded_proto.substr(0, forwarded_proto.find(',')));
    view.tls = absl::EqualsIgnoreCase(first, "https") || absl::EqualsIgnoreCase(first, "wss");
  }
  // From the right: the last address a trusted proxy did not add is the client.
  std::vector<absl::string_view> hops = absl::StrSplit(forwarded_for, ',', absl::SkipWhitespace());
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    ip::address a;
    if (!ParseAddress(*it, &a)) break;  // garbage: stop at the last hop we trust
    view.address = a.to_string();
    if (!proxies.Contains(a)) break;
  }
  return view;
}

}  // namespace chat::bridge
