#include "ui/settings.h"

#include <QDir>
#include <QFileInfo>

namespace attnscope::ui {
namespace {
constexpr auto kRecent = "files/recent";
constexpr auto kLastDir = "files/lastDirectory";
constexpr auto kLastExportDir = "files/lastExportDirectory";
constexpr auto kColormap = "display/colormap";
constexpr auto kOpacity = "display/opacity";
constexpr auto kGrid = "display/showGrid";
constexpr auto kSmooth = "display/smooth";
constexpr auto kFade = "display/fade";
constexpr auto kMatrixLog = "matrix/log";
constexpr auto kDetrThreshold = "detr/threshold";
constexpr auto kGeometry = "window/geometry";
constexpr auto kState = "window/state";
constexpr auto kRolloutFusion = "rollout/fusion";
constexpr auto kRolloutDiscard = "rollout/discard";
constexpr auto kRolloutUpToLayer = "rollout/upToSelectedLayer";
constexpr auto kMaskMass = "masks/mass";
constexpr auto kMaskShowAttention = "masks/showAttention";
constexpr auto kPosSimTileRange = "posembed/tileRange";
constexpr auto kFilterCount = "filters/count";
constexpr auto kDistanceMinMax = "distance/minMax";
} // namespace

Settings::Settings() = default;

void Settings::useScratchStore(const QString& dir) {
    for (auto format : {QSettings::NativeFormat, QSettings::IniFormat})
        for (auto scope : {QSettings::UserScope, QSettings::SystemScope}) QSettings::setPath(format, scope, dir);
}

QStringList Settings::recentFiles() const { return s_.value(kRecent).toStringList(); }

void Settings::addRecentFile(const QString& typed) {
    const QString path = QFileInfo(typed).absoluteFilePath(); // opens from any working folder later
    QStringList list = recentFiles();
    list.removeAll(path);
    list.prepend(path);
    while (list.size() > kMaxRecent) list.removeLast();
    s_.setValue(kRecent, list);
}


QString Settings::lastDirectory() const { return s_.value(kLastDir, QDir::homePath()).toString(); }
void Settings::setLastDirectory(const QString& dir) { s_.setValue(kLastDir, dir); }
QString Settings::lastExportDirectory() const { return s_.value(kLastExportDir, QDir::homePath()).toString(); }
void Settings::setLastExportDirectory(const QString& dir) { s_.setValue(kLastExportDir, dir); }

QString Settings::colormap() const { return s_.value(kColormap, "viridis").toString(); }
void Settings::setColormap(const QString& name) { s_.setValue(kColormap, name); }

double Settings::opacity() const { return qBound(0.0, s_.value(kOpacity, 0.6).toDouble(), 1.0); }
void Settings::setOpacity(double v) { s_.setValue(kOpacity, v); }

bool Settings::showGrid() const { return s_.value(kGrid, false).toBool(); }
void Settings::setShowGrid(bool on) { s_.setValue(kGrid, on); }

bool Settings::smooth() const { return s_.value(kSmooth, true).toBool(); }
void Settings::setSmooth(bool on) { s_.setValue(kSmooth, on); }
bool Settings::fade() const { return s_.value(kFade, true).toBool(); }
void Settings::setFade(bool on) { s_.setValue(kFade, on); }
bool Settings::matrixLog() const { return s_.value(kMatrixLog, false).toBool(); }
void Settings::setMatrixLog(bool on) { s_.setValue(kMatrixLog, on); }

double Settings::detectionThreshold() const { return qBound(0.0, s_.value(kDetrThreshold, 0.7).toDouble(), 1.0); }
void Settings::setDetectionThreshold(double t) { s_.setValue(kDetrThreshold, t); }

QByteArray Settings::windowGeometry() const { return s_.value(kGeometry).toByteArray(); }
void Settings::setWindowGeometry(const QByteArray& g) { s_.setValue(kGeometry, g); }
QByteArray Settings::windowState() const { return s_.value(kState).toByteArray(); }
void Settings::setWindowState(const QByteArray& st) { s_.setValue(kState, st); }

QString Settings::rolloutFusion() const {
    const QString f = s_.value(kRolloutFusion, "mean").toString();
    return f == "max" || f == "min" ? f : "mean";
}
void Settings::setRolloutFusion(const QString& f) { s_.setValue(kRolloutFusion, f); }
double Settings::rolloutDiscard() const { return qBound(0.0, s_.value(kRolloutDiscard, 0.9).toDouble(), 0.99); }
void Settings::setRolloutDiscard(double r) { s_.setValue(kRolloutDiscard, r); }
bool Settings::rolloutUpToLayer() const { return s_.value(kRolloutUpToLayer, false).toBool(); }
void Settings::setRolloutUpToLayer(bool on) { s_.setValue(kRolloutUpToLayer, on); }
double Settings::maskMass() const { return qBound(0.01, s_.value(kMaskMass, 0.6).toDouble(), 1.0); }
void Settings::setMaskMass(double m) { s_.setValue(kMaskMass, m); }
bool Settings::maskShowAttention() const { return s_.value(kMaskShowAttention, false).toBool(); }
void Settings::setMaskShowAttention(bool on) { s_.setValue(kMaskShowAttention, on); }
bool Settings::posSimTileRange() const { return s_.value(kPosSimTileRange, false).toBool(); }
void Settings::setPosSimTileRange(bool on) { s_.setValue(kPosSimTileRange, on); }
int Settings::filterCount() const { return qBound(1, s_.value(kFilterCount, 28).toInt(), 768); }
void Settings::setFilterCount(int n) { s_.setValue(kFilterCount, n); }
bool Settings::distanceMinMax() const { return s_.value(kDistanceMinMax, false).toBool(); }
void Settings::setDistanceMinMax(bool on) { s_.setValue(kDistanceMinMax, on); }

} // namespace attnscope::ui
