// A test seam instead of test hooks in production classes: a Model that is another model, slowed down.
// forward() first waits `delay_ms`, polling the cancel flag every 5 ms (and throwing Error(Cancelled)
// as a real forward pass does between layers), then runs the inner model. Put it in the Document
// (Document::setModel) and the RunController and the folder job run it like any model.
#pragma once

#include "core/error.h"
#include "core/models/model.h"

#include <chrono>
#include <memory>
#include <thread>

namespace attnscope::testing {

class SlowModel final : public Model {
public:
    SlowModel(std::shared_ptr<const Model> inner, int delay_ms) : inner_(std::move(inner)), delay_ms_(delay_ms) {}
    const ModelInfo& info() const override { return inner_->info(); }
    const PreprocessSpec& preprocess() const override { return inner_->preprocess(); }
    void forward(const Tensor& input, AttentionRecorder& recorder, RunResult& result,
                 const CancelFlag* cancel = nullptr) const override {
        for (int waited = 0; waited < delay_ms_; waited += 5) {
            if (cancel && cancel->load()) throw Error(ErrorKind::Cancelled, "", "", "forward pass cancelled");
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        inner_->forward(input, recorder, result, cancel);
    }

private:
    std::shared_ptr<const Model> inner_;
    int delay_ms_;
};

} // namespace attnscope::testing
