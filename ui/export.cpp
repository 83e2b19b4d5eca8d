#include "ui/export.h"

#include "core/io/npy.h"

#include <QFileInfo>
#include <QPainter>
#include <QPdfWriter>
#include <QSaveFile>
#include <QSvgGenerator>
#include <QWidget>

#include <cmath>
#include <exception>

namespace attnscope::ui {
namespace {
constexpr int kCaption = 28;

// What an export takes of the canvas: the figure of a FigureCanvas, else all of it.
QRect exportRect(QWidget* canvas) {
    const auto* fc = dynamic_cast<const FigureCanvas*>(canvas);
    const QRect r = fc ? fc->figureRect().intersected(canvas->rect()) : QRect();
    return r.isEmpty() ? canvas->rect() : r;
}

// Exporting on while it lives (a FigureCanvas paints without hints).
struct ExportingScope {
    explicit ExportingScope(QWidget* c) : fc(dynamic_cast<FigureCanvas*>(c)) { if (fc) fc->setExporting(true); }
    ~ExportingScope() { if (fc) fc->setExporting(false); }
    FigureCanvas* fc;
};

// The caption's font and band height for a figure `width` px wide: one line, shrunk down to 85%; a
// narrower figure (a tall model view) gets it word-wrapped on as many lines as it needs, never elided.
struct CaptionLayout {
    QFont font;
    int height = kCaption;
    bool wrap = false;
};
CaptionLayout captionLayout(const QWidget* canvas, const QString& caption, int width) {
    CaptionLayout c{canvas->font()};
    const double fit = double(width - 16) / std::max(1.0, QFontMetricsF(c.font).horizontalAdvance(caption));
    if (fit >= 1.0) return c;
    c.font.setPointSizeF(c.font.pointSizeF() * std::max(0.85, fit));
    if (fit >= 0.85) return c;
    c.wrap = true;
    const QRectF r = QFontMetricsF(c.font).boundingRect(QRectF(0, 0, width - 16, 10000), Qt::TextWordWrap, caption);
    c.height = std::max(kCaption, int(std::ceil(r.height())) + 10);
    return c;
}

void paintComposite(QPainter& p, QWidget* canvas, const QString& caption) {
    const ExportingScope exporting(canvas);
    const QRect src = exportRect(canvas);
    const QSize sz = src.size();
    const CaptionLayout c = captionLayout(canvas, caption, sz.width());
    p.fillRect(QRect(0, 0, sz.width(), sz.height() + c.height), canvas->palette().window());
    p.setPen(canvas->palette().color(QPalette::Text));
    p.setFont(c.font);
    p.drawText(QRect(8, 0, sz.width() - 16, c.height), Qt::AlignVCenter | Qt::AlignLeft | (c.wrap ? Qt::TextWordWrap : 0),
               caption);
    canvas->render(&p, QPoint(0, c.height), QRegion(src), QWidget::DrawChildren);
}

QSize compositeSize(QWidget* canvas, const QString& caption) {
    const QSize sz = exportRect(canvas).size();
    return {sz.width(), sz.height() + captionLayout(canvas, caption, sz.width()).height};
}
} // namespace

QImage renderWithCaption(QWidget* canvas, const QString& caption) {
    QImage img(compositeSize(canvas, caption), QImage::Format_RGB32);
    QPainter p(&img);
    paintComposite(p, canvas, caption);
    return img;
}

QString exportView(QWidget* canvas, const QString& caption, const QString& path) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    const QSize full = compositeSize(canvas, caption);
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) return QObject::tr("%1: cannot write (%2)").arg(path, file.errorString());
    bool ok = true;
    if (suffix == "png") {
        ok = renderWithCaption(canvas, caption).save(&file, "PNG", 0); // 0: smallest file
    } else if (suffix == "svg") {
        QSvgGenerator gen;
        gen.setOutputDevice(&file);
        gen.setSize(full);
        gen.setViewBox(QRect(QPoint(0, 0), full));
        gen.setTitle(caption);
        gen.setDescription(QObject::tr("AttnScope export"));
        QPainter p(&gen);
        paintComposite(p, canvas, caption);
        ok = p.end();
    } else if (suffix == "pdf") {
        QPdfWriter pdf(&file);
        pdf.setTitle(caption);
        pdf.setCreator("AttnScope");
        pdf.setResolution(96);
        pdf.setPageMargins(QMarginsF(0, 0, 0, 0));
        pdf.setPageSize(QPageSize(QSizeF(full.width() * 72.0 / 96, full.height() * 72.0 / 96), QPageSize::Point));
        QPainter p(&pdf);
        paintComposite(p, canvas, caption);
        ok = p.end();
    } else {
        file.cancelWriting();
        return QObject::tr("%1: unknown format (use .png, .svg or .pdf)").arg(path);
    }
    if (!ok) {
        file.cancelWriting();
        return QObject::tr("%1: rendering failed").arg(path);
    }
    if (!file.commit()) return QObject::tr("%1: cannot write (%2)").arg(path, file.errorString());
    return {};
}

QString exportNpy(const std::vector<float>& values, const std::vector<int64_t>& shape, const QString& path) {
    try {
        write_file_atomic(path.toStdString(), npy_bytes(values.data(), Shape(shape.begin(), shape.end())));
    } catch (const std::exception& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

QString exportBytes(const QByteArray& bytes, const QString& path) {
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) return QObject::tr("%1: cannot write (%2)").arg(path, file.errorString());
    if (file.write(bytes) != bytes.size()) {
        file.cancelWriting();
        return QObject::tr("%1: cannot write (%2)").arg(path, file.errorString());
    }
    if (!file.commit()) return QObject::tr("%1: cannot write (%2)").arg(path, file.errorString());
    return {};
}

} // namespace attnscope::ui
