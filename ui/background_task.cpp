#include "ui/background_task.h"

#include <QThread>

#include <exception>

namespace attnscope::ui {

struct BackgroundTask::Outcome {
    Deliver deliver;
    QString error;
};

BackgroundTask::BackgroundTask(QObject* parent) : QObject(parent) {}

BackgroundTask::~BackgroundTask() {
    pending_.reset();
    if (cancel_) cancel_->store(true);
    if (thread_) {
        thread_->wait();
        delete thread_;
    }
}

void BackgroundTask::start(Work work) {
    if (!thread_) return launch(std::move(work));
    pending_ = std::move(work);
    superseded_ = true;
    cancel_->store(true);
}

void BackgroundTask::cancel() {
    pending_.reset();
    if (cancel_) cancel_->store(true);
}

void BackgroundTask::launch(Work work) {
    cancel_ = std::make_shared<CancelFlag>(false);
    superseded_ = false;
    auto flag = cancel_;
    thread_ = QThread::create([this, work = std::move(work), flag] {
        auto out = std::make_shared<Outcome>();
        const Job job{*flag, [this](int done, int total) {
                          QMetaObject::invokeMethod(this, [this, done, total] { emit progress(done, total); }, Qt::QueuedConnection);
                      }};
        try {
            out->deliver = work(job);
        } catch (const std::exception& e) {
            out->error = QString::fromStdString(e.what());
        }
        // This object outlives the thread (the destructor waits), so posting to it is safe.
        QMetaObject::invokeMethod(this, [this, out] { finish(out); }, Qt::QueuedConnection);
    });
    thread_->start();
    emit busyChanged(true);
}

void BackgroundTask::finish(const std::shared_ptr<Outcome>& out) {
    thread_->wait();
    delete thread_;
    thread_ = nullptr;
    const bool superseded = superseded_;
    if (pending_) {
        Work next = std::move(*pending_);
        pending_.reset();
        launch(std::move(next));
    }
    if (!superseded) {
        if (!out->error.isEmpty()) emit failed(out->error);
        else if (out->deliver) out->deliver();
    }
    if (!thread_) emit busyChanged(false);
}

} // namespace attnscope::ui
