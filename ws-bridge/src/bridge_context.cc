#include "bridge_context.h"

namespace chat::bridge {

namespace ip = boost::asio::ip;

std::string ConnectionSlot::AddressKey(const ip::address& peer) {
  if (peer.is_v4()) {
    const auto b = peer.to_v4().to_bytes();
    return std::string(b.begin(), b.end());
  }
  const ip::address_v6 v6 = peer.to_v6();
  if (v6.is_v4_mapped()) {
    const auto b = ip::make_address_v4(ip::v4_mapped, v6).to_bytes();
    return std::string(b.begin(), b.end());
  }
  const auto b = v6.to_bytes();
  return std::string(b.begin(), b.begin() + 8);  // the /64
}

bool BridgeContext::TakeHistory(const std::string& user, double messages) {
  if (options.history_per_user <= 0) return true;
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&history_mu);
  // Users whose buckets have filled up again cost nothing to forget.
  if (history_by_user.size() >= 4096) {
    absl::erase_if(history_by_user, [&](auto& entry) {
      entry.second.Take(now, 0);
      return entry.second.tokens() >= history_rate.burst;
    });
  }
  auto it = history_by_user.try_emplace(user, &history_rate, now).first;
  return it->second.Take(now, messages);
}

std::unique_ptr<ConnectionSlot> ConnectionSlot::Acquire(BridgeContext* ctx, const ip::address& peer) {
  if (ctx->connections.load() >= static_cast<int64_t>(ctx->options.max_connections)) return nullptr;
  std::string key;
  const int per_ip = ctx->options.max_connections_per_ip;
  if (per_ip > 0 && !ctx->proxies.Contains(peer)) {
    key = AddressKey(peer);
    absl::MutexLock lock(&ctx->per_address_mu);
    auto [it, inserted] = ctx->per_address.try_emplace(key, 0);
    if (it->second >= per_ip) return nullptr;  // not new: it holds at least one
    ++it->second;
  }
  ctx->connections.fetch_add(1);
  return std::unique_ptr<ConnectionSlot>(new ConnectionSlot(ctx, std::move(key)));
}

ConnectionSlot::~ConnectionSlot() {
  ctx_->connections.fetch_sub(1);
  if (key_.empty()) return;
  absl::MutexLock lock(&ctx_->per_address_mu);
  auto it = ctx_->per_address.find(key_);
  if (it != ctx_->per_address.end() && --it->second <= 0) ctx_->per_address.erase(it);
}

}  // namespace chat::bridge
