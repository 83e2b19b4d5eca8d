// The toolbar that edits the Document's selection (site, layer, head or fusion, query) and display
// options (colormap, opacity, grid, smoothing). It only writes to the Document and mirrors it back.
#pragma once

#include "ui/document.h"

#include <QToolBar>

class QCheckBox;
class QComboBox;
class QSlider;
class QSpinBox;
class QToolButton;

namespace attnscope::ui {

class SelectionBar : public QToolBar {
    Q_OBJECT
public:
    explicit SelectionBar(Document* doc, QWidget* parent = nullptr);

private:
    void syncFromDocument();
    void pushSelection();
    void pushDisplay();

    Document* doc_;
    QComboBox* site_;
    QSpinBox* layer_;
    QComboBox* head_;
    QSpinBox* query_;
    QToolButton* cls_; // query 0 = CLS; disabled (saying why) for models without one (SigLIP, DETR)
    QComboBox* colormap_;
    QSlider* opacity_;
    QCheckBox* grid_;
    QCheckBox* smooth_;
    QCheckBox* fade_;
};

} // namespace attnscope::ui
