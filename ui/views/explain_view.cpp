#include "ui/views/explain_view.h"

#include "core/error.h"
#include "ui/background_task.h"
#include "ui/detr_state.h"
#include "ui/settings.h"
#include "ui/views/map_paint.h"

#include <QComboBox>
#include <QCompleter>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QStringListModel>
#include <QVBoxLayout>

#include <algorithm>
#include <set>

namespace attnscope::ui {

namespace ex = attnscope::explain;

namespace {

struct MethodText {
    ex::Method method;
    const char* title; // panel titles and captions
    const char* menu;  // the picker
    const char* tip;
};
const MethodText kMethods[] = {
    {ex::Method::Chefer2, "Chefer 2021", "Chefer 2021 — gradient × attention, all blocks",
     "Chefer, Gur, Wolf 2021 (ICCV): R ← R + mean over heads of (∂y/∂A ⊙ A)⁺ · R through every block; the CLS row "
     "over the patches. Class-specific. DETR: the encoder-decoder rules of Chefer 2021b, the detection's row over the "
     "feature grid."},
    {ex::Method::GradCam, "Grad-CAM", "Grad-CAM — last block",
     "Grad-CAM on the last block's pre-attention LayerNorm output (pytorch-grad-cam's ViT recipe): channel weights = "
     "mean gradient, map = ReLU(Σ w·A). Class-specific. DETR: as Chefer et al.'s DETR code, the last decoder layer's "
     "cross-attention weighted per head by its mean gradient."},
    {ex::Method::GradRollout, "Gradient rollout", "Gradient rollout",
     "vit-explain's gradient rollout (its two bugs fixed): each layer's attention weighted by its own gradient, "
     "negatives dropped, rolled out with the rollout view's discard ratio. Class-specific. Not defined for DETR."},
    {ex::Method::Rollout, "Attention rollout", "Attention rollout — not class-specific",
     "Abnar & Zuidema 2020: the CLS row of (½A + ½I) multiplied through the layers, with the rollout view's discard "
     "ratio. The same map for every class: a baseline. DETR: encoder and decoder rollouts joined through the last "
     "cross-attention (Chefer et al.'s baseline), no discard."},
    {ex::Method::Attention, "Last-layer attention", "Last-layer attention — not class-specific",
     "The last block's CLS row, mean of the heads. The same map for every class: a baseline. DETR: the detection's "
     "row of the last decoder layer's cross-attention."},
};

const MethodText& textOf(ex::Method m) {
    for (const MethodText& t : kMethods)
        if (t.method == m) return t;
    return kMethods[0];
}

void fillMethods(QComboBox* box, int current) {
    for (const MethodText& t : kMethods) {
        box->addItem(QObject::tr(t.menu), QString(ex::method_name(t.method)));
        box->setItemData(box->count() - 1, QObject::tr(t.tip), Qt::ToolTipRole);
    }
    box->setCurrentIndex(current);
}

ex::Method methodOf(const QComboBox* box) {
    ex::Method m = ex::Method::Chefer2;
    ex::method_from_name(box->currentData().toString().toStdString(), m);
    return m;
}

} // namespace

ExplainView::ExplainView(Document* doc, QWidget* parent) : View(doc, parent) {
    setObjectName("explainView");
    auto* controls = new QWidget(this);
    controls->setObjectName("explainControls");
    auto* row = new QHBoxLayout(controls);
    row->setContentsMargins(6, 4, 6, 0);
    method_ = new QComboBox(controls);
    method_->setObjectName("explainMethod");
    fillMethods(method_, 0);
    method_->setToolTip(tr("How relevance is computed. Class-specific methods need the backward pass; rollout and "
                           "last-layer attention are the same for every class (baselines)."));
    compare_ = new QComboBox(controls);
    compare_->setObjectName("explainCompare");
    compare_->addItems({tr("Nothing"), tr("Another method"), tr("Another class")});
    compare_->setToolTip(tr("Side by side: the same class by a second method, or a second class by the same method"));
    method2_ = new QComboBox(controls);
    method2_->setObjectName("explainMethod2");
    fillMethods(method2_, 3);
    method2_->setToolTip(tr("The method of the right-hand map"));
    detrTargetBox_ = new QWidget(controls);
    auto* detrRow = new QHBoxLayout(detrTargetBox_);
    detrRow->setContentsMargins(10, 0, 0, 0);
    detrTarget_ = new QComboBox(detrTargetBox_);
    detrTarget_->setObjectName("explainDetrTarget");
    detrTarget_->addItem(tr("Class logit"), -1);
    detrTarget_->addItem(tr("Box cx (centre x)"), 0);
    detrTarget_->addItem(tr("Box cy (centre y)"), 1);
    detrTarget_->addItem(tr("Box w (width)"), 2);
    detrTarget_->addItem(tr("Box h (height)"), 3);
    detrTarget_->setToolTip(tr("What of the selected detection is explained: its class logit (pre-softmax; the default), "
                               "or one coordinate of its predicted box — centre x, centre y, width or height, fractions of "
                               "the input after the sigmoid — i.e. which pixels placed or sized the box. Chefer 2021 and "
                               "Grad-CAM follow the choice; rollout and last-layer attention are the same for every target. "
                               "Compared with another class, the right-hand map is that class's logit."));
    detrRow->addWidget(new QLabel(tr("Explain"), detrTargetBox_));
    detrRow->addWidget(detrTarget_);
    target2_ = new QLineEdit(controls);
    target2_->setObjectName("explainTarget2");
    target2_->setPlaceholderText(tr("next prediction"));
    target2_->setToolTip(tr("The class of the right-hand map: a class index or a name, then Enter (empty: the next prediction)"));
    target2_->setMaximumWidth(200);
    row->addWidget(new QLabel(tr("Method"), controls));
    row->addWidget(method_, 1);
    row->addWidget(detrTargetBox_);
    row->addSpacing(10);
    row->addWidget(new QLabel(tr("Compare with"), controls));
    row->addWidget(compare_);
    row->addWidget(method2_, 1);
    row->addWidget(target2_, 1);

    auto* side = new QWidget(this);
    side->setObjectName("explainSide");
    side->setMaximumWidth(250);
    auto* col = new QVBoxLayout(side);
    col->setContentsMargins(6, 4, 0, 4);
    auto* heading = new QLabel(tr("Class to explain"), side);
    QFont bold = heading->font();
    bold.setBold(true);
    heading->setFont(bold);
    predictions_ = new QListWidget(side);
    predictions_->setObjectName("explainPredictions");
    predictions_->setToolTip(tr("The model's top predictions: click one (or ↑/↓) to explain it; the choice is shared with "
                                "the Predictions view"));
    target_ = new QLineEdit(side);
    target_->setObjectName("explainTarget");
    target_->setPlaceholderText(tr("Any class: index or name, Enter"));
    target_->setClearButtonEnabled(true);
    target_->setToolTip(tr("Explain any class of the model, not only the top ones: type its index (e.g. 282) or part "
                           "of its name (e.g. tiger cat) and press Enter"));
    targetNote_ = new QLabel(side);
    targetNote_->setObjectName("explainTargetNote");
    targetNote_->setWordWrap(true);
    col->addWidget(heading);
    col->addWidget(predictions_, 1);
    col->addWidget(target_);
    col->addWidget(targetNote_);

    canvas_ = new ExplainCanvas(doc, this);
    auto* body = new QHBoxLayout;
    body->setContentsMargins(0, 0, 0, 0);
    body->addWidget(side);
    body->addWidget(canvas_, 1);
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    lay->setSpacing(2);
    lay->addWidget(controls);
    lay->addLayout(body, 1);
    setFocusProxy(predictions_);

    task_ = new BackgroundTask(this);
    connect(task_, &BackgroundTask::failed, canvas_, [this](const QString& m) { canvas_->setMessage(tr("Cannot explain: %1").arg(m)); });
    connect(method_, &QComboBox::currentIndexChanged, this, [this] { invalidate(); });
    connect(method2_, &QComboBox::currentIndexChanged, this, [this] { invalidate(); });
    connect(detrTarget_, &QComboBox::currentIndexChanged, this, [this] { invalidate(); });
    connect(compare_, &QComboBox::currentIndexChanged, this, &ExplainView::compareChanged);
    connect(target_, &QLineEdit::returnPressed, this, &ExplainView::targetTyped);
    connect(target2_, &QLineEdit::returnPressed, this, [this] {
        const QString t = target2_->text().trimmed();
        target2Class_ = t.isEmpty() ? -1 : classFromText(t);
        targetNote_->setText(!t.isEmpty() && target2Class_ < 0 ? tr("No class matches “%1”.").arg(t) : QString());
        invalidate();
    });
    connect(predictions_, &QListWidget::currentRowChanged, this, [this](int rowIndex) {
        QListWidgetItem* item = predictions_->item(rowIndex);
        if (!item) return;
        const int query = item->data(Qt::UserRole + 1).toInt();
        if (query >= 0) return doc_->detr()->setQueryFor(Site::DecoderCross, query); // DETR: that detection
        doc_->setTargetClass(item->data(Qt::UserRole).toInt());
    });
    connect(doc_, &Document::modelChanged, this, [this] {
        QStringList names;
        if (const Model* m = doc_->model())
            for (int i = 0; i < m->info().n_labels; ++i) names << QString("%1: %2").arg(i).arg(className(i));
        auto* completer = new QCompleter(names, target_);
        completer->setCaseSensitivity(Qt::CaseInsensitive);
        completer->setFilterMode(Qt::MatchContains);
        delete target_->completer();
        target_->setCompleter(completer);
        target2_->setCompleter(completer);
        target2Class_ = -1;
        target2_->clear();
        detrTargetBox_->setVisible(isDetr());
        invalidate();
    });
    connect(doc_, &Document::resultChanged, this, [this] {
        rebuildPredictions();
        invalidate();
    });
    connect(doc_, &Document::runStateChanged, this, [this] { if (!doc_->result()) invalidate(); });
    connect(doc_, &Document::targetClassChanged, this, [this] {
        rebuildPredictions();
        invalidate();
    });
    connect(doc_->detr(), &DetrState::queriesChanged, this, [this] { if (doc_->detr()->active()) invalidate(); });
    connect(doc_->detr(), &DetrState::detectionsChanged, this, &ExplainView::rebuildPredictions);
    detrTargetBox_->setVisible(isDetr());
    compareChanged();
    rebuildPredictions();
    invalidate();
}

bool ExplainView::isDetr() const { return doc_->model() && doc_->model()->info().family == Family::Detr; }

QWidget* ExplainView::canvas() { return canvas_; }
bool ExplainView::busy() const { return task_->busy(); }

QString ExplainView::methodTitle(ex::Method m) const { return tr(textOf(m).title); }

QString ExplainView::className(int index) const {
    const Model* m = doc_->model();
    if (m && index >= 0 && size_t(index) < m->info().labels.size() && !m->info().labels[size_t(index)].empty())
        return QString::fromStdString(m->info().labels[size_t(index)]);
    return tr("class %1").arg(index);
}

int ExplainView::topClass() const {
    const RunResult* r = doc_->result();
    return r && !r->predictions.empty() ? r->predictions.front().index : -1;
}

int ExplainView::classFromText(const QString& typed) const {
    const Model* m = doc_->model();
    if (!m) return -1;
    const int n = m->info().n_labels;
    QString t = typed.trimmed();
    const int colon = t.indexOf(':'); // a completion: "282: tiger cat"
    bool ok = false;
    const int asIndex = (colon > 0 ? t.left(colon) : t).toInt(&ok);
    if (ok) return asIndex >= 0 && asIndex < n ? asIndex : -1;
    int contains = -1;
    for (int i = 0; i < n; ++i) {
        const QString name = className(i);
        for (const QString& part : name.split(',')) // "tabby, tabby cat": any of the names, whole
            if (part.trimmed().compare(t, Qt::CaseInsensitive) == 0) return i;
        if (contains < 0 && name.contains(t, Qt::CaseInsensitive)) contains = i;
    }
    return contains;
}

void ExplainView::targetTyped() {
    const QString t = target_->text().trimmed();
    if (t.isEmpty()) return doc_->setTargetClass(-1);
    const int k = classFromText(t);
    if (k < 0) return targetNote_->setText(tr("No class of this model matches “%1”.").arg(t));
    targetNote_->setText(QString());
    doc_->setTargetClass(k);
}

void ExplainView::compareChanged() {
    const auto c = Compare(compare_->currentIndex());
    method2_->setVisible(c == Compare::Method);
    target2_->setVisible(c == Compare::Class);
    invalidate();
}

void ExplainView::rebuildPredictions() {
    const QSignalBlocker block(predictions_);
    predictions_->clear();
    const RunResult* r = doc_->result();
    if (!r) return;
    if (doc_->detr()->active()) {
        for (const Detection& d : doc_->detr()->detections()) {
            auto* item = new QListWidgetItem(tr("%1  %2  (query %3)").arg(QString::fromStdString(d.label)).arg(double(d.score), 0, 'f', 2).arg(d.query));
            item->setData(Qt::UserRole, d.label_id);
            item->setData(Qt::UserRole + 1, d.query);
            predictions_->addItem(item);
            if (d.query == doc_->detr()->queryFor(Site::DecoderCross)) predictions_->setCurrentItem(item);
        }
        return;
    }
    const int target = doc_->targetClass() >= 0 ? doc_->targetClass() : topClass();
    bool listed = false;
    for (size_t i = 0; i < r->predictions.size() && i < 10; ++i) {
        const Prediction& p = r->predictions[i];
        auto* item = new QListWidgetItem(QString("%1  %2%").arg(QString::fromStdString(p.label)).arg(double(p.prob) * 100, 0, 'f', 1));
        item->setData(Qt::UserRole, p.index);
        item->setData(Qt::UserRole + 1, -1);
        item->setToolTip(tr("class %1 · logit %2").arg(p.index).arg(double(p.logit), 0, 'f', 3));
        predictions_->addItem(item);
        if (p.index == target) {
            predictions_->setCurrentItem(item);
            listed = true;
        }
    }
    if (!listed && target >= 0) { // a typed class outside the top 10: listed below them
        for (const Prediction& p : r->predictions)
            if (p.index == target) {
                auto* item = new QListWidgetItem(QString("%1  %2%").arg(QString::fromStdString(p.label)).arg(double(p.prob) * 100, 0, 'g', 2));
                item->setData(Qt::UserRole, p.index);
                item->setData(Qt::UserRole + 1, -1);
                item->setToolTip(tr("class %1 (typed) · logit %2").arg(p.index).arg(double(p.logit), 0, 'f', 3));
                predictions_->addItem(item);
                predictions_->setCurrentItem(item);
            }
    }
}

std::vector<ExplainView::Request> ExplainView::requests() const {
    const RunResult* r = doc_->result();
    if (!r || !doc_->model()) return {};
    const auto c = Compare(compare_->currentIndex());
    if (doc_->model()->info().task == Task::Detect) {
        const int q = doc_->detr()->queryFor(Site::DecoderCross);
        const int box = detrTarget_->currentData().toInt();
        std::vector<Request> out{{methodOf(method_), -1, q, box}};
        if (c == Compare::Method) out.push_back({methodOf(method2_), -1, q, box});
        if (c == Compare::Class) { // the same detection's class typed, else its second class (no-object excluded)
            int t2 = target2Class_;
            const int C1 = r->logits.dim() == 2 ? int(r->logits.size(1)) : 0;
            if (t2 < 0 && C1 > 2 && q >= 0 && q < int(r->logits.size(0))) {
                const float* row = r->logits.ptr() + size_t(q) * size_t(C1);
                const int top = int(std::max_element(row, row + C1 - 1) - row);
                for (int k = 0; k < C1 - 1; ++k)
                    if (k != top && (t2 < 0 || row[k] > row[t2])) t2 = k;
            }
            out.push_back({methodOf(method_), t2, q, -1}); // a class: its logit, whatever the left map explains
        }
        return out;
    }
    if (r->predictions.empty()) return {};
    const int t1 = doc_->targetClass() >= 0 ? doc_->targetClass() : topClass();
    std::vector<Request> out{{methodOf(method_), t1, -1}};
    if (c == Compare::Method) out.push_back({methodOf(method2_), t1, -1});
    if (c == Compare::Class) {
        int t2 = target2Class_;
        if (t2 < 0) // the next prediction: the first one that is not t1
            for (const Prediction& p : r->predictions)
                if (p.index != t1) {
                    t2 = p.index;
                    break;
                }
        out.push_back({methodOf(method_), t2, -1});
    }
    return out;
}

ExplainCanvas::Panel ExplainView::panelFor(const Request& q) const {
    ExplainCanvas::Panel p;
    p.barLabel = tr("relevance (%1)").arg(ex::method_name(q.method));
    const QString what = q.detection >= 0 ? tr("detection (query %1)").arg(q.detection) : QString("%1 (%2)").arg(className(q.target)).arg(q.target);
    const QString coord = ex::box_coord_name(q.box);
    p.title = QString("%1 · %2").arg(methodTitle(q.method), q.box >= 0 ? tr("box %1 of %2").arg(coord, what) : what);
    const auto it = cache_.find(q);
    if (q.detection >= 0 && it != cache_.end() && it->second.error.isEmpty()) { // DETR: what was explained, and its box
        const ex::Explanation& e = it->second.e;
        const QString label = QString::fromStdString(e.target_label);
        const QString subject = q.box >= 0 ? tr("box %1 = %2 of %3").arg(coord).arg(double(e.box[size_t(q.box)]), 0, 'f', 3).arg(label) : label;
        p.title = QString("%1 · %2, %3 · p %4").arg(methodTitle(q.method), subject, what).arg(double(e.prob), 0, 'f', 3);
        // (cx, cy, w, h) fractions of the input → original pixels, as core's detr_postprocess (DETR does not crop)
        const QSizeF s = doc_->imageSize();
        const auto& b = e.box;
        p.box = QRectF(QPointF((b[0] - b[2] / 2) * s.width(), (b[1] - b[3] / 2) * s.height()),
                       QPointF((b[0] + b[2] / 2) * s.width(), (b[1] + b[3] / 2) * s.height()));
        p.boxTag = QString("%1 %2").arg(label).arg(double(e.prob), 0, 'f', 2);
        if (q.box >= 0) p.boxTag += QString(" · %1 %2").arg(coord).arg(double(e.box[size_t(q.box)]), 0, 'f', 3);
        const int index = doc_->detr()->detectionOfQuery(q.detection);
        p.boxColour = index >= 0 ? detectionColor(index) : QColor(Qt::white);
        p.boxDashed = index < 0;
    }
    if (it == cache_.end()) {
        p.message = tr("Computing…");
        return p;
    }
    if (!it->second.error.isEmpty()) {
        p.message = it->second.error;
        return p;
    }
    const ex::Explanation& e = it->second.e;
    p.values = e.relevance.data;
    p.gh = int(e.relevance.size(0));
    p.gw = int(e.relevance.size(1));
    if (q.detection < 0) p.title += tr(" · p %1").arg(double(e.prob), 0, 'f', 3);
    return p;
}

void ExplainView::show(const std::vector<Request>& reqs) {
    std::vector<ExplainCanvas::Panel> panels;
    for (const Request& q : reqs) panels.push_back(panelFor(q));
    canvas_->setPanels(std::move(panels));
}

void ExplainView::refresh() {
    std::shared_ptr<const RunResult> r = doc_->resultPtr();
    std::shared_ptr<const Model> model = doc_->modelPtr();
    if (!r || !model) {
        task_->cancel();
        cache_.clear();
        cacheResult_.reset();
        return canvas_->setMessage(model && doc_->hasImage() ? doc_->waitingText()
                                                            : tr("Open a model and an image to explain its prediction."));
    }
    const double discard = Settings().rolloutDiscard(); // rollout and grad-rollout use the Rollout view's
    if (cacheResult_.lock() != r || discard != cacheDiscard_) { // a new image or run: every explanation is of the old one
        cache_.clear();
        cacheResult_ = r;
        cacheDiscard_ = discard;
    }
    const ModelInfo& info = model->info();
    if (info.task == Task::Embed || (info.task == Task::Classify && r->predictions.empty()))
        return canvas_->setMessage(tr("This model (%1) has no classifier head, so there is no class to explain. Explain "
                                      "needs a classifier (ViT, DeiT, DINOv2 with a head) or a detector (DETR).")
                                       .arg(family_name(info.family)));
    if (info.task == Task::Detect && doc_->detr()->allQueries().empty())
        return canvas_->setMessage(tr("This detector gave no object queries to explain."));
    if (doc_->input().empty())
        return canvas_->setMessage(tr("The input tensor of this result is not at hand: run the model again (F5) to explain it."));
    const std::vector<Request> reqs = requests();
    std::vector<Request> missing;
    std::set<Request> seen;
    for (const Request& q : reqs)
        if (!cache_.count(q) && seen.insert(q).second) missing.push_back(q);
    show(reqs);
    if (missing.empty()) return;
    ex::ExplainOptions opt;
    opt.discard_ratio = discard;
    Tensor input = doc_->input();
    task_->start([this, r, model, input = std::move(input), missing, opt](const BackgroundTask::Job& job) -> BackgroundTask::Deliver {
        std::vector<std::pair<Request, Entry>> done;
        for (const Request& q : missing) {
            Entry entry;
            try {
                entry.e = ex::explain(*model, input, q.method, ex::Target{q.target, q.detection, q.box}, opt, &job.cancel);
            } catch (const Error& e) {
                if (e.kind() == ErrorKind::Cancelled) break; // what was done is kept
                entry.error = e.kind() == ErrorKind::Unsupported
                                  ? QObject::tr("%1 is not available here: %2.\nAttention rollout and last-layer attention "
                                                "explain every ViT-family classifier.")
                                        .arg(QObject::tr(textOf(q.method).title), QString::fromStdString(e.detail()))
                                  : QString::fromStdString(e.what());
                if (q.detection >= 0 && e.kind() == ErrorKind::Unsupported)
                    entry.error = QObject::tr("%1 cannot explain this detection: %2.")
                                      .arg(QObject::tr(textOf(q.method).title), QString::fromStdString(e.detail()));
            }
            done.emplace_back(q, std::move(entry));
        }
        return [this, r, done = std::move(done)]() mutable {
            if (doc_->resultPtr() != r) return; // a newer result is on its way
            for (auto& [q, entry] : done) {
                if (entry.error.isEmpty()) ++computed_;
                cache_[q] = std::move(entry);
            }
            const std::vector<Request> now = requests();
            show(now);
            if (std::any_of(now.begin(), now.end(), [this](const Request& q) { return !cache_.count(q); })) invalidate();
        };
    });
}

std::vector<float> ExplainView::shownValues() const {
    std::vector<float> v;
    for (const ExplainCanvas::Panel& p : canvas_->panels()) v.insert(v.end(), p.values.begin(), p.values.end());
    return v;
}

std::vector<int64_t> ExplainView::shownShape() const {
    const auto& ps = canvas_->panels();
    if (ps.empty() || ps.front().values.empty()) return {0};
    for (const ExplainCanvas::Panel& p : ps)
        if (p.values.size() != ps.front().values.size()) return {int64_t(ps.front().values.size())}; // cannot happen: one grid
    if (ps.size() == 1) return {ps.front().gh, ps.front().gw};
    return {int64_t(ps.size()), ps.front().gh, ps.front().gw};
}

QString ExplainView::caption() const {
    QStringList parts;
    for (const ExplainCanvas::Panel& p : canvas_->panels()) parts << p.title;
    QString text = QString("%1 · %2").arg(sourceCaption(), parts.isEmpty() ? tr("no explanation") : parts.join(tr("  |  ")));
    for (const Request& q : requests())
        if (q.method == ex::Method::Rollout || q.method == ex::Method::GradRollout) {
            text += tr(" · discard %1").arg(Settings().rolloutDiscard(), 0, 'f', 2);
            break;
        }
    return text;
}

} // namespace attnscope::ui
