#include "ui/run_controller.h"

#include "core/error.h"
#include "core/image/decode.h"
#include "core/models/loader.h"
#include "core/session.h"

#include <QDir>
#include <QFileInfo>
#include <QPointer>
#include <QThread>

#include <utility>

namespace attnscope::ui {

struct RunController::Outcome {
    std::shared_ptr<const Model> model; // set when the job loaded one
    QString modelPath;
    QString requestedModel;             // the model the job was asked to load (loaded or not)
    std::optional<ImageRGB8> image;     // set when the job decoded one
    QString imageName;
    QString imagePath;                  // the file it was decoded from (empty for pixels)
    std::shared_ptr<RunResult> result;
    std::shared_ptr<RunResult> baseline; // the clean run beside an intervened one (no baseline yet)
    std::shared_ptr<Session> session;    // the session the run used (with the model it refers to)
    std::shared_ptr<const Model> sessionModel;
    Tensor input;
    QString error;
    bool cancelled = false;
};

namespace {
// Core names a file inside a model folder by its base name ("model.safetensors: …"), which says little
// in a window opened from anywhere: the message names the full path instead (issue 14, defect 9).
QString fullPathMessage(const Error& e, const QString& modelPath) {
    const QString file = QString::fromStdString(e.file());
    QString full = file;
    if (!file.isEmpty() && QFileInfo(file).isRelative() && !modelPath.isEmpty()) {
        const QFileInfo model(modelPath);
        if (model.isDir()) full = QDir(modelPath).filePath(file);
        else if (model.fileName() == file) full = model.absoluteFilePath();
        else full = model.dir().filePath(file); // a sidecar (config.json beside a checkpoint)
    }
    if (full == file) return QString::fromStdString(e.what());
    QString msg = full + ": ";
    if (!e.field().empty()) msg += QString::fromStdString(e.field()) + ": ";
    return msg + QString::fromStdString(e.detail());
}
} // namespace

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
    // Interventions apply to the document's model; a job that loads another model runs it clean.
    const Interventions iv = job.modelPath.isEmpty() ? doc_->interventions() : Interventions{};
    const bool needBaseline = !iv.empty() && (!doc_->baseline() || !job.imagePath.isEmpty() || job.image);
    QPointer<RunController> self(this);
    // The kept session, when this job runs the model it was made for (a job loading a model makes a new one).
    std::shared_ptr<Session> session = job.modelPath.isEmpty() && model && model == sessionModel_ ? session_ : nullptr;
    const QString modelPath = job.modelPath.isEmpty() ? doc_->modelPath() : job.modelPath; // for error messages
    thread_ = QThread::create([self, job = std::move(job), model, current = std::move(current), flag, modelPath, iv,
                               needBaseline, session]() mutable {
        auto out = std::make_shared<Outcome>();
        out->requestedModel = job.modelPath;
        try {
            if (!job.modelPath.isEmpty()) {
                out->model = std::shared_ptr<const Model>(load_model(job.modelPath.toStdString()));
                out->modelPath = job.modelPath;
                model = out->model;
            }
            if (!job.imagePath.isEmpty()) {
                out->image = decode_image_file(job.imagePath.toStdString());
                out->imagePath = job.imagePath;
            } else if (job.image) {
                out->image = std::move(job.image);
            }
            out->imageName = job.imageName;
            const ImageRGB8* img = out->image ? &*out->image : (current ? &*current : nullptr);
            if (model && img && !flag->load()) {
                if (!session) session = std::make_shared<Session>(*model);
                out->session = session, out->sessionModel = model;
                session->clear_interventions();
                if (needBaseline) out->baseline = std::make_shared<RunResult>(session->run(*img, RecordPolicy::All, flag.get()));
                if (!iv.empty()) session->set_interventions(iv); // validated: a head the model lacks is an error
                out->result = std::make_shared<RunResult>(session->run(*img, RecordPolicy::All, flag.get(), &out->input));
            }
            out->cancelled = flag->load() && !out->result;
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::Cancelled) out->cancelled = true;
            else out->error = fullPathMessage(e, modelPath);
        } catch (const std::exception& e) {
            out->error = QString::fromStdString(e.what());
        }
        if (self) QMetaObject::invokeMethod(self, [self, out] { if (self) self->deliver(out); }, Qt::QueuedConnection);
    });
    thread_->start();
    doc_->setRunState(Document::RunState::Running);
    emit busyChanged(true, what);
}

void RunController::deliver(const std::shared_ptr<Outcome>& out) {
    thread_->wait();
    delete thread_;
    thread_ = nullptr;
    const bool superseded = pending_.has_value();
    // What the job did finish (a loaded model, a decoded image) is kept even when the run was cancelled
    // because a follow-up superseded it (the follow-up runs with them). A user's Cancel (nothing
    // follows) keeps the last complete state instead, when there is one: applying the cancelled job's
    // model or image would clear that result and leave the views with nothing to show (issue 14, #5).
    const bool keepLast = out->cancelled && !superseded && doc_->result();
    if (out->error.isEmpty() && !keepLast) {
        if (out->model) {
            doc_->setModel(out->model, out->modelPath);
            emit modelLoaded(out->modelPath);
        }
        if (out->image) {
            doc_->setImage(std::move(*out->image), out->imageName);
            if (!out->imagePath.isEmpty()) emit imageLoaded(out->imagePath);
        }
        if (out->baseline) doc_->setBaseline(out->baseline);
        if (out->result) {
            std::shared_ptr<const RunResult> replaced = doc_->resultPtr();
            doc_->setResult(out->result, std::move(out->input));
            // Its maps back to the session for the next run, when nothing else holds the replaced result (a
            // view's worker still computing from it keeps it, and its maps, alive instead).
            if (replaced && replaced.use_count() == 1 && replaced.get() != out->result.get() && out->session)
                out->session->recycle(std::move(const_cast<RunResult&>(*replaced).attention));
        }
    }
    if (out->session && out->sessionModel == doc_->modelPtr()) { // keep it for the next run of this model
        session_ = out->session;
        sessionModel_ = out->sessionModel;
    } else if (doc_->modelPtr() != sessionModel_) { // another model: the old session (and its buffers) go
        session_.reset();
        sessionModel_.reset();
    }
    if (!out->error.isEmpty()) {
        // Reported now, even when a follow-up starts: a model that fails to load while an image waits
        // behind it (the normal launch, a drop of both) must reach the window (issue 14, #1).
        chainError_ = out->error;
        doc_->setRunState(Document::RunState::Failed, out->error);
        emit failed(out->error);
    }
    if (superseded) { // start the follow-up, no busy flicker
        Job next = std::move(*pending_);
        pending_.reset();
        // A model load interrupted by the follow-up's request is not lost: the follow-up loads it.
        if (out->cancelled && !out->model && !out->requestedModel.isEmpty() && next.modelPath.isEmpty())
            next.modelPath = out->requestedModel;
        start(std::move(next));
        return;
    }
    emit busyChanged(false, {});
    const QString chainError = std::exchange(chainError_, QString());
    if (!out->error.isEmpty()) return; // reported above
    if (out->cancelled) {
        doc_->setRunState(Document::RunState::Cancelled);
        emit cancelled();
    } else if (out->result) {
        doc_->setRunState(Document::RunState::Idle);
        emit finished(out->result->timings_ms.count("forward") ? out->result->timings_ms.at("forward") : 0.0);
    } else if (!chainError.isEmpty()) { // e.g. the model failed and the image behind it had none to run
        doc_->setRunState(Document::RunState::Failed, chainError);
    } else {
        doc_->setRunState(Document::RunState::Idle);
    }
}

} // namespace attnscope::ui
