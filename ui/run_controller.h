// Model loading and inference off the GUI thread. One job at a time on a QThread; the job gets an
// atomic cancel flag (core's CancelFlag) and posts its outcome back to this object (the context),
// which updates the Document. A request made while busy cancels the running job and follows it.
#pragma once

#include "core/models/model.h"
#include "ui/document.h"

#include <QElapsedTimer>
#include <QObject>
#include <QString>

#include <memory>
#include <optional>

class QThread;

namespace attnscope {
class Session;
}

namespace attnscope::ui {

class RunController : public QObject {
    Q_OBJECT
public:
    explicit RunController(Document* doc, QObject* parent = nullptr);
    ~RunController() override; // cancels and waits for the worker

    void openModel(const QString& path);          // load, then run when an image is present
    void openImageFile(const QString& path);      // decode, then run when a model is present
    void openImage(ImageRGB8 image, const QString& name); // e.g. pasted pixels
    void rerun();
    void cancel();
    bool busy() const { return thread_ != nullptr; }

signals:
    void busyChanged(bool busy, const QString& what);
    void failed(const QString& message);
    void finished(double forwardMs);  // a run completed and the document holds its result
    void modelLoaded(const QString& path);  // after success only (Recent files)
    void imageLoaded(const QString& path);  // an image file decoded (not for pasted pixels)
    void cancelled();

private:
    struct Job {
        QString modelPath;                 // non-empty: load this model
        QString imagePath;                 // non-empty: decode this image file
        std::optional<ImageRGB8> image;    // or use these pixels
        QString imageName;
    };
    struct Outcome;
    void submit(Job job);
    void start(Job job);
    void deliver(const std::shared_ptr<Outcome>& out);

    Document* doc_;
    QThread* thread_ = nullptr;
    std::shared_ptr<CancelFlag> cancel_;
    std::optional<Job> pending_;
    QString chainError_; // a failure earlier in a chain of superseded jobs, for the final run state
    // One Session per model, kept across runs (as `bench` and run_batch do): its recorder's buffers are
    // reused, and the maps of a result the document replaced (held by no one else) are handed back to it,
    // so a rerun writes into memory already faulted in. Used by one job at a time (the worker), or here
    // between jobs; sessionModel_ keeps the model it refers to alive.
    std::shared_ptr<Session> session_;
    std::shared_ptr<const Model> sessionModel_;
};

} // namespace attnscope::ui
