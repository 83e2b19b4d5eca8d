// Explain (issue 16): why the model predicted a class. The predictions list (top-k: click a class, or type
// any class index or name) sets the Document's target class, the method picker the method
// (core/explain/explain.h: chefer2, gradcam, grad-rollout, rollout, attention); the relevance map is laid
// over the original image with its colour bar and hover read-out. Computed off the GUI thread
// (BackgroundTask), cached per (method, target) for the current result; side by side: a second method or a
// second class. DETR: the selected detection, as far as the engine can explain it (else it says why): its
// class logit or, by the target picker, one of its box coordinates (cx, cy, w, h); its box is outlined over
// the map (and in exported figures) as the Detections view draws the selected detection.
#pragma once

#include "core/explain/explain.h"
#include "ui/views/explain_canvas.h"
#include "ui/views/view.h"

#include <map>
#include <memory>
#include <tuple>

class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;

namespace attnscope::ui {

class BackgroundTask;

class ExplainView : public View {
    Q_OBJECT
public:
    explicit ExplainView(Document* doc, QWidget* parent = nullptr);
    QString viewId() const override { return "explain"; }
    QString title() const override { return tr("Explain"); }
    QWidget* canvas() override;
    // The map(s) shown: [grid_h, grid_w], or [2, grid_h, grid_w] side by side.
    std::vector<float> shownValues() const override;
    std::vector<int64_t> shownShape() const override;
    QString caption() const override;
    bool busy() const override;
    bool besideImage() const override { return true; }
    QSize screenshotSize() const override { return {1000, 620}; }

    enum class Compare { None, Method, Class };
    ExplainCanvas* explainCanvas() const { return canvas_; }
    // What is asked for now: (method, class) per panel (class −1: no class, e.g. DETR's detection).
    struct Request {
        explain::Method method = explain::Method::Rollout;
        int target = -1;    // class index
        int detection = -1; // DETR: the query
        int box = -1;       // DETR: the box coordinate explained (0…3 = cx, cy, w, h), −1: the class logit
        bool operator<(const Request& o) const {
            return std::tie(method, target, detection, box) < std::tie(o.method, o.target, o.detection, o.box);
        }
    };
    std::vector<Request> requests() const;
    int computed() const { return computed_; } // explanations computed since the view was made (cache misses)
    // Resolves what a user typed — a class index or (part of) a label — to a class index; -1 if none.
    int classFromText(const QString& text) const;

protected:
    void refresh() override;

private:
    struct Entry {
        explain::Explanation e;
        QString error; // why there is no map (kept: the same request fails the same way)
    };
    void rebuildPredictions();
    void targetTyped();
    void compareChanged();
    void show(const std::vector<Request>& reqs);
    ExplainCanvas::Panel panelFor(const Request& r) const;
    QString methodTitle(explain::Method m) const;
    QString className(int index) const;
    int topClass() const;
    bool isDetr() const; // a DETR model: the target picker (class logit or a box coordinate) is shown

    QComboBox* method_;
    QWidget* detrTargetBox_;  // "Explain [class logit ▾]": DETR models only
    QComboBox* detrTarget_;   // data: −1 class logit, 0…3 box cx, cy, w, h
    QComboBox* compare_;
    QComboBox* method2_;
    QLineEdit* target2_;
    QListWidget* predictions_;
    QLineEdit* target_;
    QLabel* targetNote_;
    ExplainCanvas* canvas_;
    BackgroundTask* task_;
    std::map<Request, Entry> cache_; // for cacheResult_
    std::weak_ptr<const RunResult> cacheResult_; // weak: no reuse of its address by a later result
    double cacheDiscard_ = -1;
    int target2Class_ = -1; // the second class of a class comparison (−1: the next prediction)
    int computed_ = 0;
};

} // namespace attnscope::ui
