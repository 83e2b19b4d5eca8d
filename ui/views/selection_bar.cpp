#include "ui/views/selection_bar.h"

#include "ui/detr_state.h"

#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QToolButton>

namespace attnscope::ui {
namespace {
// The head box lists the heads, then these fusions in this order.
constexpr analysis::HeadFusion kFusions[] = {analysis::HeadFusion::Mean, analysis::HeadFusion::Max, analysis::HeadFusion::Min};
} // namespace

SelectionBar::SelectionBar(Document* doc, QWidget* parent) : QToolBar(tr("Selection"), parent), doc_(doc) {
    setObjectName("selectionBar");
    auto label = [this](const QString& t) { addWidget(new QLabel(t + " ", this)); };
    site_ = new QComboBox(this);
    site_->setObjectName("siteCombo");
    site_->setToolTip(tr("Attention site (encoder self-attention; DETR decoder self/cross-attention)"));
    site_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    layer_ = new QSpinBox(this);
    layer_->setObjectName("layerSpin");
    layer_->setToolTip(tr("Layer (↑/↓ in the maps)"));
    head_ = new QComboBox(this);
    head_->setObjectName("headCombo");
    head_->setToolTip(tr("One head, or all heads fused by mean / max / min (←/→ in the maps)"));
    head_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    query_ = new QSpinBox(this);
    query_->setObjectName("querySpin");
    query_->setToolTip(tr("Query token (0 = CLS for ViTs; a feature cell for the DETR encoder, an object query for its "
                          "decoder); click a patch or a box in the overlay to pick it"));
    cls_ = new QToolButton(this);
    cls_->setObjectName("queryClsButton");
    cls_->setText(tr("CLS"));
    colormap_ = new QComboBox(this);
    colormap_->setObjectName("colormapCombo");
    colormap_->addItems(colormapNames());
    colormap_->setToolTip(tr("Colormap of every map"));
    opacity_ = new QSlider(Qt::Horizontal, this);
    opacity_->setObjectName("opacitySlider");
    opacity_->setRange(0, 100);
    opacity_->setFixedWidth(100);
    opacity_->setToolTip(tr("Opacity of the map over the image"));
    grid_ = new QCheckBox(tr("Grid"), this);
    grid_->setObjectName("gridCheck");
    grid_->setToolTip(tr("Draw the patch grid"));
    fade_ = new QCheckBox(tr("Fade"), this);
    fade_->setObjectName("fadeCheck");
    fade_->setToolTip(tr("Low attention transparent: each cell's opacity follows its value, so the image shows where "
                         "attention is low (off: the whole map at the opacity)"));
    smooth_ = new QCheckBox(tr("Smooth"), this);
    smooth_->setObjectName("smoothCheck");
    smooth_->setToolTip(tr("Bilinear upsampling of the map (off: one flat square per patch)"));

    label(tr("Site"));
    addWidget(site_);
    label(tr(" Layer"));
    addWidget(layer_);
    label(tr(" Head"));
    addWidget(head_);
    label(tr(" Query"));
    addWidget(query_);
    addWidget(cls_);
    addSeparator();
    addWidget(colormap_);
    label(tr(" Opacity"));
    addWidget(opacity_);
    addWidget(fade_);
    addWidget(grid_);
    addWidget(smooth_);

    for (auto* w : {site_, head_}) connect(w, &QComboBox::currentIndexChanged, this, &SelectionBar::pushSelection);
    for (auto* w : {layer_, query_}) connect(w, &QSpinBox::valueChanged, this, &SelectionBar::pushSelection);
    connect(cls_, &QToolButton::clicked, this, [this] { query_->setValue(0); });
    connect(colormap_, &QComboBox::currentIndexChanged, this, &SelectionBar::pushDisplay);
    connect(opacity_, &QSlider::valueChanged, this, &SelectionBar::pushDisplay);
    connect(grid_, &QCheckBox::toggled, this, &SelectionBar::pushDisplay);
    connect(fade_, &QCheckBox::toggled, this, &SelectionBar::pushDisplay);
    connect(smooth_, &QCheckBox::toggled, this, &SelectionBar::pushDisplay);
    for (auto sig : {&Document::resultChanged, &Document::selectionChanged, &Document::displayChanged})
        connect(doc_, sig, this, &SelectionBar::syncFromDocument);
    connect(doc_->detr(), &DetrState::detectionsChanged, this, &SelectionBar::syncFromDocument);
    syncFromDocument();
}

void SelectionBar::syncFromDocument() {
    const QSignalBlocker b1(site_), b2(layer_), b3(head_), b4(query_), b5(colormap_), b6(opacity_), b7(grid_), b8(smooth_), b9(fade_);
    const Selection& s = doc_->selection();
    const auto sites = doc_->sites();
    site_->clear();
    for (Site st : sites) site_->addItem(siteTitle(st), int(st));
    site_->setCurrentIndex(std::max(0, site_->findData(int(s.site))));
    const AttentionMap* m = doc_->currentMap();
    layer_->setRange(0, std::max(0, doc_->layerCount(s.site) - 1));
    layer_->setValue(s.layer);
    head_->clear();
    for (int h = 0; m && h < m->n_heads; ++h) head_->addItem(tr("head %1").arg(h));
    for (auto f : kFusions) head_->addItem(tr("%1 of heads").arg(analysis::fusion_name(f)));
    const int nh = m ? m->n_heads : 0;
    const int fusionIndex = int(std::find(std::begin(kFusions), std::end(kFusions), s.heads.fusion) - std::begin(kFusions));
    head_->setCurrentIndex(s.heads.fused() ? nh + fusionIndex : s.heads.head);
    query_->setRange(0, m ? m->n_q - 1 : 0);
    query_->setValue(s.query);
    // DETR decoder / YOLOS detection token: the query is a detection; name it when it is above the threshold.
    const DetrState& detr = *doc_->detr();
    const int det = detr.isDetectionRow(s) ? detr.detectionOfQuery(detr.queryOfRow(s.site, s.query)) : -1;
    query_->setSuffix(det >= 0 ? QString("  %1 %2").arg(QString::fromStdString(detr.detections()[size_t(det)].label))
                                     .arg(double(detr.detections()[size_t(det)].score), 0, 'f', 2)
                               : QString());
    for (QWidget* w : std::initializer_list<QWidget*>{site_, layer_, head_, query_}) w->setEnabled(m != nullptr);
    // Query 0 is the CLS token only where the model has one (TokenLayout::n_cls); SigLIP's query 0 is a
    // patch (or the pooling probe), DETR's a feature cell or an object query.
    const RunResult* r = doc_->result();
    const bool noCls = m && r && r->layout.n_cls == 0;
    cls_->setEnabled(m != nullptr && !noCls);
    cls_->setToolTip(noCls ? tr("This model has no CLS token: query 0 is not a class token (SigLIP: every token is a "
                                "patch; DETR: feature cells and object queries)")
                           : tr("Make the first token (CLS) the query"));
    const DisplayOptions& d = doc_->display();
    colormap_->setCurrentIndex(int(d.colormap));
    opacity_->setValue(int(std::lround(d.opacity * 100)));
    grid_->setChecked(d.grid);
    smooth_->setChecked(d.smooth);
    fade_->setChecked(d.fade);
}

void SelectionBar::pushSelection() {
    Selection s = doc_->selection();
    s.site = Site(site_->currentData().toInt());
    s.layer = layer_->value();
    const int nh = doc_->headCount();
    const int i = head_->currentIndex();
    s.heads = i < nh ? analysis::HeadSelect{i} : analysis::HeadSelect{-1, kFusions[std::clamp(i - nh, 0, 2)]};
    s.query = query_->value();
    doc_->setSelection(s);
}

void SelectionBar::pushDisplay() {
    DisplayOptions d;
    d.colormap = Colormap(colormap_->currentIndex());
    d.opacity = opacity_->value() / 100.0;
    d.grid = grid_->isChecked();
    d.smooth = smooth_->isChecked();
    d.fade = fade_->isChecked();
    doc_->setDisplay(d);
}

} // namespace attnscope::ui
