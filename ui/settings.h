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

    // From now on every Settings (every QSettings of this process) reads and writes an empty store in
    // `dir` instead of the user's: --screenshot renders its arguments with the defaults and leaves the
    // user's recent files, folders and window layout alone.
    static void useScratchStore(const QString& dir);

    static constexpr int kMaxRecent = 10;
    QStringList recentFiles() const;
    void addRecentFile(const QString& path); // absolute (made so), most recent first, deduplicated

    QString lastDirectory() const;           // where the last model or image was opened from (open dialogs)
    void setLastDirectory(const QString& dir);
    QString lastExportDirectory() const;     // where the last export went (export dialogs); home at first
    void setLastExportDirectory(const QString& dir);

    QString colormap() const;           // "viridis"
    void setColormap(const QString& name);
    double opacity() const;             // 0.6
    void setOpacity(double v);
    bool showGrid() const;              // false
    void setShowGrid(bool on);
    bool smooth() const;                // true: bilinear upsampling of the map
    void setSmooth(bool on);
    bool fade() const;                  // true: low attention transparent (alpha from value); false: flat opacity
    void setFade(bool on);
    bool matrixLog() const;             // false: the attention matrix on a linear colour scale; true: log
    void setMatrixLog(bool on);

    double detectionThreshold() const;  // 0.7, as the DETR colab
    void setDetectionThreshold(double t);

    QByteArray windowGeometry() const;
    void setWindowGeometry(const QByteArray& g);
    QByteArray windowState() const;     // docks and toolbars
    void setWindowState(const QByteArray& s);

    // Analysis views.
    QString rolloutFusion() const;      // "mean" | "max" | "min"
    void setRolloutFusion(const QString& f);
    double rolloutDiscard() const;      // 0.9, in [0, 0.99]
    void setRolloutDiscard(double r);
    bool rolloutUpToLayer() const;      // false: all layers; true: up to the selected layer
    void setRolloutUpToLayer(bool on);
    double maskMass() const;            // 0.6 (DINO's τ), in [0.01, 1]
    void setMaskMass(double m);
    bool maskShowAttention() const;     // false; true: the head's attention under its mask
    void setMaskShowAttention(bool on);
    bool posSimTileRange() const;       // false: −1…1 as the paper; true: each tile its own min…max
    void setPosSimTileRange(bool on);
    int filterCount() const;            // 28 principal axes, as the paper
    void setFilterCount(int n);
    bool distanceMinMax() const;        // false: error bars ± std; true: min…max
    void setDistanceMinMax(bool on);

private:
    QSettings s_;
};

} // namespace attnscope::ui
