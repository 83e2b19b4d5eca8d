// Mean attention distance (ViT paper Fig. 7 right / Fig. 11): a QCustomPlot scatter, one dot per
// head against layer, in input pixels, for the current image (core's mean_attention_distances).
// "Add images…" averages over a folder on a worker thread with the model already loaded (core's
// DistanceAccumulator), with progress and Cancel; the spread across images is drawn as error bars
// (± std or min…max). The folder loop is core's run_batch (core/batch.h), the one `attnscope-cli dataset`
// runs. "Export CSV…" writes core's attention_distance.csv layout atomically.
#pragma once

#include "core/analysis/distance.h"
#include "ui/views/view.h"

#include <QStringList>

class QComboBox;
class QCustomPlot;
class QCPTextElement;
class QLabel;
class QProgressBar;
class QPushButton;

namespace attnscope::ui {

class BackgroundTask;

class DistanceView : public View {
    Q_OBJECT
public:
    explicit DistanceView(Document* doc, QWidget* parent = nullptr);
    QString viewId() const override { return "distance"; }
    QString title() const override { return tr("Mean distance"); }
    QWidget* canvas() override;
    std::vector<float> shownValues() const override;   // [layers, heads]: the folder mean, else this image
    std::vector<int64_t> shownShape() const override;
    QString caption() const override;
    bool busy() const override;
    QSize screenshotSize() const override { return {860, 560}; }

    QCustomPlot* plot() const { return plot_; }
    // This image's [layer][head] distances (px); empty without a result.
    const std::vector<std::vector<double>>& imageDistances() const { return image_; }
    // Images averaged so far ("Add images…"), their count and the files skipped.
    const analysis::DistanceAccumulator& folderStats() const { return folder_; }
    int skipped() const { return skipped_; }
    bool lastRunCancelled() const { return cancelled_; }
    QString status() const;

    // What the buttons do after their file dialogs (public for tests and scripting).
    void addFolder(const QString& dir);
    QString exportCsv(const QString& path) const; // error message, empty on success
    QByteArray csv() const; // core's attention_distance.csv: the folder's statistics, else this image's
    void clearFolder();

protected:
    void refresh() override;
    void dockShown() override;

private:
    void rebuildPlot();
    void addImagesClicked();
    void exportCsvClicked();

    QPushButton* add_;
    QPushButton* cancel_;
    QPushButton* clear_;
    QPushButton* export_;
    QComboBox* spread_;
    QProgressBar* progress_;
    QLabel* status_;
    QCustomPlot* plot_;
    QCPTextElement* title_;
    BackgroundTask* task_;
    std::vector<std::vector<double>> image_;
    analysis::DistanceAccumulator folder_;
    QStringList folders_;   // folders averaged (display names)
    int skipped_ = 0;
    QString firstSkip_;     // why the first skipped file was skipped
    bool cancelled_ = false;
    QString error_;
    bool plotStale_ = false; // a selection change while the tab was covered
};

} // namespace attnscope::ui
