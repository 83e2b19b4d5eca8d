// Typed settings: the one place that knows every QSettings key and its default.
#pragma once

#include <QByteArray>
#include <QSettings>
#include <QString>
#include <QStringList>

namespace attnscope::ui {

class Settings {
public:
    Settings(); // QSettings for the application's organisation/name

    static constexpr int kMaxRecent = 10;
    QStringList recentFiles() const;
    void addRecentFile(const QString& path); // most recent first, deduplicated
    void clearRecentFiles();

    QString lastDirectory() const;
    void setLastDirectory(const QString& dir);

    QString colormap() const;           // "viridis"
    void setColormap(const QString& name);
    double opacity() const;             // 0.6
    void setOpacity(double v);
    bool showGrid() const;              // false
    void setShowGrid(bool on);
    bool smooth() const;                // true: bilinear upsampling of the map
    void setSmooth(bool on);

    double detectionThreshold() const;  // 0.7, as the DETR colab
    void setDetectionThreshold(double t);

    QByteArray windowGeometry() const;
    void setWindowGeometry(const QByteArray& g);
    QByteArray windowState() const;     // docks and toolbars
    void setWindowState(const QByteArray& s);

private:
    QSettings s_;
};

} // namespace attnscope::ui
