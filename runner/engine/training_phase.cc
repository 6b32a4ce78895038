// Mode "train": the controller's share of a session with a person in the loop. Each tick
// it takes what the trainee did (acknowledge, hint, note, declare, give up), pages once,
// and shows the hints whose moment has come; the rest of the phase runs as in `run`, with
// the differences FaultPhase makes (a random first moment, no remediation, no durations).
#include "runner/engine/run.h"

namespace firedrill::engine_detail {

// REQUIRES: mu_ held.
void Run::ShowHint(size_t i, int64_t t, bool asked) {
  const Hint& h = drill_.recovery.hints[i];
  rec_.training->hints.push_back({t, i, asked});
  timeline_.AddAt(t, "hint", fmt::format("{}/{}", i + 1, drill_.recovery.hints.size()),
                  (asked ? "asked for: " : "after " + FormatDuration(h.after) + ": ") + h.text);
}

// REQUIRES: mu_ held.
std::string Run::FailingChecks() const {
  std::string out;
  for (const auto& c : rec_.steady) {
    if (!c.samples.empty() && c.samples.back().passed) continue;
    out += (out.empty() ? "" : ", ") + c.name + (c.samples.empty() ? " (not sampled yet)" : "");
  }
  return out;
}

Result<std::string> Run::ControlService(const std::string& verb, const std::string& name) {
  // Stopping a service there takes its stop_grace; the rest is one round trip.
  const Millis timeout = drill_.settings.stop_grace + Millis(30000);
  auto on_host = [&](const std::string& host, const std::string& service) -> Result<std::string> {
    if (!hosts_) return Status::Failed("host " + host + " is not connected");
    auto r = hosts_->Call(host, {{"op", "control"}, {"verb", verb}, {"service", service}}, timeout);
    if (!r.ok()) return r.status().Annotate("on host " + host);
    return "on host " + host + ": " + r->value("detail", std::string());
  };
  if (verb == "status" && name == "*") {
    auto here = services_->Control(verb, name, drill_.settings.stop_grace);
    std::string all = here.ok() && *here != "no services" ? *here : "";
    std::set<std::string> hosts;
    for (const auto& svc : drill_.services) {
      if (!svc.host.empty()) hosts.insert(svc.host);
    }
    for (const auto& h : hosts) {
      auto r = on_host(h, "*");
      all += (all.empty() ? "" : "; ") + (r.ok() ? *r : r.status().message());
    }
    return all.empty() ? std::string("no services") : all;
  }
  for (const auto& svc : drill_.services) {
    if (svc.name == name && !svc.host.empty()) return on_host(svc.host, name);
  }
  auto r = services_->Control(verb, name, drill_.settings.stop_grace);
  if (!r.ok() && r.status().code() == Status::Code::kNotFound) {
    std::string names;
    for (const auto& svc : drill_.services) {
      names += (names.empty() ? "" : ", ") + svc.name +
               (svc.host.empty() ? "" : " (on " + svc.host + ")");
    }
    return Status::NotFound("no service '" + name + "' (this drill's: " + names + ")");
  }
  return r;
}

bool Run::TrainTick(int64_t now) {
  std::vector<TraineeAction> actions = options_.training->desk->Take();
  // Service requests first, outside mu_: stopping one may take its whole stop_grace, and
  // the samplers must go on recording meanwhile.
  for (auto it = actions.begin(); it != actions.end();) {
    if (it->kind != TraineeAction::Kind::kService) {
      ++it;
      continue;
    }
    auto r = ControlService(it->text, it->service);
    const std::string answer = r.ok() ? "ok: " + *r : "error: " + r.status().message();
    if (it->text != "status") {
      timeline_.Add("trainee.ctl", it->service, it->text + ": " + answer);
    }
    if (it->reply) it->reply->set_value(answer);
    it = actions.erase(it);
  }
  std::lock_guard<std::mutex> l(mu_);
  TrainingRecord& tr = *rec_.training;
  const std::optional<int64_t> first = rec_.first_fault_ms;

  // The page: the first detection watch that passed, as the alert it is; with none in the
  // drill, the fault itself once it is in place.
  // A drill whose alerts all stay silent past their `within` still pages, then: what a
  // user's complaint would do, with the monitoring's failure said.
  if (!tr.paged_at_ms) {
    bool has_detection = false;
    int64_t latest_within = 0;
    for (const auto& w : rec_.watches) {
      if (w.kind != "detection") continue;
      has_detection = true;
      latest_within = std::max(latest_within, w.within_ms);
      if (w.passed_at_ms && (!tr.paged_at_ms || *w.passed_at_ms < *tr.paged_at_ms)) {
        tr.paged_at_ms = w.passed_at_ms;
        tr.page_source = w.name;
        tr.page_detail = OneLine(w.last_detail, 300);
      }
    }
    if (!has_detection && first) {
      tr.paged_at_ms = first;
      tr.page_source = "fault";
      tr.page_detail = "the system is failing: its steady state no longer holds";
    } else if (!tr.paged_at_ms && first && now > *first + latest_within) {
      tr.paged_at_ms = now;
      tr.page_source = "fault";
      tr.page_detail = "no alert fired within " + FormatDuration(Millis(latest_within)) +
                       ": a user reports the system failing";
    }
    if (tr.paged_at_ms) {
      timeline_.AddAt(std::max(*tr.paged_at_ms, first.value_or(0)), "page", tr.page_source,
                      tr.page_detail);
    }
  }

  // Hints at their moment, in order, each once.
  if (first) {
    for (size_t i = 0; i < drill_.recovery.hints.size(); ++i) {
      bool shown = false;
      for (const auto& h : tr.hints) shown = shown || h.index == i;
      if (!shown && now >= *first + drill_.recovery.hints[i].after.count()) {
        ShowHint(i, *first + drill_.recovery.hints[i].after.count(), false);
      }
    }
  }

  for (const TraineeAction& a : actions) {
    const int64_t t = timeline_.Now();
    switch (a.kind) {
      case TraineeAction::Kind::kAcknowledge:
        if (!tr.paged_at_ms) {
          timeline_.AddAt(t, "trainee.ignored", "acknowledge", "there is no page to acknowledge");
        } else if (!rec_.acknowledged_at_ms) {
          rec_.acknowledged_at_ms = t;
          timeline_.AddAt(
              t, "trainee.acknowledged", tr.trainee,
              "after " + FormatDuration(Millis(t - *tr.paged_at_ms)) + " from the page");
        }
        break;
      case TraineeAction::Kind::kHint: {
        // The next hint not shown yet, whatever its `after`.
        size_t next = drill_.recovery.hints.size();
        for (size_t i = 0; i < drill_.recovery.hints.size() && next == drill_.recovery.hints.size();
             ++i) {
          bool shown = false;
          for (const auto& h : tr.hints) shown = shown || h.index == i;
          if (!shown) next = i;
        }
        if (!first) {
          timeline_.AddAt(t, "trainee.ignored", "hint", "nothing has happened yet");
        } else if (next == drill_.recovery.hints.size()) {
          timeline_.AddAt(t, "trainee.ignored", "hint",
                          drill_.recovery.hints.empty() ? "this drill has no hints"
                                                        : "every hint is shown already");
        } else {
          ShowHint(next, t, true);
        }
        break;
      }
      case TraineeAction::Kind::kNote:
        if (a.text.empty()) break;
        tr.notes.push_back({t, a.text});
        timeline_.AddAt(t, "trainee.note", tr.trainee, OneLine(a.text, 500));
        break;
      case TraineeAction::Kind::kDeclare: {
        if (!first) {
          timeline_.AddAt(t, "trainee.ignored", "declare", "nothing has happened yet");
          break;
        }
        const std::string failing = FailingChecks();
        if (failing.empty()) {
          ++tr.declarations_true;
          timeline_.AddAt(t, "trainee.declared", "fixed",
                          "every steady-state check passes; recovered once they hold for " +
                              FormatDuration(drill_.recovery.steady_for));
        } else {
          ++tr.declarations_false;
          timeline_.AddAt(t, "trainee.declared", "not fixed", "still failing: " + failing);
        }
        break;
      }
      case TraineeAction::Kind::kRunbook:
        // Opening the runbook is part of the response a game master reviews.
        timeline_.AddAt(t, "trainee.runbook", tr.trainee, "opened the runbook");
        break;
      case TraineeAction::Kind::kService:
        break;  // handled above
      case TraineeAction::Kind::kGiveUp:
        tr.gave_up = true;
        rec_.aborted = true;
        rec_.abort_reason = "the trainee gave up";
        timeline_.AddAt(t, "abort", "trainee", "gave up; everything is rolled back");
        return true;
    }
  }
  return false;
}

}  // namespace firedrill::engine_detail
