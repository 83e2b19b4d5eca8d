// Exports of a view: PNG / SVG / PDF with a caption line above the picture, the clipboard image,
// and the data behind it (.npy). Every file is written atomically (QSaveFile / core write_file_atomic).
#pragma once

#include <QImage>
#include <QRect>
#include <QString>

#include <cstdint>
#include <vector>

class QWidget;

namespace attnscope::ui {

// A canvas that is a figure inside room of its own (an image letterboxed in its dock, a read-out line
// under it): exports take figureRect() only, painted without the interactive hints.
class FigureCanvas {
public:
    virtual ~FigureCanvas() = default;
    virtual QRect figureRect() const = 0;     // widget coordinates: the figure and its colour bar
    virtual void setExporting(bool on) = 0;   // true while an export paints: no hints, no hover marks
};

// The caption band plus `canvas` rendered as it is on screen (a FigureCanvas: its figure only).
QImage renderWithCaption(QWidget* canvas, const QString& caption);
// Format from the suffix: .png, .svg, .pdf. Returns an error message, empty on success.
QString exportView(QWidget* canvas, const QString& caption, const QString& path);
QString exportNpy(const std::vector<float>& values, const std::vector<int64_t>& shape, const QString& path);
// Any bytes (e.g. detections .json), atomically. Returns an error message, empty on success.
QString exportBytes(const QByteArray& bytes, const QString& path);

} // namespace attnscope::ui
