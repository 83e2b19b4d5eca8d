// DETR's part of the document: the detection threshold, the detections above it (and every query's best
// class, for titles), and the query each kind of site remembers — the encoder's is a feature cell (the
// "reference point"), the decoders' an object query (a detection). Only the DETR-aware views use it
// (Detections view and canvas, the overlay's decoder parts, the heads figure, the selection bar).
// The Document owns it (Document::detr()); for any model that does not detect it is inactive and empty.
//
// YOLOS (detection tokens after the patches, no decoder): a detection's attention is its detection token's
// row of the encoder self-attention. queryFor(Site::DecoderCross) still names the detection (0 … n_det − 1),
// detectionSite() / detectionRow() say where its row is, and a selected encoder row remembers a detection
// when it is a detection token and the reference point when it is a patch.
#pragma once

#include "core/models/detr.h"
#include "ui/detr_changes.h"
#include "ui/document.h"

#include <QObject>

#include <utility>
#include <vector>

namespace attnscope::ui {

class DetrState : public QObject {
    Q_OBJECT
public:
    explicit DetrState(Document* doc); // a child of doc

    static bool isDetectionModel(const Model* m); // a DETR (detection) model, result or not
    bool active() const;                   // a DETR model with its result (boxes)
    float threshold() const { return threshold_; }
    void setThreshold(float t);            // clamped to 0…1; emits detectionsChanged on change
    const std::vector<Detection>& detections() const { return detections_; } // above the threshold
    const std::vector<Detection>& allQueries() const { return all_; }        // every query (index = query)
    int detectionOfQuery(int query) const; // index into detections(), -1 when below the threshold
    // With interventions (issue 18): every query above the threshold before (the clean run,
    // Document::baseline) or after, matched by query; empty without interventions or a baseline.
    const std::vector<BoxChange>& changes() const { return changes_; }
    // Where detection `query`'s attention is: DETR decoder cross-attention row `query`; YOLOS encoder row
    // det_start + query. queryOfRow is the inverse for any site's row (-1: not a detection's row).
    Site detectionSite() const;
    int detectionRow(int query) const;
    int queryOfRow(Site site, int row) const;
    bool isDetectionRow(const Selection& s) const { return queryOfRow(s.site, s.query) >= 0; }
    int queryFor(Site site) const;         // the query that kind of site remembers (decoder: the detection)
    void setQueryFor(Site site, int query); // the document's selection follows when it is on that kind

signals:
    void detectionsChanged();
    void queriesChanged(); // queryFor() of either kind changed

private:
    friend class Document;
    // Called by the Document around a new result / model / image.
    void update(); // recompute the detections (no signal)
    // For a fresh model: the colab's opening (the best object's cross-attention in the last decoder layer,
    // the encoder's reference point at its box centre); false when not DETR.
    bool opening(Selection& sel);
    void clampQueries();
    const TokenLayout* tokenDetections() const; // YOLOS's layout (detection tokens), else nullptr
    bool remember(const Selection& s); // whether queryFor(s.site) changed
    std::pair<int, int> queries() const { return {encoderQuery_, decoderQuery_}; }
    void resetQueries() { encoderQuery_ = decoderQuery_ = 0; }

    Document* doc_;
    float threshold_ = 0.7f; // DETR colab's default
    void updateChanges();
    std::vector<Detection> detections_, all_;
    std::vector<BoxChange> changes_;
    int encoderQuery_ = 0, decoderQuery_ = 0;
};

} // namespace attnscope::ui
