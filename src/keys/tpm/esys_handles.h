// Owning handles for tpm2-tss objects, so every TCTI, ESAPI context, ESAPI-allocated output and
// TPM object slot is released exactly once, on every path.
#pragma once

#include <tss2_esys.h>
#include <tss2_tctildr.h>

#include <memory>
#include <utility>

namespace liaison::keys::tpm {

struct TctiDeleter {
  void operator()(TSS2_TCTI_CONTEXT* tcti) const { Tss2_TctiLdr_Finalize(&tcti); }
};
// A loaded TCTI (device, swtpm, ...): closes its socket or file descriptor and unloads the module.
using TctiPtr = std::unique_ptr<TSS2_TCTI_CONTEXT, TctiDeleter>;

struct EsysContextDeleter {
  void operator()(ESYS_CONTEXT* esys) const { Esys_Finalize(&esys); }
};
// An ESAPI context. Frees ESAPI's records of every ESYS_TR, but flushes nothing from the TPM: the
// TransientObjects made with it must be gone first.
using EsysContextPtr = std::unique_ptr<ESYS_CONTEXT, EsysContextDeleter>;

struct EsysFreeDeleter {
  void operator()(void* memory) const { Esys_Free(memory); }
};
// An output parameter ESAPI allocated (TPM2B_PUBLIC*, TPMT_SIGNATURE*, ...).
template <typename T>
using EsysPtr = std::unique_ptr<T, EsysFreeDeleter>;

// An object loaded in one of the TPM's few transient slots (three on swtpm, three per connection
// through the kernel's /dev/tpmrm0): flushed from the TPM when this goes away. Must not outlive the
// ESYS_CONTEXT it was made with.
class TransientObject {
 public:
  TransientObject() = default;
  TransientObject(ESYS_CONTEXT* esys, ESYS_TR handle) : esys_(esys), handle_(handle) {}
  TransientObject(const TransientObject&) = delete;
  TransientObject& operator=(const TransientObject&) = delete;
  TransientObject(TransientObject&& other) noexcept
      : esys_(other.esys_), handle_(std::exchange(other.handle_, ESYS_TR_NONE)) {}
  TransientObject& operator=(TransientObject&& other) noexcept {
    if (this != &other) {
      flush();
      esys_ = other.esys_;
      handle_ = std::exchange(other.handle_, ESYS_TR_NONE);
    }
    return *this;
  }
  ~TransientObject() { flush(); }

  ESYS_TR get() const { return handle_; }
  bool loaded() const { return handle_ != ESYS_TR_NONE; }

  // Frees the slot: one TPM2_FlushContext round trip (~0.1 ms on swtpm). Errors are ignored: the
  // object is gone from our side either way, and the TPM drops it at its next reset.
  void flush() {
    if (!loaded()) {
      return;
    }
    Esys_FlushContext(esys_, std::exchange(handle_, ESYS_TR_NONE));
  }

  // For when the TPM already lost the object (TPM reset, simulator restart, lost connection):
  // drops ESAPI's record of it without a command the TPM would refuse. No TPM round trip.
  void forget() {
    if (!loaded()) {
      return;
    }
    ESYS_TR handle = std::exchange(handle_, ESYS_TR_NONE);
    Esys_TR_Close(esys_, &handle);
  }

 private:
  ESYS_CONTEXT* esys_ = nullptr;
  ESYS_TR handle_ = ESYS_TR_NONE;
};

}  // namespace liaison::keys::tpm
