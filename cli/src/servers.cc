#include "servers.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"

namespace chat::cli {
namespace {

constexpr char kForm[] = "give HOST:PORT[,HOST:PORT...]";

// Why `address` is not HOST:PORT, or "" if it is.
std::string AddressProblem(absl::string_view address) {
  address = DialAddress(address);
  absl::string_view host;
  absl::string_view port;
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close == absl::string_view::npos || close == 1) return "has a bad IPv6 address";
    host = address.substr(1, close - 1);
    absl::string_view rest = address.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return "has no port";
    port = rest.substr(1);
  } else {
    size_t colon = address.rfind(':');
    if (colon == absl::string_view::npos) return "has no port";
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.find(':') != absl::string_view::npos) {
      return "is an IPv6 address without brackets (write [ADDR]:PORT)";
    }
  }
  if (host.empty()) return "has no host";
  for (char c : host) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) || c == '/' || c == '[' || c == ']') {
      return "has a bad host";
    }
  }
  int number = 0;
  if (port.empty() || !std::all_of(port.begin(), port.end(),
                                   [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }) ||
      !absl::SimpleAtoi(port, &number) || number < 1 || number > 65535) {
    return absl::StrCat("has a bad port '", port, "' (1-65535)");
  }
  return "";
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseServerList(absl::string_view text,
                                                         absl::string_view source) {
  std::vector<std::string> servers;
  std::vector<absl::string_view> parts = absl::StrSplit(text, ',');
  for (size_t i = 0; i < parts.size(); ++i) {
    absl::string_view address = absl::StripAsciiWhitespace(parts[i]);
    if (address.empty()) {
      std::string which = parts.size() == 1 ? "is empty"
                                            : absl::StrCat("has an empty address (number ", i + 1,
                                                           " of ", parts.size(), ")");
      return absl::InvalidArgumentError(absl::StrCat(source, " '", text, "' ", which, "; ", kForm));
    }
    if (std::string problem = AddressProblem(address); !problem.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": '", address, "' ", problem, "; ", kForm));
    }
    if (std::find(servers.begin(), servers.end(), address) != servers.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": '", address, "' is listed twice; ", kForm));
    }
    servers.emplace_back(address);
  }
  return servers;
}

bool IsTlsAddress(absl::string_view address) { return absl::StartsWith(address, kTlsScheme); }

absl::string_view DialAddress(absl::string_view address) {
  absl::ConsumePrefix(&address, kTlsScheme);
  return address;
}

std::string AddressHost(absl::string_view address) {
  address = DialAddress(address);
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    return std::string(address.substr(1, close == absl::string_view::npos ? absl::string_view::npos : close - 1));
  }
  return std::string(address.substr(0, address.rfind(':')));
}

bool IsLoopbackHost(absl::string_view host) {
  return absl::EqualsIgnoreCase(host, "localhost") || absl::StartsWith(host, "127.") || host == "::1";
}

std::string ServerListText(const std::vector<std::string>& servers) {
  return absl::StrJoin(servers, ",");
}

bool ListCovers(const std::vector<std::string>& list, const std::vector<std::string>& wanted) {
  return std::all_of(wanted.begin(), wanted.end(), [&](const std::string& address) {
    return std::find(list.begin(), list.end(), address) != list.end();
  });
}

}  // namespace chat::cli
