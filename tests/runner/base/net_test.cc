// NetworkPolicy, IsLoopbackAddress and AddressText on socket addresses built in memory:
// what the connect-time guard answers for each address a drill could end up connecting
// to. Nothing here opens a socket or resolves a name (AllowHost is given numeric
// addresses only, which getaddrinfo answers without asking a resolver).
#include "runner/base/net.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <string>

namespace firedrill {
namespace {

using ::testing::HasSubstr;

constexpr char kWhy[] = ": a drill sends traffic only to loopback and the hosts it names";

// A socket address for a numeric IPv4 or IPv6 address (the family is the text's).
class Addr {
 public:
  Addr(const std::string& ip, int port) {
    std::memset(&ss_, 0, sizeof ss_);
    auto* a4 = reinterpret_cast<sockaddr_in*>(&ss_);
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss_);
    if (inet_pton(AF_INET, ip.c_str(), &a4->sin_addr) == 1) {
      a4->sin_family = AF_INET;
      a4->sin_port = htons(static_cast<uint16_t>(port));
    } else if (inet_pton(AF_INET6, ip.c_str(), &a6->sin6_addr) == 1) {
      a6->sin6_family = AF_INET6;
      a6->sin6_port = htons(static_cast<uint16_t>(port));
    } else {
      ADD_FAILURE() << "not a numeric address: " << ip;
    }
  }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&ss_); }

 private:
  sockaddr_storage ss_;
};

bool Loopback(const std::string& ip) { return IsLoopbackAddress(Addr(ip, 80).get()); }

std::string Refusal(const NetworkPolicy& policy, const std::string& ip, int port) {
  Status s = policy.CheckConnect(Addr(ip, port).get());
  return s.ok() ? "" : s.message();
}

TEST(NetworkPolicyTest, LoopbackIsAll127Slash8AndIpv6Loopback) {
  EXPECT_TRUE(Loopback("127.0.0.1"));
  EXPECT_TRUE(Loopback("127.255.0.9"));
  EXPECT_TRUE(Loopback("127.0.0.0"));
  EXPECT_TRUE(Loopback("127.255.255.255"));
  EXPECT_TRUE(Loopback("::1"));
  // An IPv4-mapped address is connected to as the IPv4 address it maps.
  EXPECT_TRUE(Loopback("::ffff:127.0.0.1"));
  EXPECT_TRUE(Loopback("::ffff:127.1.2.3"));
}

TEST(NetworkPolicyTest, EverythingElseIsNotLoopback) {
  for (const char* ip : {"10.0.0.1", "::ffff:10.0.0.1", "126.255.255.255", "128.0.0.1", "192.0.2.1",
                         "::2", "fe80::1", "2001:db8::1",
                         // IPv4-compatible (deprecated) is not the mapped form: it is not
                         // routed to 127/8.
                         "::127.0.0.1",
                         // NAT64 of 127.0.0.1 goes to a translator on the network.
                         "64:ff9b::7f00:1"}) {
    EXPECT_FALSE(Loopback(ip)) << ip;
  }
}

// Connecting to 0.0.0.0 (or ::) reaches the local host on Linux, but the policy does not
// count the unspecified address as loopback, so it is refused: a drill names the local
// host as 127.0.0.1 or ::1, and one more spelling of it would only be one more to audit.
TEST(NetworkPolicyTest, UnspecifiedAddressIsNotLoopbackAndIsRefused) {
  EXPECT_FALSE(Loopback("0.0.0.0"));
  EXPECT_FALSE(Loopback("::"));
  EXPECT_FALSE(Loopback("::ffff:0.0.0.0"));
  const NetworkPolicy& policy = NetworkPolicy::LoopbackOnly();
  EXPECT_EQ(Refusal(policy, "0.0.0.0", 80), std::string("refused to connect to 0.0.0.0:80") + kWhy);
  EXPECT_EQ(Refusal(policy, "::", 80), std::string("refused to connect to [::]:80") + kWhy);
  EXPECT_EQ(Refusal(policy, "::ffff:0.0.0.0", 80),
            std::string("refused to connect to 0.0.0.0:80") + kWhy);
}

TEST(NetworkPolicyTest, OtherFamiliesAreNotLoopback) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  EXPECT_FALSE(IsLoopbackAddress(reinterpret_cast<const sockaddr*>(&un)));
}

TEST(NetworkPolicyTest, LoopbackOnlyAllowsLoopbackOnAnyPort) {
  const NetworkPolicy& policy = NetworkPolicy::LoopbackOnly();
  for (const char* ip : {"127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"}) {
    for (int port : {1, 80, 65535}) {
      EXPECT_TRUE(policy.CheckConnect(Addr(ip, port).get()).ok()) << ip << " port " << port;
    }
  }
  // A default-constructed policy is the same policy.
  EXPECT_TRUE(NetworkPolicy().CheckConnect(Addr("127.0.0.1", 80).get()).ok());
}

TEST(NetworkPolicyTest, RefusalSaysWhichAddressAndWhy) {
  const NetworkPolicy& policy = NetworkPolicy::LoopbackOnly();
  Status s = policy.CheckConnect(Addr("10.0.0.1", 80).get());
  EXPECT_EQ(s.code(), Status::Code::kFailed);
  EXPECT_EQ(s.message(), std::string("refused to connect to 10.0.0.1:80") + kWhy);
  EXPECT_EQ(Refusal(policy, "2001:db8::1", 443),
            std::string("refused to connect to [2001:db8::1]:443") + kWhy);
  // The mapped form is named as the IPv4 address it would reach.
  EXPECT_EQ(Refusal(policy, "::ffff:10.0.0.1", 8080),
            std::string("refused to connect to 10.0.0.1:8080") + kWhy);
  EXPECT_EQ(NetworkPolicy().CheckConnect(Addr("192.0.2.1", 1).get()).message(),
            std::string("refused to connect to 192.0.2.1:1") + kWhy);
}

// A family the policy knows nothing of is refused, not waved through, and still named.
TEST(NetworkPolicyTest, OtherFamiliesAreRefused) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  Status s = NetworkPolicy::LoopbackOnly().CheckConnect(reinterpret_cast<const sockaddr*>(&un));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), std::string("refused to connect to an address of family ") +
                             std::to_string(AF_UNIX) + kWhy);
}

TEST(NetworkPolicyTest, AllowHostAllowsExactlyThatAddress) {
  NetworkPolicy policy;
  ASSERT_TRUE(policy.AllowHost("10.0.0.1").ok());
  EXPECT_TRUE(policy.CheckConnect(Addr("10.0.0.1", 80).get()).ok());
  // The host is allowed, not a host and port.
  EXPECT_TRUE(policy.CheckConnect(Addr("10.0.0.1", 6379).get()).ok());
  // The mapped form reaches the same host, so it is allowed with it.
  EXPECT_TRUE(policy.CheckConnect(Addr("::ffff:10.0.0.1", 80).get()).ok());
  // Its neighbours, its network and broadcast addresses are other hosts.
  for (const char* ip : {"10.0.0.0", "10.0.0.2", "10.0.0.255", "10.0.1.1", "11.0.0.1", "0.0.0.0",
                         "::ffff:10.0.0.2", "::a00:1"}) {
    EXPECT_FALSE(policy.CheckConnect(Addr(ip, 80).get()).ok()) << ip;
  }
  // Loopback stays allowed.
  EXPECT_TRUE(policy.CheckConnect(Addr("127.0.0.1", 80).get()).ok());
  EXPECT_TRUE(policy.CheckConnect(Addr("::1", 80).get()).ok());
}

TEST(NetworkPolicyTest, AllowHostTakesIpv6AndMappedAddresses) {
  NetworkPolicy policy;
  ASSERT_TRUE(policy.AllowHost("2001:db8::7").ok());
  EXPECT_TRUE(policy.CheckConnect(Addr("2001:db8::7", 443).get()).ok());
  EXPECT_FALSE(policy.CheckConnect(Addr("2001:db8::8", 443).get()).ok());

  // A host named in its mapped form is the IPv4 host, reached either way.
  NetworkPolicy mapped;
  ASSERT_TRUE(mapped.AllowHost("::ffff:192.0.2.5").ok());
  EXPECT_TRUE(mapped.CheckConnect(Addr("192.0.2.5", 80).get()).ok());
  EXPECT_TRUE(mapped.CheckConnect(Addr("::ffff:192.0.2.5", 80).get()).ok());
  EXPECT_FALSE(mapped.CheckConnect(Addr("192.0.2.6", 80).get()).ok());
}

TEST(NetworkPolicyTest, AllowHostAddsToOnePolicyOnly) {
  NetworkPolicy a;
  ASSERT_TRUE(a.AllowHost("192.0.2.1").ok());
  ASSERT_TRUE(a.AllowHost("192.0.2.2").ok());
  EXPECT_TRUE(a.CheckConnect(Addr("192.0.2.1", 80).get()).ok());
  EXPECT_TRUE(a.CheckConnect(Addr("192.0.2.2", 80).get()).ok());
  EXPECT_FALSE(a.CheckConnect(Addr("192.0.2.3", 80).get()).ok());
  EXPECT_THAT(Refusal(NetworkPolicy(), "192.0.2.1", 80), HasSubstr("refused to connect"));
  EXPECT_THAT(Refusal(NetworkPolicy::LoopbackOnly(), "192.0.2.1", 80),
              HasSubstr("refused to connect"));
}

TEST(NetworkPolicyTest, AddressTextFormats) {
  EXPECT_EQ(AddressText(Addr("127.0.0.1", 6379).get()), "127.0.0.1:6379");
  EXPECT_EQ(AddressText(Addr("10.0.0.1", 0).get()), "10.0.0.1:0");
  EXPECT_EQ(AddressText(Addr("10.0.0.1", 65535).get()), "10.0.0.1:65535");
  EXPECT_EQ(AddressText(Addr("::1", 80).get()), "[::1]:80");
  EXPECT_EQ(AddressText(Addr("::", 80).get()), "[::]:80");
  // inet_ntop's shortest form, whatever form it was written in.
  EXPECT_EQ(AddressText(Addr("2001:0db8:0000:0000:0000:0000:0000:0001", 443).get()),
            "[2001:db8::1]:443");
  // A mapped address is shown as the IPv4 address it reaches, without brackets.
  EXPECT_EQ(AddressText(Addr("::ffff:127.0.0.1", 80).get()), "127.0.0.1:80");
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  EXPECT_EQ(AddressText(reinterpret_cast<const sockaddr*>(&un)), "");
}

}  // namespace
}  // namespace firedrill
