#include "core/batch.h"

#include "core/error.h"
#include "core/image/decode.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace attnscope {

namespace fs = std::filesystem;

std::vector<std::string> list_image_files(const std::string& dir, const std::string& shard, int limit) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw Error(ErrorKind::Io, dir, "--images", "is not a folder");
    int i = 0, n = 1;
    if (!shard.empty() && (std::sscanf(shard.c_str(), "%d/%d", &i, &n) != 2 || n < 1 || i < 0 || i >= n))
        throw Error(ErrorKind::Argument, "", "--shard", "expects i/n with 0 <= i < n, got '" + shard + "'");
    std::vector<std::string> all;
    for (const auto& e : fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied))
        if (e.is_regular_file() && has_image_extension(e.path().filename().string()))
            all.push_back(fs::relative(e.path(), dir).generic_string());
    std::sort(all.begin(), all.end());
    std::vector<std::string> out;
    for (size_t k = static_cast<size_t>(i); k < all.size(); k += static_cast<size_t>(n)) out.push_back(all[k]);
    if (limit > 0 && static_cast<int>(out.size()) > limit) out.resize(static_cast<size_t>(limit));
    return out;
}

BatchSummary run_batch(Session& session, const std::string& dir, const std::vector<std::string>& files,
                       RecordPolicy record, const BatchCallbacks& cb, const CancelFlag* cancel) {
    BatchSummary s;
    const size_t total = files.size();
    for (size_t k = 0; k < total; ++k) {
        if (cancel && cancel->load()) break;
        const std::string& file = files[k];
        if (cb.starting) cb.starting(k, total, file);
        std::string why;
        bool failed = false;
        try {
            Tensor input;
            RunResult r = session.run(decode_image_file((fs::path(dir) / file).string()), record, cancel,
                                      cb.done_with_input ? &input : nullptr);
            if (cb.done) cb.done(k, file, r);
            if (cb.done_with_input) cb.done_with_input(k, file, r, input);
            session.recycle(std::move(r.attention));
            ++s.processed;
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::Cancelled) break;
            why = e.what();
            failed = true;
        } catch (const std::exception& e) { // e.g. std::bad_alloc on one huge image: skip it, keep going
            why = e.what();
            failed = true;
        }
        if (failed) {
            ++s.skipped;
            if (cb.skipped) cb.skipped(k, file, why);
        }
        if (cb.progress) cb.progress(k + 1, total);
    }
    s.cancelled = cancel && cancel->load();
    return s;
}

} // namespace attnscope
