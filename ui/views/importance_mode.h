// The Model view's "importance" mode (issue 18): each cell of the layer × head grid coloured by how much
// the current image's prediction depends on that head alone — core's head_importance (Michel et al.
// 2019): the target's logit / probability of the baseline run minus its value with that one head
// ablated (the interventions bar's zero / mean mode; masked patches stay masked; other switched-off
// heads are NOT part of the baseline — each head alone). Computed off the GUI thread with progress
// and cancel, cached per (image, model, mode, masked patches, site, detection). Target: a classifier's
// top-1 class; a detector (DETR, YOLOS): the detection selected in the document (DetrState::queryFor of
// the decoder — the one the Detections and Explain views show), its top class at the baseline, followed
// by query index (core's rule with `detection`); recomputed (or taken from the cache) when the selection
// moves to another detection. No selection (no detections at hand): core's best detection. The status
// line and the hover read-out name the query and class measured.
#pragma once

#include "core/analysis/importance.h"
#include "ui/document.h"

#include <QObject>
#include <QRectF>
#include <QString>

#include <functional>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

class QPainter;

namespace attnscope::ui {

class BackgroundTask;

class ImportanceState : public QObject {
    Q_OBJECT
public:
    explicit ImportanceState(Document* doc, QObject* parent = nullptr);

    bool enabled() const { return enabled_; }
    void setEnabled(bool on);      // on: compute (or take from the cache) for the document now
    bool showsProb() const { return prob_; }
    void setShowsProb(bool prob);  // Δ probability (true) or Δ logit
    void setSite(Site site);       // the Model view's site
    Site site() const { return site_; }

    // The table for the document's current image, model, mode, masks and site; null while computing,
    // off, or when it failed (status() says why).
    const analysis::HeadImportance* current() const { return current_.get(); }
    bool busy() const;
    void cancel();
    QString status() const { return status_; } // what is shown (target, mode) or why nothing is
    QString metricName() const;                // "Δ probability" / "Δ logit"
    // The DETR query the table is (to be) about: the document's selected detection; -1 for classifiers
    // and when there is none (then core measures the best detection).
    int detection() const;
    // What the shown table measures, short: "query 5 'cat'" / "'tabby cat'"; empty without a table.
    QString targetName() const;
    double value(int layer, int head) const;   // of the shown metric (current() required)
    // The csv of core's importance_csv (the CLI's head_importance.csv); empty without a table.
    QString csv() const;

signals:
    void changed();                      // current() / status() / metric changed: repaint
    void progress(int done, int total);
    void busyChanged(bool busy);

private:
    // image serial, model, mode, masks, site, detection
    using Key = std::tuple<quint64, const Model*, int, std::vector<int>, int, int>;
    Key key() const;
    void update(); // look the key up; compute when missing

    Document* doc_;
    BackgroundTask* task_;
    bool enabled_ = false, prob_ = true;
    Site site_ = Site::Encoder;
    quint64 imageSerial_ = 0;
    Key asked_; // the key of the last update(): a selection that leaves it alone recomputes nothing
    std::map<Key, std::shared_ptr<const analysis::HeadImportance>> cache_;
    std::shared_ptr<const analysis::HeadImportance> current_;
    QString status_;
};

// The heads in order of decreasing value of the metric (ties: lower layer, then head), at most k.
std::vector<std::pair<int, int>> topHeads(const analysis::HeadImportance& imp, bool prob, int k);

// The importance grid: every cell filled with its value on the diverging map (0 = white, symmetric
// range), its value written when the cell is large enough, the `top` most important heads outlined and
// ranked ("1", "2", …), the colour bar in `bar`.
void paintImportance(QPainter& p, const ImportanceState& st, const std::function<QRectF(int, int)>& cellRect,
                     const QRectF& bar, const QColor& text, int top = 3);

} // namespace attnscope::ui
