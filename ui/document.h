// The one document every view observes: model, image, the last RunResult, the selection and the
// display options. Views repaint from here; changing the selection never re-runs the model.
#pragma once

#include "core/analysis/heads.h"
#include "core/models/model.h"
#include "ui/convert.h"

#include <QImage>
#include <QRectF>
#include <QSizeF>
#include <QObject>
#include <QString>

#include <memory>
#include <vector>

namespace attnscope::ui {

class DetrState;

// What the views show: a map (site, layer), its head or fusion of heads (core's HeadSelect: head >= 0
// one head, head < 0 `fusion` over all) and a query row.
struct Selection {
    Site site = Site::Encoder;
    int layer = 0;
    analysis::HeadSelect heads{0};
    int query = 0; // query token index (0 = CLS for ViTs)
    bool operator==(const Selection&) const = default;
};

struct DisplayOptions {
    Colormap colormap = Colormap::Viridis;
    double opacity = 0.6;
    bool fade = true; // low attention transparent (alpha from value); false: the whole map at `opacity`
    bool grid = false;
    bool smooth = true;
    bool operator==(const DisplayOptions&) const = default;
};

// One query's attention over the keys, and its grid part when the keys are grid cells (core's type).
using QueryMap = analysis::QueryAttention;

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
    // Clamped to the result (site, layer, head, query; a fused selection keeps head < 0); emits only on
    // change. A change of site kind (encoder ↔ decoder) that keeps the query number brings back that
    // kind's own remembered query (DetrState::queryFor).
    void setSelection(Selection s);
    void setDisplay(const DisplayOptions& d);
    // The class the class-specific views explain (a label index of the model; -1: none chosen, i.e. the
    // top prediction). Set by clicking a class in the Predictions view; a new model clears it.
    int targetClass() const { return targetClass_; }
    void setTargetClass(int label); // emits targetClassChanged on change

    // Queries on the current result (all safe without one).
    std::vector<Site> sites() const;
    int layerCount(Site site) const;
    const AttentionMap* map(Site site, int layer) const;
    const AttentionMap* currentMap() const { return map(sel_.site, sel_.layer); }
    int headCount() const;                            // of the current map
    // core's query_attention / head_maps / head_matrix on the selected map; empty when the selection is
    // outside the result (no map, query or head out of range).
    QueryMap queryMap(const Selection& s) const;      // head or fusion of s, row s.query
    QueryMap currentQueryMap() const { return queryMap(sel_); }
    // Every head of `layer` on basis's site, unfused, row basis.query: the cells of the head grids.
    std::vector<QueryMap> headMaps(const Selection& basis, int layer) const;
    // Full [n_q, n_k] matrix of the selection's head or fusion.
    std::vector<float> matrix(const Selection& s) const;
    // The image grid in original-image pixels (analysis::grid_in_original), and the part of the original
    // the model saw (analysis::seen_in_original: the grid clipped to the image; the image without a result).
    QRectF gridInOriginal() const;
    QRectF seenInOriginal() const;
    // One naming everywhere (spin box, hover, captions): the token index, then where it lies.
    QString tokenName(int token) const;               // "CLS", "DIST", "token 38 (row 2, col 9)", "query 7 (cat 0.93)", "DET 3 (cat 0.93)"
    QString selectionCaption() const;                 // one line for exports and titles

    // What the RunController is doing (set by it), so that a view without a result says why instead
    // of "Running…" forever: after a cancel, a failure, or with a model or an image still missing.
    enum class RunState { Idle, Running, Cancelled, Failed };
    RunState runState() const { return runState_; }
    void setRunState(RunState s, const QString& error = {}); // emits runStateChanged on change
    QString waitingText() const; // for "no result here": "Running…", "Cancelled — …", "Failed: …", "Open …"

    // Interventions (issue 18): the heads the next runs switch off and the patches they mask (core's
    // Interventions; Session::set_interventions). Setting them runs nothing (InterventionsBar reruns);
    // a new model clears them (its heads are others) with modelChanged, not interventionsChanged.
    const Interventions& interventions() const { return interventions_; }
    void setInterventions(Interventions iv); // emits interventionsChanged on change
    // The last result of this model and image run without interventions: the "before" of the Predictions
    // view's before → after. Null when there is none yet.
    const RunResult* baseline() const { return baseline_.get(); }
    void setBaseline(std::shared_ptr<const RunResult> clean); // a clean run made beside an intervened one

    // DETR and YOLOS: threshold, detections, the encoder / decoder query memory (see detr_state.h).
    DetrState* detr() const { return detr_; }

signals:
    void modelChanged();
    void imageChanged();
    void resultChanged();
    void selectionChanged();
    void displayChanged();
    void targetClassChanged(int label);
    void runStateChanged();
    void interventionsChanged();

private:
    Selection clamp(Selection s) const;

    std::shared_ptr<const Model> model_;
    QString modelPath_;
    ImageRGB8 image_;
    QImage qimage_;
    QString imageName_;
    std::shared_ptr<const RunResult> result_;
    std::shared_ptr<const RunResult> baseline_;
    Interventions interventions_;
    Tensor input_;
    Selection sel_;
    bool freshModel_ = false; // next result picks the default selection
    DisplayOptions display_;
    int targetClass_ = -1;
    DetrState* detr_; // child
    RunState runState_ = RunState::Idle;
    QString runError_;
};

inline bool isDecoderSite(Site s) { return s == Site::DecoderSelf || s == Site::DecoderCross; }
// The site as people say it: "Encoder self-attention", "Decoder self-attention", "Decoder cross-attention",
// "Attention pooling (probe)"
// (core's site_name is the file-name form, "decoder_cross").
QString siteTitle(Site s);

// "head 3" or "heads mean": captions and titles.
QString headsName(const analysis::HeadSelect& h);

} // namespace attnscope::ui
