#include "ui/run_controller.h"

#include "core/error.h"
#include "core/image/decode.h"
#include "core/models/loader.h"
#include "core/session.h"

#include <QFileInfo>
#include <QPointer>
#include <QThread>

namespace attnscope::ui {

struct RunController::Outcome {
    std::shared_ptr<const Model> model; // set when the job loaded one
    QString modelPath;
    std::optional<ImageRGB8> image;     // set when the job decoded one
    QString imageName;
    std::shared_ptr<RunResult> result;
    Tensor input;
    QString error;
    bool cancelled = false;
};

RunController::RunController(Document* doc, QObject* parent) : QObject(parent), doc_(doc) {}

RunController::~RunController() {
    pending_.reset();
    if (cancel_) cancel_->store(true);
    if (thread_) {
        thread_->wait();
        delete thread_;
    }
}

void RunController::openModel(const QString& path) { submit({path, {}, {}, {}}); }
void RunController::openImageFile(const QString& path) { submit({{}, path, {}, QFileInfo(path).fileName()}); }
void RunController::openImage(ImageRGB8 image, const QString& name) { submit({{}, {}, std::move(image), name}); }
void RunController::rerun() { submit({}); }

void RunController::cancel() {
    pending_.reset();
    if (cancel_) cancel_->store(true);
}

void RunController::submit(Job job) {
    if (!thread_) return start(std::move(job));
    // Latest request wins; a model and an image asked for back to back are merged.
    if (pending_) {
        if (job.modelPath.isEmpty()) job.modelPath = pending_->modelPath;
        if (job.imagePath.isEmpty() && !job.image) {
            job.imagePath = pending_->imagePath;
            job.image = std::move(pending_->image);
            job.imageName = pending_->imageName;
        }
    }
    pending_ = std::move(job);
    cancel_->store(true);
}

void RunController::start(Job job) {
    cancel_ = std::make_shared<CancelFlag>(false);
    auto flag = cancel_;
    std::shared_ptr<const Model> model = doc_->modelPtr();
    std::optional<ImageRGB8> current;
    if (doc_->hasImage() && job.imagePath.isEmpty() && !job.image) current = doc_->image();
    const QString what = !job.modelPath.isEmpty() ? tr("Loading %1…").arg(QFileInfo(job.modelPath).fileName())
                                                   : tr("Running…");
    QPointer<RunController> self(this);
    thread_ = QThread::create([self, job = std::move(job), model, current = std::move(current), flag]() mutable {
        auto out = std::make_shared<Outcome>();
        try {
            if (!job.modelPath.isEmpty()) {
                out->model = std::shared_ptr<const Model>(load_model(job.modelPath.toStdString()));
                out->modelPath = job.modelPath;
                model = out->model;
            }
            if (!job.imagePath.isEmpty()) out->image = decode_image_file(job.imagePath.toStdString());
            else if (job.image) out->image = std::move(job.image);
            out->imageName = job.imageName;
            const ImageRGB8* img = out->image ? &*out->image : (current ? &*current : nullptr);
            if (model && img && !flag->load())
                out->result = std::make_shared<RunResult>(Session(*model).run(*img, RecordPolicy::All, flag.get(), &out->input));
            out->cancelled = flag->load() && !out->result;
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::Cancelled) out->cancelled = true;
            else out->error = QString::fromStdString(e.what());
        } catch (const std::exception& e) {
            out->error = QString::fromStdString(e.what());
        }
        if (self) QMetaObject::invokeMethod(self, [self, out] { if (self) self->deliver(out); }, Qt::QueuedConnection);
    });
    thread_->start();
    emit busyChanged(true, what);
}

void RunController::deliver(const std::shared_ptr<Outcome>& out) {
    thread_->wait();
    delete thread_;
    thread_ = nullptr;
    // What the job did finish (a loaded model, a decoded image) is kept even when the run was cancelled.
    if (out->error.isEmpty()) {
        if (out->model) {
            doc_->setModel(out->model, out->modelPath);
            emit modelLoaded(out->modelPath);
        }
        if (out->image) doc_->setImage(std::move(*out->image), out->imageName);
        if (out->result) doc_->setResult(out->result, std::move(out->input));
    }
    if (pending_) { // superseded: start the follow-up, no busy flicker
        Job next = std::move(*pending_);
        pending_.reset();
        start(std::move(next));
        return;
    }
    emit busyChanged(false, {});
    if (!out->error.isEmpty()) emit failed(out->error);
    else if (out->cancelled) emit cancelled();
    else if (out->result) emit finished(out->result->timings_ms.count("forward") ? out->result->timings_ms.at("forward") : 0.0);
}

} // namespace attnscope::ui
