#include "ui/views/distance_view.h"

#include "core/error.h"
#include "core/batch.h"
#include "core/image/decode.h"
#include "core/session.h"
#include "ui/background_task.h"
#include "ui/export.h"
#include "ui/settings.h"
#include "ui/views/analysis_paint.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QToolTip>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include <cmath>

namespace attnscope::ui {
namespace an = attnscope::analysis;

namespace {

QString images(int n) { return n == 1 ? QObject::tr("1 image") : QObject::tr("%1 images").arg(n); }

} // namespace

DistanceView::DistanceView(Document* doc, QWidget* parent) : View(doc, parent) {
    setObjectName("distanceView");
    auto* controls = new QWidget(this);
    auto* row = new QHBoxLayout(controls);
    row->setContentsMargins(6, 4, 6, 0);
    add_ = new QPushButton(tr("Add images…"), controls);
    add_->setObjectName("distanceAddImages");
    add_->setToolTip(tr("Average the mean attention distance over the images of a folder (and its subfolders), "
                        "with the model already loaded; the spread across images is drawn as error bars"));
    cancel_ = new QPushButton(tr("Cancel"), controls);
    cancel_->setObjectName("distanceCancel");
    cancel_->setToolTip(tr("Stop averaging; the images done so far are kept"));
    cancel_->setVisible(false);
    progress_ = new QProgressBar(controls);
    progress_->setObjectName("distanceProgress");
    progress_->setMaximumWidth(160);
    progress_->setVisible(false);
    clear_ = new QPushButton(tr("Clear"), controls);
    clear_->setObjectName("distanceClear");
    clear_->setToolTip(tr("Forget the images averaged so far"));
    spread_ = new QComboBox(controls);
    spread_->setObjectName("distanceSpread");
    spread_->addItems({tr("bars: ± std"), tr("bars: min…max")});
    spread_->setCurrentIndex(Settings().distanceMinMax() ? 1 : 0);
    spread_->setToolTip(tr("Spread across the averaged images: population standard deviation, or the smallest and largest"));
    export_ = new QPushButton(tr("Export CSV…"), controls);
    export_->setObjectName("distanceExportCsv");
    export_->setToolTip(tr("Save layer, head, mean, std, n_images, min and max distance (pixels) as .csv: the folder's, else this image's "
                          "(the layout of attnscope-cli's attention_distance.csv)"));
    status_ = new QLabel(controls);
    status_->setObjectName("distanceStatus");
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    row->addWidget(add_);
    row->addWidget(progress_);
    row->addWidget(cancel_);
    row->addWidget(clear_);
    row->addWidget(spread_);
    row->addWidget(export_);
    row->addStretch(1);

    plot_ = new QCustomPlot(this);
    plot_->setObjectName("distancePlot");
    plot_->setMinimumSize(320, 240);
    plot_->setFocusPolicy(Qt::ClickFocus); // a click makes this the view that Export View / Copy Image take
    plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot_->setToolTip(tr("One dot per head. Wheel: zoom · drag: pan · double-click: reset · click a dot: select that layer and head"));
    plot_->xAxis->setLabel(tr("Network depth (layer)"));
    plot_->yAxis->setLabel(tr("Mean attention distance (pixels)"));
    QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
    ticker->setTickStep(1.0);
    ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    plot_->xAxis->setTicker(ticker);
    plot_->plotLayout()->insertRow(0);
    QFont bold = font();
    bold.setBold(true);
    title_ = new QCPTextElement(plot_, "", bold);
    plot_->plotLayout()->addElement(0, 0, title_);
    // The legend as one row under the title, never over the dots.
    plot_->axisRect()->insetLayout()->take(plot_->legend);
    plot_->plotLayout()->insertRow(1);
    auto* legendRow = new QCPLayoutGrid; // spacer · legend · spacer: the entries centred, side by side
    plot_->plotLayout()->addElement(1, 0, legendRow);
    plot_->plotLayout()->setRowStretchFactor(1, 0.001);
    legendRow->addElement(0, 0, new QCPLayoutElement(plot_));
    legendRow->addElement(0, 1, plot_->legend);
    legendRow->addElement(0, 2, new QCPLayoutElement(plot_));
    legendRow->setColumnStretchFactors({1.0, 0.001, 1.0});
    plot_->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    plot_->legend->setWrap(8);
    plot_->legend->setBorderPen(Qt::NoPen);
    plot_->legend->setBrush(Qt::NoBrush);
    plot_->legend->setMargins(QMargins(4, 0, 4, 0));
    plot_->legend->setVisible(true);
    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    plot_->legend->setFont(small);
    plot_->legend->setColumnSpacing(12);
    plot_->xAxis->grid()->setZeroLinePen(Qt::NoPen); // no stray line at layer 0: the axes frame the plot
    plot_->yAxis->grid()->setZeroLinePen(Qt::NoPen);

    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    lay->setSpacing(2);
    lay->addWidget(controls);
    lay->addWidget(status_);
    lay->addWidget(plot_, 1);
    status_->setContentsMargins(8, 0, 8, 0);

    task_ = new BackgroundTask(this);
    connect(task_, &BackgroundTask::busyChanged, this, [this](bool busy) {
        progress_->setVisible(busy);
        cancel_->setVisible(busy);
        add_->setEnabled(!busy);
        clear_->setEnabled(!busy);
        status_->setText(status());
    });
    connect(task_, &BackgroundTask::progress, this, [this](int done, int total) {
        progress_->setRange(0, total);
        progress_->setValue(done);
        status_->setText(status());
    });
    connect(task_, &BackgroundTask::failed, this, [this](const QString& m) {
        error_ = m;
        status_->setText(status());
    });
    connect(add_, &QPushButton::clicked, this, &DistanceView::addImagesClicked);
    connect(cancel_, &QPushButton::clicked, task_, &BackgroundTask::cancel);
    connect(clear_, &QPushButton::clicked, this, &DistanceView::clearFolder);
    connect(export_, &QPushButton::clicked, this, &DistanceView::exportCsvClicked);
    connect(spread_, &QComboBox::currentIndexChanged, this, [this](int i) {
        Settings().setDistanceMinMax(i == 1);
        rebuildPlot();
    });
    connect(doc_, &Document::resultChanged, this, [this] { invalidate(); });
    connect(doc_, &Document::modelChanged, this, [this] {
        task_->cancel(); // the folder's numbers belong to the previous model
        clearFolder();
    });
    connect(doc_, &Document::selectionChanged, this, [this] { // the selected head's ring
        if (onScreen(plot_)) rebuildPlot();
        else plotStale_ = true; // its tab is covered: when raised or exported (a layer/head change costs nothing here)
    });

    auto nearest = [this](QPointF pos) -> std::pair<int, int> { // (layer, head) of the dot under pos
        double best = 9.0;
        std::pair<int, int> hit{-1, -1};
        for (int i = 0; i < plot_->graphCount(); ++i) {
            QCPGraph* g = plot_->graph(i);
            const int head = g->property("head").toInt(), isData = g->property("data").toBool();
            if (!isData) continue;
            for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it) {
                const double dx = plot_->xAxis->coordToPixel(it->key) - pos.x(), dy = plot_->yAxis->coordToPixel(it->value) - pos.y();
                const double d = std::hypot(dx, dy);
                if (d < best) {
                    best = d;
                    hit = {int(std::lround(it->key)), head};
                }
            }
        }
        return hit;
    };
    connect(plot_, &QCustomPlot::mouseMove, this, [this, nearest](QMouseEvent* e) {
        const auto [l, h] = nearest(e->position());
        if (l < 0) return QToolTip::hideText();
        QString text = tr("layer %1, head %2").arg(l).arg(h);
        if (size_t(l) < image_.size() && size_t(h) < image_[size_t(l)].size())
            text += tr("\nthis image: %1 px").arg(image_[size_t(l)][size_t(h)], 0, 'f', 1);
        if (folder_.n_images() > 0 && l < folder_.n_layers() && h < folder_.n_heads(l))
            text += tr("\n%1 images: mean %2 px, std %3, min %4, max %5")
                        .arg(folder_.n_images()).arg(folder_.mean(l, h), 0, 'f', 1).arg(folder_.std_dev(l, h), 0, 'f', 1)
                        .arg(folder_.min(l, h), 0, 'f', 1).arg(folder_.max(l, h), 0, 'f', 1);
        QToolTip::showText(e->globalPosition().toPoint(), text, plot_);
    });
    auto press = std::make_shared<QPointF>();
    connect(plot_, &QCustomPlot::mousePress, this, [press](QMouseEvent* e) { *press = e->position(); });
    connect(plot_, &QCustomPlot::mouseRelease, this, [this, press, nearest](QMouseEvent* e) {
        if ((e->position() - *press).manhattanLength() > 4) return; // a drag
        const auto [l, h] = nearest(e->position());
        if (l < 0) return;
        Selection s = doc_->selection();
        s.site = Site::Encoder;
        s.layer = l;
        s.heads = {h};
        doc_->setSelection(s);
    });
    connect(plot_, &QCustomPlot::mouseDoubleClick, this, &DistanceView::rebuildPlot);
    rebuildPlot();
    invalidate();
}

QWidget* DistanceView::canvas() {
    if (plotStale_) rebuildPlot();
    plot_->replot(); // up to date now, for exports
    return plot_;
}

void DistanceView::dockShown() {
    if (plotStale_) rebuildPlot();
}
bool DistanceView::busy() const { return task_->busy(); }

void DistanceView::refresh() {
    image_.clear();
    error_.clear();
    if (const RunResult* r = doc_->result()) {
        try {
            image_ = an::mean_attention_distances(r->attention, r->layout);
        } catch (const Error& e) {
            error_ = QString::fromStdString(e.what());
        }
    }
    status_->setText(status());
    rebuildPlot();
}

QString DistanceView::status() const {
    if (!error_.isEmpty()) return tr("Error: %1").arg(error_);
    if (task_->busy())
        return tr("Averaging %1 / %2 images (the model stays loaded; Cancel keeps what is done)…")
            .arg(progress_->value() < 0 ? 0 : progress_->value()).arg(progress_->maximum());
    if (folder_.n_images() == 0)
        return cancelled_ ? tr("Cancelled before the first image was done.") : tr("This image only · “Add images…” averages over a folder");
    QString s = tr("%1 averaged from %2").arg(images(folder_.n_images()), folders_.join(", "));
    if (skipped_ > 0) s += tr(" · %1 skipped (%2)").arg(skipped_).arg(firstSkip_);
    if (cancelled_) s += tr(" · cancelled");
    return s;
}

void DistanceView::rebuildPlot() {
    plotStale_ = false;
    plot_->clearPlottables();
    const bool folder = folder_.n_images() > 0;
    const bool minMax = spread_->currentIndex() == 1;
    const int L = folder ? folder_.n_layers() : int(image_.size());
    int H = 0;
    for (int l = 0; l < L; ++l) H = std::max(H, folder ? folder_.n_heads(l) : int(image_[size_t(l)].size()));
    const RunResult* r = doc_->result();
    if (L == 0) {
        title_->setText(!error_.isEmpty() ? tr("Mean attention distance: %1").arg(error_)
                                          : tr("Mean attention distance · open a model and an image"));
        plot_->legend->setVisible(false);
        plot_->xAxis->setRange(-0.6, 11.6);
        plot_->yAxis->setRange(0, 130);
        plot_->replot(QCustomPlot::rpQueuedReplot);
        return;
    }
    double yMax = 0;
    auto key = [](const QString& name, QCPScatterStyle::ScatterShape shape, QCustomPlot* plot) {
        QCPGraph* g = plot->addGraph();
        g->setName(name);
        g->setLineStyle(QCPGraph::lsNone);
        g->setScatterStyle(QCPScatterStyle(shape, QPen(Qt::darkGray, 1.5), shape == QCPScatterStyle::ssDisc ? QBrush(Qt::darkGray) : QBrush(Qt::NoBrush), 7));
        g->setProperty("data", false);
    };
    if (folder) {
        key(tr("mean of %1").arg(images(folder_.n_images())) + (minMax ? tr(", min…max") : tr(", ± std")), QCPScatterStyle::ssDisc, plot_);
        if (!image_.empty()) key(tr("this image"), QCPScatterStyle::ssCircle, plot_);
    }
    const Selection& sel = doc_->selection();
    for (int h = 0; h < H; ++h) {
        const QColor colour = seriesColour(h);
        const double dx = H > 1 ? (h - (H - 1) / 2.0) * (0.56 / H) : 0.0; // heads side by side within a layer
        QCPGraph* main = nullptr;
        if (folder) {
            QVector<double> x, y, minus, plus;
            for (int l = 0; l < L; ++l) {
                if (h >= folder_.n_heads(l)) continue;
                const double m = folder_.mean(l, h);
                x << l + dx;
                y << m;
                minus << (minMax ? m - folder_.min(l, h) : folder_.std_dev(l, h));
                plus << (minMax ? folder_.max(l, h) - m : folder_.std_dev(l, h));
                yMax = std::max(yMax, m + plus.back());
            }
            main = plot_->addGraph();
            main->setData(x, y, true);
            main->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, colour, colour, 7));
            auto* bars = new QCPErrorBars(plot_->xAxis, plot_->yAxis);
            bars->setDataPlottable(main);
            bars->setData(minus, plus);
            bars->setPen(QPen(colour, 1.2));
            bars->setWhiskerWidth(4);
            bars->removeFromLegend();
        }
        if (!image_.empty()) {
            QVector<double> x, y;
            for (int l = 0; l < int(image_.size()); ++l)
                if (h < int(image_[size_t(l)].size())) {
                    x << l + dx;
                    y << image_[size_t(l)][size_t(h)];
                    yMax = std::max(yMax, y.back());
                }
            QCPGraph* g = plot_->addGraph();
            g->setData(x, y, true);
            g->setScatterStyle(folder ? QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(colour, 1.5), QBrush(Qt::NoBrush), 8)
                                      : QCPScatterStyle(QCPScatterStyle::ssDisc, colour, colour, 7));
            g->setLineStyle(QCPGraph::lsNone);
            g->setProperty("head", h);
            g->setProperty("data", true);
            if (folder) g->removeFromLegend();
            else main = g;
        }
        if (main) {
            main->setName(tr("head %1").arg(h));
            main->setLineStyle(QCPGraph::lsNone);
            main->setProperty("head", h);
            main->setProperty("data", true);
        }
    }
    // The selected head, ringed.
    if (sel.site == Site::Encoder && !sel.heads.fused() && sel.layer < L) {
        const double dx = H > 1 ? (sel.heads.head - (H - 1) / 2.0) * (0.56 / H) : 0.0;
        double y = -1;
        if (folder && sel.heads.head < folder_.n_heads(sel.layer)) y = folder_.mean(sel.layer, sel.heads.head);
        else if (!image_.empty() && size_t(sel.heads.head) < image_[size_t(sel.layer)].size()) y = image_[size_t(sel.layer)][size_t(sel.heads.head)];
        if (y >= 0) {
            QCPGraph* ring = plot_->addGraph();
            ring->setData({sel.layer + dx}, {y});
            ring->setLineStyle(QCPGraph::lsNone);
            ring->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(palette().color(QPalette::Highlight), 2), QBrush(Qt::NoBrush), 15));
            ring->removeFromLegend();
            ring->setProperty("data", false);
        }
    }
    const QString input = r ? tr("input %1×%2 px, patch %3").arg(r->geometry.input_w).arg(r->geometry.input_h).arg(r->layout.patch_size) : QString();
    title_->setText(folder ? tr("Mean attention distance · %1").arg(images(folder_.n_images())) + (input.isEmpty() ? "" : " · " + input)
                           : tr("Mean attention distance · this image") + (input.isEmpty() ? "" : " · " + input));
    // As many legend entries per row as fit the plot's width (a fixed 8 clipped "head 7" in narrow docks).
    const QFontMetrics lfm(plot_->legend->font());
    std::vector<int> entryW; // each entry: icon, padding, name
    for (int i = 0; i < plot_->legend->itemCount(); ++i)
        if (auto* it = qobject_cast<QCPPlottableLegendItem*>(plot_->legend->item(i)))
            entryW.push_back(lfm.horizontalAdvance(it->plottable()->name()) + plot_->legend->iconSize().width() +
                             plot_->legend->iconTextPadding() + 12);
    const int avail = std::max(plot_->width(), 300) - 40;
    int wrap = std::max<int>(1, int(entryW.size()));
    for (; wrap > 1; --wrap) { // the most columns whose widest entries fit side by side
        std::vector<int> col(size_t(wrap), 0);
        for (size_t i = 0; i < entryW.size(); ++i) col[i % size_t(wrap)] = std::max(col[i % size_t(wrap)], entryW[i]);
        int total = plot_->legend->columnSpacing() * (wrap - 1);
        for (int w : col) total += w;
        if (total <= avail) break;
    }
    plot_->legend->setWrap(wrap);
    plot_->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true); // re-flow the entries already in it
    plot_->legend->setVisible(true);
    auto ticker = qSharedPointerCast<QCPAxisTickerFixed>(plot_->xAxis->ticker());
    ticker->setScaleStrategy(L > 16 ? QCPAxisTickerFixed::ssMultiples : QCPAxisTickerFixed::ssNone); // every layer numbered
    plot_->xAxis->setRange(-0.6, L - 0.4);
    plot_->yAxis->setRange(0, std::max(10.0, std::ceil(yMax * 1.08 / 10) * 10));
    plot_->replot(QCustomPlot::rpQueuedReplot); // once per event-loop pass, not a window repaint inside a change
}

void DistanceView::addImagesClicked() {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Average over the images in a folder"), Settings().lastDirectory());
    if (!dir.isEmpty()) addFolder(dir);
}

void DistanceView::addFolder(const QString& dir) {
    error_.clear();
    std::shared_ptr<const Model> model = doc_->modelPtr();
    if (!model) {
        error_ = tr("open a model first");
        return status_->setText(status());
    }
    if (!QFileInfo(dir).isDir()) {
        error_ = tr("%1: not a folder").arg(dir);
        return status_->setText(status());
    }
    const std::string root = dir.toStdString();
    std::vector<std::string> files;
    try {
        files = list_image_files(root);
    } catch (const Error& e) {
        error_ = QString::fromStdString(e.what());
        return status_->setText(status());
    }
    if (files.empty()) {
        error_ = tr("%1: no images (%2) in this folder").arg(dir, QString::fromStdString(image_name_patterns()));
        return status_->setText(status());
    }
    cancelled_ = false;
    progress_->setRange(0, int(files.size()));
    progress_->setValue(0);
    const QString name = QFileInfo(dir).fileName().isEmpty() ? dir : QFileInfo(dir).fileName();
    const an::DistanceAccumulator start = folder_;
    task_->start([this, model, root, files, start, name](const BackgroundTask::Job& job) -> BackgroundTask::Deliver {
        // core's folder loop, as `attnscope-cli dataset` runs it; a failing file is skipped and named.
        an::DistanceAccumulator acc = start;
        QString firstSkip;
        BatchCallbacks cb;
        cb.done = [&acc](size_t, const std::string&, RunResult& r) { acc.add(an::mean_attention_distances(r.attention, r.layout)); };
        cb.skipped = [&firstSkip](size_t, const std::string&, const std::string& why) {
            if (firstSkip.isEmpty()) firstSkip = QString::fromStdString(why);
        };
        cb.progress = [&job](size_t done, size_t total) { job.progress(int(done), int(total)); };
        Session session(*model);
        const BatchSummary sum = run_batch(session, root, files, RecordPolicy::All, cb, &job.cancel);
        const int skipped = sum.skipped;
        const bool cancelled = sum.cancelled;
        return [this, model, acc, skipped, firstSkip, cancelled, name] {
            if (doc_->modelPtr() != model) return; // another model since: these numbers are not its
            folder_ = acc;
            if (!folders_.contains(name)) folders_ << name;
            if (skipped_ == 0 && skipped > 0) firstSkip_ = firstSkip;
            skipped_ += skipped;
            cancelled_ = cancelled;
            status_->setText(status());
            rebuildPlot();
        };
    });
}

void DistanceView::clearFolder() {
    folder_ = {};
    folders_.clear();
    skipped_ = 0;
    firstSkip_.clear();
    cancelled_ = false;
    status_->setText(status());
    rebuildPlot();
}

QByteArray DistanceView::csv() const {
    if (folder_.n_images() > 0) return QByteArray::fromStdString(an::distance_csv(folder_));
    an::DistanceAccumulator one; // this image alone: std 0, min = max = mean
    if (!image_.empty()) one.add(image_);
    return QByteArray::fromStdString(an::distance_csv(one));
}

QString DistanceView::exportCsv(const QString& path) const { return exportBytes(csv(), path); }

void DistanceView::exportCsvClicked() {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export mean attention distances"),
                                                      Settings().lastDirectory() + "/attention_distance.csv", tr("CSV (*.csv)"));
    if (path.isEmpty()) return;
    error_ = exportCsv(path);
    status_->setText(error_.isEmpty() ? tr("Saved %1").arg(path) : status());
}

std::vector<float> DistanceView::shownValues() const {
    std::vector<float> out;
    if (folder_.n_images() > 0) {
        for (int l = 0; l < folder_.n_layers(); ++l)
            for (int h = 0; h < folder_.n_heads(l); ++h) out.push_back(float(folder_.mean(l, h)));
    } else {
        for (const auto& row : image_)
            for (double v : row) out.push_back(float(v));
    }
    return out;
}

std::vector<int64_t> DistanceView::shownShape() const {
    if (folder_.n_images() > 0) return {folder_.n_layers(), folder_.n_layers() ? folder_.n_heads(0) : 0};
    return {int64_t(image_.size()), image_.empty() ? 0 : int64_t(image_[0].size())};
}

QString DistanceView::caption() const {
    return folder_.n_images() > 0
               ? tr("%1 · mean attention distance over %2 (%3) · bars %4")
                     .arg(sourceCaption(), images(folder_.n_images()), folders_.join(", "))
                     .arg(spread_->currentIndex() == 1 ? tr("min…max") : tr("± std"))
               : tr("%1 · mean attention distance, this image").arg(sourceCaption());
}

} // namespace attnscope::ui
