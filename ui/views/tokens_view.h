// What the tokens carry (issue 17): the residual stream's token norms of the selected layer over the
// original image (what the model did not see dimmed), high-norm tokens (> k × the layer's median patch
// norm) outlined; the attention-sink shares as a layer × head map with its axes named; the PCA of the
// final-norm patch tokens as RGB.
// Every number comes from core/analysis/tokens on the Document's result (RunResult::token_norms,
// final_tokens, the encoder maps); DETR's are its encoder's feature cells (no final tokens, no PCA).
#pragma once

#include "core/analysis/tokens.h"
#include "ui/views/view.h"

#include <QImage>
#include <QRectF>

#include <memory>

class QComboBox;
class QDoubleSpinBox;

namespace attnscope::ui {

class TokensCanvas : public QWidget {
    Q_OBJECT
public:
    TokensCanvas(Document* doc, QWidget* parent);
    void setData(Tensor norms, std::vector<analysis::NormOutlier> outliers, Tensor sinks, Tensor pca, int layer, double k);
    void setMessage(const QString& text);
    // What the left map shows when it is not the token norms (a picked token's attention): its title and
    // colour-bar label; empty: the norms. `picked`: the picked patch (row-major in the grid), −1 none.
    void setLeftLabels(QString title, QString bar, int picked);
    const Tensor& norms() const { return norms_; } // [grid_h, grid_w]: the left map as shown
    QString leftTitle() const { return leftTitle_; }
    // The patch cell at a widget position (row-major in the grid), −1 outside the grid.
    int cellAt(QPointF pos) const;
    QRectF gridRect() const { return gridRect_; } // where the patch grid was last drawn
    int layer() const { return layer_; }
    QString message() const { return message_; }

signals:
    void cellClicked(int cell);

protected:
    void paintEvent(QPaintEvent*) override;
    void mousePressEvent(QMouseEvent* e) override;

private:
    Document* doc_;
    QString leftTitle_, leftBar_;
    int picked_ = -1;
    QRectF gridRect_; // where the patch grid was drawn (widget coordinates)
    Tensor norms_, sinks_, pca_;
    std::vector<analysis::NormOutlier> outliers_;
    int layer_ = 0;
    double k_ = 2;
    QString message_;
};

class TokensView : public View {
    Q_OBJECT
public:
    explicit TokensView(Document* doc, QWidget* parent = nullptr);
    QString viewId() const override { return "tokens"; }
    QString title() const override { return tr("Tokens"); }
    QWidget* canvas() override;
    std::vector<float> shownValues() const override;   // the shown layer's patch norms [grid_h, grid_w]
    std::vector<int64_t> shownShape() const override;
    QString caption() const override;
    QSize screenshotSize() const override { return {900, 520}; }
    TokensCanvas* tokensCanvas() const { return canvas_; }
    void setNormK(double k);
    // Click a token (e.g. an outlined high-norm one): the left map can show its attention out (its row over
    // the patches) or in (every patch's attention to it), at the shown layer, for the selected head(s).
    enum class Show { Norms, AttentionOut, AttentionIn };
    void setShow(Show s);
    Show show() const;
    void pickToken(int token); // a token index of the sequence (as the attention maps); −1 clears
    int pickedToken() const { return picked_; }

protected:
    void refresh() override;

private:
    QDoubleSpinBox* k_;
    QComboBox* show_;
    TokensCanvas* canvas_;
    int picked_ = -1;
    std::weak_ptr<const RunResult> pcaFor_; // the result the cached PCA belongs to
    Tensor pca_;
};

} // namespace attnscope::ui
