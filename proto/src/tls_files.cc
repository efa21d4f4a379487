#include "chat/tls_files.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace chat {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

absl::StatusOr<std::string> ReadFile(const std::string& path, const std::string& flag) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, ": no file given"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "not PEM";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::unique_ptr<BIO, BioFree> Bio(const std::string& pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

absl::Time AsnTime(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromTM(tm, absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<PemIdentity> LoadPemIdentity(const std::string& cert_file, const std::string& key_file,
                                            const std::string& flag) {
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": give both the certificate and its key"));
  }
  PemIdentity id;
  auto cert = ReadFile(cert_file, flag);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(key_file, flag);
  if (!key.ok()) return key.status();
  id.cert_chain = *std::move(cert);
  id.private_key = *std::move(key);

  ERR_clear_error();
  std::unique_ptr<X509, X509Free> x509(PEM_read_bio_X509(Bio(id.cert_chain).get(), nullptr, nullptr, nullptr));
  if (x509 == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", cert_file, " holds no PEM certificate (", OpenSslError(), ")"));
  }
  std::unique_ptr<EVP_PKEY, KeyFree> pkey(
      PEM_read_bio_PrivateKey(Bio(id.private_key).get(), nullptr, nullptr, nullptr));
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", key_file,
                                                   " holds no unencrypted PEM private key (", OpenSslError(), ")"));
  }
  if (X509_check_private_key(x509.get(), pkey.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": the key in ", key_file, " does not belong to the certificate in ", cert_file));
  }
  char subject[256] = "";
  X509_NAME_oneline(X509_get_subject_name(x509.get()), subject, sizeof subject);
  id.subject = subject;
  id.not_after = AsnTime(X509_get0_notAfter(x509.get()));
  const absl::Time not_before = AsnTime(X509_get0_notBefore(x509.get()));
  const absl::Time now = absl::Now();
  if (now < not_before || now > id.not_after) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": the certificate in ", cert_file, " (", id.subject, ") is valid only from ",
        absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", not_before, absl::UTCTimeZone()), " to ",
        absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", id.not_after, absl::UTCTimeZone())));
  }
  return id;
}

absl::StatusOr<std::string> LoadPemCaBundle(const std::string& file, const std::string& flag) {
  auto pem = ReadFile(file, flag);
  if (!pem.ok()) return pem.status();
  ERR_clear_error();
  std::unique_ptr<X509, X509Free> first(PEM_read_bio_X509(Bio(*pem).get(), nullptr, nullptr, nullptr));
  if (first == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", file, " holds no PEM CA certificate (", OpenSslError(), ")"));
  }
  return pem;
}

std::string SystemCaBundle() {
  for (const char* path : {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"}) {
    std::ifstream in(path, std::ios::binary);
    if (!in) continue;
    std::ostringstream s;
    s << in.rdbuf();
    if (!s.str().empty()) return s.str();
  }
  return "";
}

}  // namespace chat
