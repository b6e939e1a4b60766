// A swtpm TPM 2.0 simulator for tests and benchmarks, on two free loopback ports (the TPM port P
// and the control port P + 1, which the `swtpm:` TCTI expects there). It is stopped when this goes
// away, and killed by the kernel if the process that started it dies first (PR_SET_PDEATHSIG), so
// a crashed test leaves no swtpm behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>

namespace liaison::keys::tpm {

struct SwtpmOptions {
  // Empty: a fresh temporary directory, removed with this object.
  std::filesystem::path state_dir;
  // swtpm sends TPM2_Startup itself (`--flags startup-clear`); without it the TPM answers
  // TPM2_RC_INITIALIZE until a client starts it.
  bool startup_clear = true;
  // Manufactures the TPM first, as a vendor would: `swtpm_setup --create-ek-cert
  // --create-platform-cert` (swtpm-tools) with a CA of its own in <state_dir>/ca (never the
  // machine's /var/lib/swtpm-localca): an RSA 2048 and an ECC P-384 endorsement key, their
  // certificates in NV. About 2 s.
  bool provision_ek_certificates = false;
  // With provision_ek_certificates: EKs that may sign as well as decrypt (`--allow-signing`), made
  // from templates of swtpm's own that it stores in NV beside each certificate.
  bool ek_allows_signing = false;
};

class SwtpmProcess {
  struct StartToken {
    explicit StartToken() = default;
  };

 public:
  // Starts swtpm and waits (up to 5 s; ~30 ms is usual) until both of its ports accept.
  static std::expected<std::unique_ptr<SwtpmProcess>, std::string> start(SwtpmOptions options = {});

  SwtpmProcess(StartToken, SwtpmOptions options, bool owns_state_dir);
  SwtpmProcess(const SwtpmProcess&) = delete;
  SwtpmProcess& operator=(const SwtpmProcess&) = delete;
  ~SwtpmProcess();

  // "swtpm:host=127.0.0.1,port=P"
  std::string tcti() const;
  uint16_t port() const { return port_; }
  const std::filesystem::path& state_dir() const { return options_.state_dir; }
  // With provision_ek_certificates: the CA that issued the EK certificates, as PEM files.
  std::filesystem::path ek_root_certificate() const {
    return options_.state_dir / "ca" / "swtpm-localca-rootca-cert.pem";
  }
  std::filesystem::path ek_issuer_certificate() const {
    return options_.state_dir / "ca" / "issuercert.pem";
  }
  bool running() const { return pid_ > 0; }

  // SIGKILL: the TPM vanishes mid-whatever, as if unplugged.
  void kill();
  // SIGTERM, then SIGKILL after 2 s.
  void stop();
  // Starts it again on the same ports with the same state: a TPM reset (transient objects gone,
  // the owner seed and so every key made under it kept).
  std::expected<void, std::string> restart();

 private:
  std::expected<void, std::string> provision();
  std::expected<void, std::string> launch();
  std::expected<void, std::string> wait_until_ready();

  SwtpmOptions options_;
  bool owns_state_dir_ = false;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace liaison::keys::tpm
