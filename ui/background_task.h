// Work off the GUI thread for the analysis views — RunController's pattern, generalised: one job at
// a time on a QThread with an atomic cancel flag (core's CancelFlag); the job returns a closure that
// runs back on the GUI thread. A new request cancels the running job and runs after it (latest
// wins: a superseded job's closure is dropped). cancel() lets the running job see the flag and
// still delivers what it returns (e.g. the images averaged so far). The destructor cancels and waits.
#pragma once

#include "core/models/model.h"

#include <QObject>
#include <QString>

#include <functional>
#include <memory>
#include <optional>

class QThread;

namespace attnscope::ui {

class BackgroundTask : public QObject {
    Q_OBJECT
public:
    struct Job {
        const CancelFlag& cancel;
        std::function<void(int done, int total)> progress; // callable from the worker; posts progress()
    };
    using Deliver = std::function<void()>;              // runs on the GUI thread
    using Work = std::function<Deliver(const Job&)>;    // runs on the worker; may throw (→ failed)

    explicit BackgroundTask(QObject* parent = nullptr);
    ~BackgroundTask() override;

    void start(Work work);
    void cancel();
    bool busy() const { return thread_ != nullptr; }

signals:
    void busyChanged(bool busy);
    void progress(int done, int total);
    void failed(const QString& message);

private:
    struct Outcome;
    void launch(Work work);
    void finish(const std::shared_ptr<Outcome>& out);

    QThread* thread_ = nullptr;
    std::shared_ptr<CancelFlag> cancel_;
    bool superseded_ = false;
    std::optional<Work> pending_;
};

} // namespace attnscope::ui
