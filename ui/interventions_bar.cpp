#include "ui/interventions_bar.h"

#include "ui/run_controller.h"

#include <QAction>
#include <QComboBox>
#include <QLabel>
#include <QMenu>

#include <algorithm>
#include <map>

namespace attnscope::ui {

InterventionsBar::InterventionsBar(Document* doc, RunController* runner, QWidget* parent)
    : QToolBar(tr("Interventions"), parent), doc_(doc), runner_(runner) {
    setObjectName("interventionsBar");
    setMovable(false);
    auto* title = new QLabel(tr("<b>Interventions</b>&nbsp;"), this);
    label_ = new QLabel(this);
    label_->setObjectName("interventionsLabel");
    label_->setTextFormat(Qt::PlainText);
    mode_ = new QComboBox(this);
    mode_->setObjectName("ablationMode");
    mode_->addItem(tr("zero-ablate"), int(AblationMode::Zero));
    mode_->addItem(tr("mean-ablate"), int(AblationMode::Mean));
    mode_->setToolTip(tr("Zero: a switched-off head's output (attention-weighted values, before the output projection) is 0 "
                         "for every token. Mean: replaced by its mean over the tokens."));
    undo_ = new QAction(tr("&Undo Intervention"), this);
    undo_->setObjectName("actionUndoIntervention");
    undo_->setShortcut(QKeySequence::Undo);
    undo_->setToolTip(tr("Undo the last change of the switched-off heads (Ctrl+Z)"));
    clear_ = new QAction(tr("C&lear Interventions"), this);
    clear_->setObjectName("actionClearInterventions");
    clear_->setToolTip(tr("Switch every head back on and unmask every patch"));
    addWidget(title);
    addWidget(label_);
    addSeparator();
    addWidget(mode_);
    addAction(undo_);
    addAction(clear_);
    connect(undo_, &QAction::triggered, this, &InterventionsBar::undo);
    connect(clear_, &QAction::triggered, this, [this] { doc_->setInterventions({}); });
    connect(mode_, &QComboBox::currentIndexChanged, this, [this] {
        Interventions iv = doc_->interventions();
        iv.mode = AblationMode(mode_->currentData().toInt());
        doc_->setInterventions(iv);
    });
    connect(doc_, &Document::interventionsChanged, this, &InterventionsBar::changed);
    connect(doc_, &Document::modelChanged, this, [this] { history_.clear(); last_ = doc_->interventions(); refresh(); });
    refresh();
}

void InterventionsBar::addActionsTo(QMenu* menu) {
    menu->addSeparator();
    menu->addAction(undo_);
    menu->addAction(clear_);
}

void InterventionsBar::setHeadAblated(Document* doc, const HeadRef& head, bool on) {
    Interventions iv = doc->interventions();
    iv.set_ablated(head, on);
    doc->setInterventions(iv);
}

void InterventionsBar::addHeadActions(QMenu* menu, Document* doc, const HeadRef& head) {
    const bool off = doc->interventions().is_ablated(head);
    const QString site = head.site == Site::Encoder ? QString() : siteTitle(head.site) + " ";
    QAction* toggle = menu->addAction(off ? tr("Restore %1layer %2 head %3").arg(site).arg(head.layer).arg(head.head)
                                          : tr("Switch off %1layer %2 head %3 (ablate)").arg(site).arg(head.layer).arg(head.head));
    toggle->setObjectName("actionToggleHead");
    QAction* all = menu->addAction(tr("Restore every head"));
    all->setObjectName("actionRestoreAllHeads");
    all->setEnabled(!doc->interventions().ablated.empty());
    QObject::connect(toggle, &QAction::triggered, doc, [doc, head, off] { setHeadAblated(doc, head, !off); });
    QObject::connect(all, &QAction::triggered, doc, [doc] {
        Interventions iv = doc->interventions();
        iv.ablated.clear();
        doc->setInterventions(iv);
    });
}

void InterventionsBar::changed() {
    if (!undoing_) history_.push_back(last_);
    last_ = doc_->interventions();
    refresh();
    if (doc_->model() && doc_->hasImage()) runner_->rerun(); // every view re-renders from the new run
}

void InterventionsBar::undo() {
    if (history_.empty()) return;
    Interventions previous = history_.back();
    history_.pop_back();
    undoing_ = true;
    doc_->setInterventions(previous);
    undoing_ = false;
}

QString InterventionsBar::text() const { return label_->text(); }

void InterventionsBar::refresh() {
    const Interventions& iv = doc_->interventions();
    // "switched off: encoder L3 H1, H2 · L5 H0 · 4 patches masked (set to 0 in the normalised input)"
    std::map<std::pair<int, int>, std::vector<int>> bySiteLayer;
    for (const HeadRef& h : iv.ablated) bySiteLayer[{int(h.site), h.layer}].push_back(h.head);
    QStringList parts;
    for (auto& [key, heads] : bySiteLayer) {
        std::sort(heads.begin(), heads.end());
        QStringList hs;
        for (int h : heads) hs << QString("H%1").arg(h);
        const Site site = Site(key.first);
        parts << QString("%1L%2 %3").arg(site == Site::Encoder ? QString() : siteTitle(site) + " ").arg(key.second).arg(hs.join(", "));
    }
    QString text = parts.isEmpty() ? tr("no head switched off") : tr("switched off: %1").arg(parts.join(" · "));
    if (!iv.masked_patches.empty())
        text += (iv.masked_patches.size() == 1 ? tr(" · 1 patch masked (set to 0 in the normalised input)")
                                               : tr(" · %1 patches masked (set to 0 in the normalised input)").arg(iv.masked_patches.size()));
    label_->setText(text + "  ");
    {
        const QSignalBlocker block(mode_);
        mode_->setCurrentIndex(mode_->findData(int(iv.mode)));
    }
    undo_->setEnabled(!history_.empty());
    clear_->setEnabled(!iv.empty());
    setVisible(!iv.empty() || !history_.empty());
}

} // namespace attnscope::ui
