// Comparison: a side B beside the window's document (side A) — the same model on a second image, or a
// second model on the same image. B is a second Document run through its own RunController (the same
// Session path as A). The selection (site, layer, head or fusion, query) and the display options are
// locked across both: a change on either side is carried to the other, by meaning where the sides
// differ (a patch query by its row and column, CLS as CLS). What one side lacks (a layer, a head, a
// site, a grid of the same size) is reported by notComparable / noDifference, never clamped silently.
#pragma once

#include "ui/document.h"

#include <QColor>
#include <QObject>
#include <QString>

#include <optional>

namespace attnscope::ui {

class RunController;

class CompareSession : public QObject {
    Q_OBJECT
public:
    enum class Kind {
        Images, // one model (A's), two images: B opens another image
        Models  // one image (A's), two models: B opens another model
    };
    CompareSession(Document* a, Kind kind, QObject* parent = nullptr);
    ~CompareSession() override;

    Kind kind() const { return kind_; }
    Document* a() const { return a_; }
    Document* b() const { return b_; }
    Document* side(int i) const { return i == 0 ? a_ : b_; }
    RunController* runnerB() const { return runnerB_; }

    // Starts side B: Kind::Images: `path` is B's image, run with A's model; Kind::Models: `path` is B's
    // model, run on A's image. Returns an error message (A lacks the model / image to share), empty when started.
    QString start(const QString& path);

    // "A" / "B", their colours (plots, badges), and what each side is: "deit-tiny · cat.jpg".
    static QString sideLetter(int i) { return i == 0 ? "A" : "B"; }
    static QColor sideColour(int i);
    QString sideSource(int i) const;

    // `s`, a selection of `from`, as the same thing on `to`: site, layer and heads as they are, the query by
    // what it is (mapQuery); a query with no counterpart is kept as `to`'s. Unchanged without results.
    static Selection mapSelection(const Document& from, const Document& to, const Selection& s);
    // The token of `to` that is `query` of `from` on an encoder map: CLS i / DIST / register i by kind and
    // index, a patch by (row, col) when both grids have the same size; decoder object queries by index.
    // -1 when `to` has none.
    static int mapQuery(const TokenLayout& from, const TokenLayout& to, Site site, int query);

    // A's selection as B shows it (mapSelection of A's onto B).
    Selection selectionB() const;
    // Why A's selection cannot be shown on B ("B (dino-vits16) has 12 layers: no layer 12"); empty when it can.
    QString notComparable() const;
    // Why no A − B can be drawn for the selection (the above, or "grids differ: 14×14 vs 16×16"); empty when it can.
    QString noDifference() const;

signals:
    void changed(); // either side's result, selection or display changed: repaint
    void failed(const QString& message); // B failed to load or run ("B: …")

private:
    void pushSelection(Document* from, Document* to, bool force);
    void followA(); // Images: A's model → B; Models: A's image → B

    Document* a_;
    Document* b_;
    RunController* runnerB_;
    Kind kind_;
    bool syncing_ = false;
    std::optional<Selection> lastA_, lastB_; // each side's selection as the lock last left it
};

} // namespace attnscope::ui
