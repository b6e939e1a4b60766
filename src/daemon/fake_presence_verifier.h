// A PresenceVerifier for unit tests: remembers each check started, lets the test answer it, and
// records which were withdrawn (destroyed unanswered).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "daemon/presence_verifier.h"

namespace liaison::daemon {

class FakePresenceVerifier : public PresenceVerifier {
 public:
  struct Check {
    std::string session;
    std::string reason;
    Done done;
    bool withdrawn = false;
    bool answered = false;
  };

  std::expected<std::unique_ptr<PendingPresenceCheck>, PresenceOutcome> start(
      const Session& session, const std::string& reason, Done done) override {
    if (refusal) {
      return std::unexpected(*refusal);
    }
    auto check = std::make_shared<Check>(Check{session.id, reason, std::move(done)});
    checks.push_back(check);
    return std::make_unique<Pending>(check);
  }

  // Answers the last check started.
  void answer(PresenceOutcome outcome) {
    auto& check = *checks.back();
    check.answered = true;
    check.done(std::move(outcome));
  }

  std::optional<PresenceOutcome> refusal;  // set: start() fails with it
  std::vector<std::shared_ptr<Check>> checks;

 private:
  class Pending : public PendingPresenceCheck {
   public:
    explicit Pending(std::shared_ptr<Check> check) : check_(std::move(check)) {}
    ~Pending() override { check_->withdrawn = !check_->answered; }

   private:
    std::shared_ptr<Check> check_;
  };
};

}  // namespace liaison::daemon
