// The folder job, one loop for the CLI's `dataset` and the GUI's "Add images…": list the images of a
// folder (kImageExtensions, recursive, sorted, shard, limit), run each through a Session, hand every
// result to the caller, skip (and report) the files that fail, report progress, stop on cancel.
#pragma once

#include "core/session.h"

#include <functional>
#include <string>
#include <vector>

namespace attnscope {

// Image files under `dir` (recursive, by extension, see kImageExtensions), as paths relative to `dir`
// with '/' separators, sorted by their bytes; then every n-th from i (`shard` "i/n", "" = all); then
// the first `limit` (0 = all). Error(Io) when `dir` is not a folder, Error(Argument, "--shard") for a
// malformed shard.
std::vector<std::string> list_image_files(const std::string& dir, const std::string& shard = "", int limit = 0);

struct BatchCallbacks {
    // Before image `index` (of `total`) is decoded; e.g. a log line.
    std::function<void(size_t index, size_t total, const std::string& file)> starting;
    // Its result. An Error thrown here (other than Cancelled) skips the image like a failed decode.
    std::function<void(size_t index, const std::string& file, RunResult& result)> done;
    // The same with the exact tensor fed to the model (e.g. to run it again with other interventions);
    // called after `done` when both are set.
    std::function<void(size_t index, const std::string& file, RunResult& result, const Tensor& input)> done_with_input;
    // It was skipped: `why` is the error message (names the file).
    std::function<void(size_t index, const std::string& file, const std::string& why)> skipped;
    // After image `index` (done or skipped): `finished` of `total` are through.
    std::function<void(size_t finished, size_t total)> progress;
};

struct BatchSummary {
    int processed = 0, skipped = 0;
    bool cancelled = false; // stopped by the cancel flag; the images before it were processed
};

// Runs `files` (relative to `dir`, as list_image_files gives them) through `session` one at a time (one
// image's maps in memory at a time: the maps a callback leaves in the result go back to the session's
// recorder for the next image). Returns normally on cancel (summary.cancelled) — what was done is kept.
BatchSummary run_batch(Session& session, const std::string& dir, const std::vector<std::string>& files,
                       RecordPolicy record, const BatchCallbacks& callbacks, const CancelFlag* cancel = nullptr);

} // namespace attnscope
