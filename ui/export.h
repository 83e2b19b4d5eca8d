// Exports of a view: PNG / SVG / PDF with a caption line above the picture, the clipboard image,
// and the data behind it (.npy). Every file is written atomically (QSaveFile / core write_file_atomic).
#pragma once

#include <QImage>
#include <QString>

#include <cstdint>
#include <vector>

class QWidget;

namespace attnscope::ui {

// The caption band plus `canvas` rendered as it is on screen.
QImage renderWithCaption(QWidget* canvas, const QString& caption);
// Format from the suffix: .png, .svg, .pdf. Returns an error message, empty on success.
QString exportView(QWidget* canvas, const QString& caption, const QString& path);
QString exportNpy(const std::vector<float>& values, const std::vector<int64_t>& shape, const QString& path);
// Any bytes (e.g. detections .json), atomically. Returns an error message, empty on success.
QString exportBytes(const QByteArray& bytes, const QString& path);

} // namespace attnscope::ui
