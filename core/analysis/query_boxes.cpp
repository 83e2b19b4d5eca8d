#include "core/analysis/query_boxes.h"

#include "core/analysis/csv.h"
#include "core/error.h"

#include <cmath>
#include <cstdio>

namespace attnscope::analysis {

std::vector<QueryBox> query_boxes(const std::string& image, const RunResult& r) {
    if (r.boxes.dim() != 2 || r.boxes.size(1) != 4 || r.logits.dim() != 2 || r.logits.size(0) != r.boxes.size(0) || r.logits.size(1) < 2)
        throw Error(ErrorKind::Mismatch, image, "boxes/logits", "expected boxes [Q, 4] and logits [Q, C + 1], got " + shape_str(r.boxes.shape) + " and " + shape_str(r.logits.shape));
    const int Q = static_cast<int>(r.boxes.size(0)), C1 = static_cast<int>(r.logits.size(1));
    std::vector<QueryBox> out;
    for (int q = 0; q < Q; ++q) {
        const float* z = r.logits.ptr() + static_cast<size_t>(q) * C1;
        double mx = z[0];
        for (int c = 1; c < C1; ++c) mx = std::max<double>(mx, z[c]);
        double sum = 0.0;
        for (int c = 0; c < C1; ++c) sum += std::exp(z[c] - mx);
        int best = 0;
        for (int c = 1; c < C1 - 1; ++c)
            if (z[c] > z[best]) best = c;
        const float* b = r.boxes.ptr() + static_cast<size_t>(q) * 4;
        out.push_back({image, q, b[0], b[1], b[2], b[3], static_cast<float>(std::exp(z[best] - mx) / sum), best});
    }
    return out;
}

const char* query_boxes_csv_header() { return "image,query,cx,cy,w,h,score,label\n"; }

std::string query_boxes_csv(const std::vector<QueryBox>& rows) {
    std::string s;
    char buf[160];
    for (const QueryBox& b : rows) {
        std::snprintf(buf, sizeof buf, ",%d,%.6f,%.6f,%.6f,%.6f,%.6f,%d\n", b.query, b.cx, b.cy, b.w, b.h, b.score, b.label);
        s += csv_field(b.image) + buf;
    }
    return s;
}

} // namespace attnscope::analysis
