// The one document every view observes: model, image, the last RunResult, the selection and the
// display options. Views repaint from here; changing the selection never re-runs the model.
#pragma once

#include "core/models/model.h"
#include "ui/convert.h"

#include <QImage>
#include <QSizeF>
#include <QObject>
#include <QString>

#include <memory>
#include <vector>

namespace attnscope::ui {

enum class Fusion { None, Mean, Max, Min }; // None: the single head `Selection::head`

struct Selection {
    Site site = Site::Encoder;
    int layer = 0;
    int head = 0;
    Fusion fusion = Fusion::None;
    int query = 0; // query token index (0 = CLS for ViTs)
    bool operator==(const Selection&) const = default;
};

struct DisplayOptions {
    Colormap colormap = Colormap::Viridis;
    double opacity = 0.6;
    bool grid = false;
    bool smooth = true;
    bool operator==(const DisplayOptions&) const = default;
};

// One query's attention over the keys, and its patch-grid part when the keys are patches.
struct QueryMap {
    std::vector<float> row;   // [n_k]
    std::vector<float> grid;  // [grid_h · grid_w] or empty when the keys are not spatial
    int grid_w = 0, grid_h = 0;
    bool spatial() const { return !grid.empty(); }
    const std::vector<float>& values() const { return spatial() ? grid : row; } // what a cell paints
};

class Document : public QObject {
    Q_OBJECT
public:
    explicit Document(QObject* parent = nullptr);

    const Model* model() const { return model_.get(); }
    std::shared_ptr<const Model> modelPtr() const { return model_; }
    QString modelPath() const { return modelPath_; }
    bool hasImage() const { return image_.width > 0; }
    const ImageRGB8& image() const { return image_; }
    const QImage& qimage() const { return qimage_; } // for display: at most kMaxDisplaySide a side
    // The original image's size: the frame of every "in original" coordinate (geometry, boxes, grids).
    QSizeF imageSize() const { return QSizeF(image_.width, image_.height); }
    // qimage() pixels per original pixel (1 unless a huge image is shown downscaled).
    double displayScale() const { return image_.width > 0 ? double(qimage_.width()) / image_.width : 1.0; }
    QString imageName() const { return imageName_; }
    const RunResult* result() const { return result_.get(); }
    std::shared_ptr<const RunResult> resultPtr() const { return result_; } // for work off the GUI thread
    const Tensor& input() const { return input_; }
    const Selection& selection() const { return sel_; }
    const DisplayOptions& display() const { return display_; }

    void setModel(std::shared_ptr<const Model> model, const QString& path); // clears the result
    void setImage(ImageRGB8 image, const QString& name);                  // clears the result
    void setResult(std::shared_ptr<const RunResult> result, Tensor input);
    void setSelection(Selection s); // clamped to the result; emits only on change
    void setDisplay(const DisplayOptions& d);

    // Queries on the current result (all safe without one).
    std::vector<Site> sites() const;
    int layerCount(Site site) const;
    const AttentionMap* map(Site site, int layer) const;
    const AttentionMap* currentMap() const { return map(sel_.site, sel_.layer); }
    int headCount() const;                            // of the current map
    QueryMap queryMap(const Selection& s) const;      // head or fusion of s, row s.query
    QueryMap currentQueryMap() const { return queryMap(sel_); }
    // Every head of `layer` on basis's site, unfused, row basis.query: the cells of the head grids.
    std::vector<QueryMap> headMaps(const Selection& basis, int layer) const;
    // Full [n_q, n_k] matrix of the selection's head or fusion.
    std::vector<float> matrix(const Selection& s) const;
    QString tokenName(int token) const;               // "CLS", "DIST", "patch 37 (r 2, c 9)", "query 7 (cat 0.93)"
    QString selectionCaption() const;                 // one line for exports and titles

    // DETR. Detections: the result's detections above the threshold (empty for other models). Each kind of
    // site remembers its own query: the encoder's is a feature cell (the "reference point"), the
    // decoders' an object query (a detection); switching site kind restores that kind's query.
    bool isDetr() const;
    float detectionThreshold() const { return threshold_; }
    void setDetectionThreshold(float t);              // emits detectionsChanged on change
    const std::vector<Detection>& detections() const { return detections_; }
    int detectionOfQuery(int query) const;            // index into detections(), -1 when below the threshold
    int queryFor(Site site) const;                    // the query for that kind of site
    void setQueryFor(Site site, int query);           // the selection follows when it is on that kind

signals:
    void modelChanged();
    void imageChanged();
    void resultChanged();
    void selectionChanged();
    void displayChanged();
    void detectionsChanged();
    void queriesChanged(); // queryFor() of either kind changed

private:
    Selection clamp(Selection s) const;
    bool rememberQuery(const Selection& s); // whether queryFor(s.site) changed
    void updateDetections();

    std::shared_ptr<const Model> model_;
    QString modelPath_;
    ImageRGB8 image_;
    QImage qimage_;
    QString imageName_;
    std::shared_ptr<const RunResult> result_;
    Tensor input_;
    Selection sel_;
    bool freshModel_ = false; // next result picks the default selection
    DisplayOptions display_;
    float threshold_ = 0.7f;               // DETR colab's default
    std::vector<Detection> detections_;
    int encoderQuery_ = 0, decoderQuery_ = 0;
};

inline bool isDecoderSite(Site s) { return s != Site::Encoder; }

QString fusionName(Fusion f);
// Row q of `m` for head h, or fused over heads (mean / max / min).
std::vector<float> attentionRow(const AttentionMap& m, int head, Fusion fusion, int q);

} // namespace attnscope::ui
