#include "ui/views/compare_view.h"

#include "ui/export.h"
#include "ui/run_controller.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

namespace attnscope::ui {

CompareView::CompareView(CompareSession* session, QWidget* parent) : View(session->a(), parent), s_(session) {
    setObjectName("compareView");
    canvas_ = new CompareCanvas(s_, this);
    mode_ = new QComboBox(this);
    mode_->setObjectName("compareMode");
    mode_->addItems({tr("Attention map: A, B and A − B"), tr("Every head of the layer: A, B and A − B"),
                     tr("Mean distance and predictions")});
    mode_->setToolTip(tr("What to compare; the selection (site, layer, head, query) is the same on both sides"));
    sides_ = new QLabel(this);
    sides_->setObjectName("compareSides");
    sides_->setTextFormat(Qt::RichText);
    note_ = new QLabel(this);
    note_->setObjectName("compareNote");
    note_->setWordWrap(true);
    auto* exportButton = new QPushButton(tr("Export Figure…"), this);
    exportButton->setObjectName("compareExport");
    exportButton->setToolTip(tr("Save the comparison as one figure: PNG, SVG or PDF with a caption"));
    auto* leave = new QPushButton(tr("Leave Comparison"), this);
    leave->setObjectName("compareLeave");
    leave->setToolTip(tr("Close side B and restore the window"));
    auto* top = new QHBoxLayout;
    top->addWidget(sides_, 1);
    top->addWidget(mode_);
    top->addWidget(exportButton);
    top->addWidget(leave);
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(6, 6, 6, 6);
    lay->addLayout(top);
    lay->addWidget(note_);
    lay->addWidget(canvas_, 1);
    connect(mode_, &QComboBox::currentIndexChanged, this, [this](int i) { canvas_->setMode(CompareCanvas::Mode(i)); updateHeader(); });
    connect(exportButton, &QPushButton::clicked, this, &CompareView::exportRequested);
    connect(leave, &QPushButton::clicked, this, &CompareView::leaveRequested);
    connect(s_, &CompareSession::changed, this, &CompareView::updateHeader);
    for (Document* d : {s_->a(), s_->b()}) connect(d, &Document::modelChanged, this, &CompareView::updateHeader);
    updateHeader();
}

void CompareView::setMode(CompareCanvas::Mode m) { mode_->setCurrentIndex(int(m)); }

void CompareView::updateHeader() {
    auto side = [this](int i) {
        return QString("<span style='background:%1;color:white;font-weight:bold'>&nbsp;%2&nbsp;</span>&nbsp;%3")
            .arg(CompareSession::sideColour(i).name(), CompareSession::sideLetter(i), s_->sideSource(i).toHtmlEscaped());
    };
    const QString rest = tr("&nbsp;&nbsp;— the other views show A");
    sides_->setText(side(0) + "&nbsp;&nbsp;&nbsp;" + side(1) + rest);
    const QString why = canvas_->why();
    note_->setText(why.isEmpty() ? QString() : tr("Not comparable here: %1").arg(why));
    note_->setVisible(!why.isEmpty());
}

QString CompareView::caption() const {
    return tr("A: %1 · B: %2 · %3").arg(s_->sideSource(0), s_->sideSource(1), canvas_->title());
}

bool CompareView::busy() const { return s_->runnerB()->busy(); }

QString CompareView::exportFigure(const QString& path) {
    if (!s_->a()->result() || !s_->b()->result()) return tr("%1: nothing to export (side %2 has no result yet)").arg(path, s_->a()->result() ? "B" : "A");
    return exportView(canvas_, caption(), path);
}

} // namespace attnscope::ui
