#include "ui/settings.h"

#include <QDir>

namespace attnscope::ui {
namespace {
constexpr auto kRecent = "files/recent";
constexpr auto kLastDir = "files/lastDirectory";
constexpr auto kColormap = "display/colormap";
constexpr auto kOpacity = "display/opacity";
constexpr auto kGrid = "display/showGrid";
constexpr auto kSmooth = "display/smooth";
constexpr auto kDetrThreshold = "detr/threshold";
constexpr auto kGeometry = "window/geometry";
constexpr auto kState = "window/state";
} // namespace

Settings::Settings() = default;

QStringList Settings::recentFiles() const { return s_.value(kRecent).toStringList(); }

void Settings::addRecentFile(const QString& path) {
    QStringList list = recentFiles();
    list.removeAll(path);
    list.prepend(path);
    while (list.size() > kMaxRecent) list.removeLast();
    s_.setValue(kRecent, list);
}

void Settings::clearRecentFiles() { s_.remove(kRecent); }

QString Settings::lastDirectory() const { return s_.value(kLastDir, QDir::homePath()).toString(); }
void Settings::setLastDirectory(const QString& dir) { s_.setValue(kLastDir, dir); }

QString Settings::colormap() const { return s_.value(kColormap, "viridis").toString(); }
void Settings::setColormap(const QString& name) { s_.setValue(kColormap, name); }

double Settings::opacity() const { return qBound(0.0, s_.value(kOpacity, 0.6).toDouble(), 1.0); }
void Settings::setOpacity(double v) { s_.setValue(kOpacity, v); }

bool Settings::showGrid() const { return s_.value(kGrid, false).toBool(); }
void Settings::setShowGrid(bool on) { s_.setValue(kGrid, on); }

bool Settings::smooth() const { return s_.value(kSmooth, true).toBool(); }
void Settings::setSmooth(bool on) { s_.setValue(kSmooth, on); }

double Settings::detectionThreshold() const { return qBound(0.0, s_.value(kDetrThreshold, 0.7).toDouble(), 1.0); }
void Settings::setDetectionThreshold(double t) { s_.setValue(kDetrThreshold, t); }

QByteArray Settings::windowGeometry() const { return s_.value(kGeometry).toByteArray(); }
void Settings::setWindowGeometry(const QByteArray& g) { s_.setValue(kGeometry, g); }
QByteArray Settings::windowState() const { return s_.value(kState).toByteArray(); }
void Settings::setWindowState(const QByteArray& st) { s_.setValue(kState, st); }

} // namespace attnscope::ui
