#include "ui/views/detections_view.h"

#include "core/session.h"
#include "ui/detr_state.h"
#include "ui/settings.h"
#include "ui/views/map_paint.h"

#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>

#include <cmath>

namespace attnscope::ui {

DetectionsView::DetectionsView(Document* doc, QWidget* parent) : View(doc, parent) {
    setObjectName("detectionsView");
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    lay->setSpacing(2);
    auto* controls = new QHBoxLayout;
    controls->setContentsMargins(6, 4, 6, 0);
    threshold_ = new QSlider(Qt::Horizontal, this);
    threshold_->setObjectName("thresholdSlider");
    threshold_->setRange(0, 100);
    threshold_->setMinimumWidth(120);
    threshold_->setToolTip(tr("Keep detections whose score (softmax over the classes, \"no object\" dropped) is above this"));
    thresholdLabel_ = new QLabel(this);
    thresholdLabel_->setObjectName("thresholdLabel");
    thresholdLabel_->setMinimumWidth(fontMetrics().horizontalAdvance("0.00") + 4);
    decLayer_ = new QSpinBox(this);
    decLayer_->setObjectName("decoderLayerSpin");
    decLayer_->setToolTip(tr("Decoder layer of the cross-attention row"));
    encLayer_ = new QSpinBox(this);
    encLayer_->setObjectName("encoderLayerSpin");
    encLayer_->setToolTip(tr("Encoder layer of the reference-point row"));
    count_ = new QLabel(this);
    count_->setObjectName("detectionCount");
    controls->addWidget(new QLabel(tr("Score >"), this));
    controls->addWidget(threshold_, 1);
    controls->addWidget(thresholdLabel_);
    controls->addSpacing(10);
    decLayerLabel_ = new QLabel(tr("Decoder layer"), this);
    controls->addWidget(decLayerLabel_);
    controls->addWidget(decLayer_);
    controls->addSpacing(6);
    controls->addWidget(new QLabel(tr("Encoder layer"), this));
    controls->addWidget(encLayer_);
    controls->addSpacing(10);
    controls->addWidget(count_);
    controls->addStretch();
    lay->addLayout(controls);

    auto* split = new QSplitter(Qt::Horizontal, this);
    split->setObjectName("detectionsSplitter");
    canvas_ = new DetectionsCanvas(doc, split);
    list_ = new QListWidget(split);
    list_->setObjectName("detectionList");
    list_->setToolTip(tr("Detections above the threshold: select one to see its cross-attention"));
    list_->setMinimumWidth(150);
    split->addWidget(canvas_);
    split->addWidget(list_);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 0);
    split->setSizes({700, 190});
    lay->addWidget(split, 1);

    const double t = Settings().detectionThreshold();
    threshold_->setValue(int(std::lround(t * 100)));
    thresholdLabel_->setText(QString::number(t, 'f', 2));
    doc_->detr()->setThreshold(float(threshold_->value() / 100.0));
    connect(threshold_, &QSlider::valueChanged, this, [this](int v) {
        thresholdLabel_->setText(QString::number(v / 100.0, 'f', 2));
        doc_->detr()->setThreshold(float(v / 100.0));
        Settings().setDetectionThreshold(v / 100.0);
    });
    auto pushLayers = [this] { canvas_->setLayers(decLayer_->value(), encLayer_->value()); };
    connect(decLayer_, &QSpinBox::valueChanged, this, pushLayers);
    connect(encLayer_, &QSpinBox::valueChanged, this, pushLayers);
    connect(list_, &QListWidget::currentRowChanged, this, [this](int row) {
        if (row >= 0 && row < int(doc_->detr()->detections().size())) doc_->detr()->setQueryFor(Site::DecoderCross, doc_->detr()->detections()[size_t(row)].query);
    });
    connect(doc_, &Document::resultChanged, this, &DetectionsView::syncControls);
    connect(doc_, &Document::modelChanged, this, &DetectionsView::syncControls);
    connect(doc_->detr(), &DetrState::detectionsChanged, this, &DetectionsView::syncList);
    connect(doc_->detr(), &DetrState::queriesChanged, this, &DetectionsView::syncListSelection);
    syncControls();
    syncList();
}

QWidget* DetectionsView::canvas() { return canvas_; }

void DetectionsView::syncControls() {
    const bool detr = doc_->detr()->active();
    for (QWidget* w : std::initializer_list<QWidget*>{threshold_, decLayer_, encLayer_, list_}) w->setEnabled(detr);
    const QSignalBlocker b1(decLayer_), b2(encLayer_);
    // A new layer count (another model) starts on the last layers, as the colab.
    const bool tokens = doc_->detr()->detectionSite() == Site::Encoder; // YOLOS: detection tokens in the encoder
    decLayerLabel_->setText(tokens ? tr("Detection layer") : tr("Decoder layer"));
    decLayer_->setToolTip(tokens ? tr("Encoder layer of the detection-token row") : tr("Decoder layer of the cross-attention row"));
    const int nDec = doc_->layerCount(doc_->detr()->detectionSite()), nEnc = doc_->layerCount(Site::Encoder);
    if (decLayer_->maximum() != std::max(0, nDec - 1) || canvas_->decoderLayer() < 0) {
        decLayer_->setRange(0, std::max(0, nDec - 1));
        decLayer_->setValue(nDec - 1);
    }
    if (encLayer_->maximum() != std::max(0, nEnc - 1) || canvas_->encoderLayer() < 0) {
        encLayer_->setRange(0, std::max(0, nEnc - 1));
        encLayer_->setValue(nEnc - 1);
    }
    if (detr) canvas_->setLayers(decLayer_->value(), encLayer_->value());
}

void DetectionsView::syncList() {
    const QSignalBlocker block(list_);
    list_->clear();
    const auto& dets = doc_->detr()->detections();
    for (size_t i = 0; i < dets.size(); ++i) {
        const Detection& d = dets[i];
        QPixmap swatch(12, 12);
        swatch.fill(detectionColor(int(i)));
        auto* item = new QListWidgetItem(QIcon(swatch), QString("%1   q %2\n[%3, %4, %5, %6]")
                                                             .arg(detectionText(d)).arg(d.query)
                                                             .arg(double(d.box_xyxy[0]), 0, 'f', 0).arg(double(d.box_xyxy[1]), 0, 'f', 0)
                                                             .arg(double(d.box_xyxy[2]), 0, 'f', 0).arg(double(d.box_xyxy[3]), 0, 'f', 0));
        item->setData(Qt::UserRole, d.query);
        list_->addItem(item);
    }
    const float t = doc_->detr()->threshold();
    count_->setText(!doc_->detr()->active() ? QString()
                    : dets.empty()  ? tr("no detection > %1").arg(double(t), 0, 'f', 2)
                                    : detectionCountText(dets.size()));
    syncListSelection();
}

void DetectionsView::syncListSelection() {
    const QSignalBlocker block(list_);
    const int d = doc_->detr()->active() ? doc_->detr()->detectionOfQuery(doc_->detr()->queryFor(Site::DecoderCross)) : -1;
    list_->setCurrentRow(d);
    if (d < 0) list_->clearSelection();
}

std::vector<float> DetectionsView::shownValues() const {
    std::vector<float> out;
    const auto& maps = canvas_->rowMaps(0);
    for (size_t h = 0; h + 1 < maps.size(); ++h) out.insert(out.end(), maps[h].begin(), maps[h].end());
    return out;
}

std::vector<int64_t> DetectionsView::shownShape() const {
    const int64_t heads = std::max<int64_t>(0, int64_t(canvas_->rowMaps(0).size()) - 1);
    return {heads, canvas_->gridH(), canvas_->gridW()};
}

QString DetectionsView::caption() const {
    const QString model = doc_->model() ? QFileInfo(doc_->modelPath()).fileName() : tr("no model");
    const QString image = doc_->imageName().isEmpty() ? tr("no image") : doc_->imageName();
    if (!doc_->detr()->active()) return tr("%1 · %2 · detections (DETR, YOLOS only)").arg(model, image);
    QString text = tr("%1 · %2 · %3 > %4").arg(model, image, detectionCountText(doc_->detr()->detections().size()))
                       .arg(double(doc_->detr()->threshold()), 0, 'f', 2);
    const int q = canvas_->selectedQuery(), t = canvas_->referenceToken();
    if (q >= 0 && doc_->detr()->detectionSite() == Site::Encoder) text += tr(" · layer %1, detection token %2").arg(canvas_->decoderLayer()).arg(q);
    else if (q >= 0) text += tr(" · decoder layer %1, query %2").arg(canvas_->decoderLayer()).arg(q);
    if (t >= 0) text += tr(" · encoder layer %1, cell %2").arg(canvas_->encoderLayer()).arg(t - canvas_->encoderGridStart());
    return text;
}

QByteArray detectionsJson(const Document& doc) {
    nlohmann::json j;
    const RunResult* r = doc.result();
    j["model"] = QFileInfo(doc.modelPath()).fileName().toStdString();
    j["image"] = doc.imageName().toStdString();
    j["threshold"] = doc.detr()->threshold();
    if (r) {
        j["image_size"] = {r->geometry.orig_w, r->geometry.orig_h};
        j["input_size"] = {r->geometry.input_w, r->geometry.input_h};
        j["feature_grid"] = {r->layout.grid_h, r->layout.grid_w};
        j["stride"] = r->layout.patch_size;
    }
    j["box_format"] = "xyxy, pixels of the original image";
    j["detections"] = detections_json(doc.detr()->detections());
    return QByteArray::fromStdString(j.dump(2) + "\n");
}

} // namespace attnscope::ui
