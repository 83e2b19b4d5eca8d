// DETR before → after (issue 18): with interventions, each object query's detection in the clean run
// ("before", Document::baseline) and in the intervened run ("after"), matched by query index — the same
// query is the same slot of the decoder — and classified against the threshold: vanished (above it before
// only), appeared (after only), moved (both, the box shifted by more than kMovePx original pixels on some
// side, or the label changed), kept (both, same place). Drawn both ways: before dashed, after solid.
#pragma once

#include "core/models/detr.h"

#include <QColor>
#include <QRectF>
#include <QString>
#include <QTransform>

#include <vector>

class QPainter;

namespace attnscope::ui {

struct BoxChange {
    enum Kind { Kept, Moved, Vanished, Appeared };
    Kind kind = Kept;
    int query = -1;
    Detection before, after; // the query's detection in each run (scores below the threshold included)
};

inline constexpr double kMovePx = 2.0;

// Every query above `threshold` in either run (both lists: every query, index = query), by query.
std::vector<BoxChange> detectionChanges(const std::vector<Detection>& before, const std::vector<Detection>& after, float threshold);
QString boxChangeName(BoxChange::Kind k); // "kept", "moved", "vanished", "appeared"

// Both ways over the image: vanished boxes dashed grey-red, appeared solid green, moved: the before box
// dashed and the after box solid with an arrow between their centres, kept solid; tags "label score".
void paintDetectionChanges(QPainter& p, const std::vector<BoxChange>& changes, const QTransform& toTarget, const QRectF& clip);
// The legend (a small framed key) with its top-left at `at`.
void paintChangesLegend(QPainter& p, const QPointF& at);

} // namespace attnscope::ui
