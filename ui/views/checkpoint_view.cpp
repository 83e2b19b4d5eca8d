#include "ui/views/checkpoint_view.h"

#include <QHBoxLayout>
#include <QVBoxLayout>

namespace attnscope::ui {

CheckpointView::CheckpointView(Document* doc, QWidget* parent, Texts texts)
    : View(doc, parent), texts_(std::move(texts)), task_(new BackgroundTask(this)) {
    connect(task_, &BackgroundTask::failed, this, [this](const QString& m) { showMessage(texts_.failed.arg(m)); });
    connect(doc_, &Document::modelChanged, this, [this] {
        loadedFor_.clear();
        invalidate();
    });
}

void CheckpointView::place(const QList<QWidget*>& controls, QWidget* canvas) {
    auto* bar = new QWidget(this);
    auto* row = new QHBoxLayout(bar);
    row->setContentsMargins(6, 4, 6, 0);
    for (QWidget* w : controls) row->addWidget(w);
    row->addStretch(1);
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    lay->setSpacing(2);
    lay->addWidget(bar);
    lay->addWidget(canvas, 1);
}

bool CheckpointView::busy() const { return task_ && task_->busy(); }

void CheckpointView::stopWork() {
    delete task_; // its destructor cancels and waits for the running job
    task_ = nullptr;
}

void CheckpointView::refresh() {
    if (!task_) return; // being destroyed
    const Model* m = doc_->model();
    if (!m) {
        loadedFor_.clear();
        return showMessage(texts_.noModel);
    }
    const std::string source = m->info().source;
    if (loadedFor_ == QString::fromStdString(source)) return;
    if (m->info().task == Task::Detect) {
        loadedFor_ = QString::fromStdString(source);
        return showMessage(texts_.detr);
    }
    const QString family = family_name(m->info().family);
    showMessage(texts_.working);
    // The tensors the loaded model holds (a copy the worker owns), never a second read of the file.
    task_->start([this, source, family, pe = m->patch_embedding()](const BackgroundTask::Job&) -> BackgroundTask::Deliver {
        BackgroundTask::Deliver show = compute(pe, family);
        return [this, show = std::move(show), source] {
            loadedFor_ = QString::fromStdString(source);
            show();
        };
    });
}

} // namespace attnscope::ui
