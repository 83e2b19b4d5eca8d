// A view computed from the model's weights rather than from a run: the position-embedding grid and
// the filter PCA, from Model::patch_embedding(), computed off the GUI thread once per model (again only
// when another model is opened, never on a new image or run); DETR, which has neither, gets a message.
#pragma once

#include "ui/background_task.h"
#include "ui/views/view.h"

#include <QList>

namespace attnscope::ui {

class CheckpointView : public View {
    Q_OBJECT
public:
    bool busy() const override;

protected:
    struct Texts {
        QString noModel;  // the empty state
        QString detr;     // a DETR model: nothing of this kind to show
        QString working;  // while the worker reads
        QString failed;   // %1: the error
    };
    CheckpointView(Document* doc, QWidget* parent, Texts texts);
    // Lays out a row of `controls` above `canvas` (the constructor's last step, before invalidate()).
    void place(const QList<QWidget*>& controls, QWidget* canvas);
    // The canvas's message line (empty states, progress, errors).
    virtual void showMessage(const QString& text) = 0;
    // Runs on the worker: computes from the loaded model's embeddings and returns what shows it (GUI thread).
    virtual BackgroundTask::Deliver compute(const PatchEmbedding& pe, const QString& family) const = 0;
    void refresh() final;
    // Cancels and waits for the worker. Every subclass calls it first in its destructor: the worker calls
    // compute(), a virtual of the subclass, so it must end while the object is still whole (UBSan's vptr
    // check caught a worker running compute() on a half-destroyed view).
    void stopWork();

private:
    Texts texts_;
    BackgroundTask* task_;
    QString loadedFor_; // weights path of what is shown
};

} // namespace attnscope::ui
