// DETR object-query box distribution: every query's predicted box per image, as CSV rows.
#pragma once

#include "core/models/model.h"

#include <string>
#include <vector>

namespace attnscope::analysis {

struct QueryBox {
    std::string image;
    int query = 0;
    float cx = 0, cy = 0, w = 0, h = 0; // normalised to the model input
    float score = 0;                    // max softmax probability over the real classes
    int label = 0;                      // its class (the last logit, "no object", is excluded)
};

// One row per query from RunResult.boxes [Q, 4] and logits [Q, C + 1] (DETR's postprocess rule).
std::vector<QueryBox> query_boxes(const std::string& image, const RunResult& r);

const char* query_boxes_csv_header(); // "image,query,cx,cy,w,h,score,label\n"
std::string query_boxes_csv(const std::vector<QueryBox>& rows); // rows only, no header

} // namespace attnscope::analysis
