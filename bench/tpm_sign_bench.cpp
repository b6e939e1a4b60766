// Signatures per second on one TPM: a raw Esys_Sign loop (the limit: nothing but the ESAPI call
// and the TPM round trip) next to TpmProvider::sign_digest (plus the key cache lookup and the DER
// encoding), in the same run on the same TPM. Both stay set up for the whole run and take turns in
// batches, so drift (a busy machine, TIME_WAIT sockets piling up under the swtpm TCTI's
// connection per command) hits both alike.
//
//   tpm_sign_bench [--tcti swtpm:host=127.0.0.1,port=P] [--count N] [--batch B] [--json]
//
// Without --tcti it starts its own swtpm. Object slots: the raw signer keeps one (its key; its
// parent is flushed once the key is loaded), the provider two (its parent and its key), which is
// all swtpm has without a resource manager: run it while no one else holds objects there.
#include <fmt/format.h>
#include <time.h>
#include <tss2_esys.h>
#include <tss2_tctildr.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "keys/tpm/esys_handles.h"
#include "keys/tpm/testing/swtpm_process.h"
#include "keys/tpm/tpm_key_format.h"
#include "keys/tpm/tpm_provider.h"

namespace liaison::keys::tpm {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string tcti;
  int count = 5000;  // signatures per contender
  int batch = 100;   // signatures per turn
  bool json = false;
};

[[noreturn]] void fail(std::string_view what) {
  std::cerr << "tpm_sign_bench: " << what << "\n";
  std::exit(1);
}

void check(TSS2_RC rc, const char* call) {
  if (rc != TSS2_RC_SUCCESS) fail(fmt::format("{}: TSS2_RC 0x{:x}", call, rc));
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string_view argument = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail(fmt::format("{} needs a value", argument));
      return argv[++i];
    };
    if (argument == "--tcti") {
      options.tcti = value();
    } else if (argument == "--count") {
      options.count = std::max(1, std::atoi(value().c_str()));
    } else if (argument == "--batch") {
      options.batch = std::max(1, std::atoi(value().c_str()));
    } else if (argument == "--json") {
      options.json = true;
    } else {
      fail(fmt::format("unknown argument {} (see the top of bench/tpm_sign_bench.cpp)", argument));
    }
  }
  return options;
}

// The limit: its own ESAPI context and a key made from the provider's templates, loaded once;
// then nothing but Esys_Sign.
class RawSigner {
 public:
  explicit RawSigner(const std::string& tcti) {
    TSS2_TCTI_CONTEXT* raw_tcti = nullptr;
    check(Tss2_TctiLdr_Initialize(tcti.c_str(), &raw_tcti), "Tss2_TctiLdr_Initialize");
    tcti_.reset(raw_tcti);
    ESYS_CONTEXT* raw_esys = nullptr;
    check(Esys_Initialize(&raw_esys, tcti_.get(), nullptr), "Esys_Initialize");
    esys_.reset(raw_esys);

    TPM2B_SENSITIVE_CREATE sensitive{};
    TPM2B_PUBLIC parent_template = storage_root_key_template();
    TPM2B_DATA outside_info{};
    TPML_PCR_SELECTION pcrs{};
    ESYS_TR parent_handle = ESYS_TR_NONE;
    check(Esys_CreatePrimary(esys_.get(), ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                             ESYS_TR_NONE, &sensitive, &parent_template, &outside_info, &pcrs,
                             &parent_handle, nullptr, nullptr, nullptr, nullptr),
          "Esys_CreatePrimary (TPM2_RC 0x902: another client holds the object slots)");
    TransientObject parent(esys_.get(), parent_handle);  // flushed at the end of the constructor

    TPM2B_PUBLIC key_template = signing_key_template();
    TPM2B_PRIVATE* raw_private = nullptr;
    TPM2B_PUBLIC* raw_public = nullptr;
    check(Esys_Create(esys_.get(), parent.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                      &sensitive, &key_template, &outside_info, &pcrs, &raw_private, &raw_public,
                      nullptr, nullptr, nullptr),
          "Esys_Create");
    EsysPtr<TPM2B_PRIVATE> private_area(raw_private);
    EsysPtr<TPM2B_PUBLIC> public_area(raw_public);
    ESYS_TR key = ESYS_TR_NONE;
    check(Esys_Load(esys_.get(), parent.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                    private_area.get(), public_area.get(), &key),
          "Esys_Load");
    key_ = TransientObject(esys_.get(), key);
  }

  void sign(const TPM2B_DIGEST& digest) {
    TPMT_SIG_SCHEME scheme{};
    scheme.scheme = TPM2_ALG_ECDSA;
    scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    TPMT_TK_HASHCHECK ticket{};
    ticket.tag = TPM2_ST_HASHCHECK;
    ticket.hierarchy = TPM2_RH_NULL;
    TPMT_SIGNATURE* raw_signature = nullptr;
    check(Esys_Sign(esys_.get(), key_.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest,
                    &scheme, &ticket, &raw_signature),
          "Esys_Sign");
    EsysPtr<TPMT_SIGNATURE> signature(raw_signature);
  }

 private:
  TctiPtr tcti_;
  EsysContextPtr esys_;
  TransientObject key_;
};

double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return now.tv_sec + now.tv_nsec / 1e9;
}

// Wall and client CPU time (this process only: swtpm's work is not in it) spent signing.
struct Tally {
  int signatures = 0;
  double wall_seconds = 0;
  double cpu_seconds = 0;

  template <typename Sign>
  void run(int count, Sign&& sign) {
    auto start = Clock::now();
    double cpu_start = process_cpu_seconds();
    for (int i = 0; i < count; ++i) sign();
    cpu_seconds += process_cpu_seconds() - cpu_start;
    wall_seconds += std::chrono::duration<double>(Clock::now() - start).count();
    signatures += count;
  }
  double per_second() const { return signatures / wall_seconds; }
  double client_cpu_us() const { return cpu_seconds / signatures * 1e6; }
};

int run(int argc, char** argv) {
  Options options = parse_options(argc, argv);
  std::unique_ptr<SwtpmProcess> own_swtpm;
  if (options.tcti.empty()) {
    auto started = SwtpmProcess::start();
    if (!started) fail(started.error());
    own_swtpm = std::move(*started);
    options.tcti = own_swtpm->tcti();
  }

  RawSigner raw_signer(options.tcti);
  TPM2B_DIGEST tpm_digest{};
  tpm_digest.size = 32;
  std::fill_n(tpm_digest.buffer, 32, 0x5A);
  auto raw_sign = [&] { raw_signer.sign(tpm_digest); };

  auto provider = TpmProvider::open(options.tcti);
  if (!provider) fail(provider.error().message);
  auto key = (*provider)->generate();
  if (!key) fail(key.error().message);
  Bytes digest(32, 0x5A);
  auto provider_sign = [&] {
    auto signature = (*key)->sign_digest(digest);
    if (!signature) fail(signature.error().message);
  };

  Tally warm_up;  // loads the provider's key, fills caches
  warm_up.run(20, raw_sign);
  warm_up.run(20, provider_sign);
  Tally raw;
  Tally through_provider;
  for (int done = 0; done < options.count; done += options.batch) {
    int batch = std::min(options.batch, options.count - done);
    raw.run(batch, raw_sign);
    through_provider.run(batch, provider_sign);
  }

  double overhead_percent = (raw.per_second() / through_provider.per_second() - 1) * 100;
  if (options.json) {
    std::cout << fmt::format(
        "{{\"tcti\":\"{}\",\"count\":{},\"raw_esys_sign_per_s\":{:.1f},"
        "\"provider_sign_per_s\":{:.1f},\"provider_overhead_percent\":{:.1f},"
        "\"raw_client_cpu_us\":{:.1f},\"provider_client_cpu_us\":{:.1f}}}\n",
        options.tcti, options.count, raw.per_second(), through_provider.per_second(),
        overhead_percent, raw.client_cpu_us(), through_provider.client_cpu_us());
    return 0;
  }
  auto line = [](std::string_view name, const Tally& tally) {
    return fmt::format("{:<26}{:8.1f} signatures/s ({:.3f} ms each, {:.1f} us client CPU)\n", name,
                       tally.per_second(), 1000 / tally.per_second(), tally.client_cpu_us());
  };
  std::cout << fmt::format("TPM: {} ({} signatures each, in turns of {})\n", options.tcti,
                           options.count, options.batch)
            << line("raw Esys_Sign loop:", raw)
            << line("TpmProvider::sign_digest:", through_provider)
            << fmt::format("{:<26}{:8.1f} %\n", "provider overhead:", overhead_percent);
  return 0;
}

}  // namespace
}  // namespace liaison::keys::tpm

int main(int argc, char** argv) { return liaison::keys::tpm::run(argc, argv); }
