// The one run path (core/session.h), post-processing computed once (core/postprocess.h) and the folder
// job (core/batch.h) with its extension list (core/image/decode.h). Expected values come from the inputs
// (softmax written out here, the input's size, files made here), never from the code under test.
#include "core/batch.h"
#include "core/error.h"
#include "core/image/decode.h"
#include "core/io/npy.h"
#include "core/models/loader.h"
#include "core/postprocess.h"
#include "core/session.h"
#include "tests/support/tensor_compare.h"

#include <opencv2/imgcodecs.hpp>

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

using namespace attnscope;
using attnscope::testing::fixture;

namespace {

void write_bytes(const std::string& path, const std::string& bytes) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
}

std::string read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

} // namespace

class TestSession : public QObject {
    Q_OBJECT
private slots:
    void tensor_run_fills_maps_geometry_timings_predictions() {
        auto model = load_model(fixture("vit/hf_vit"));
        const Tensor input = read_npy(fixture("vit/hf_vit/input.npy"));
        Session session(*model);
        const RunResult r = session.run(input);
        QCOMPARE(r.geometry.orig_w, int(input.size(2)));
        QCOMPARE(r.geometry.orig_h, int(input.size(1)));
        QCOMPARE(r.geometry.input_w, int(input.size(2)));
        QCOMPARE(r.geometry.input_h, int(input.size(1)));
        QCOMPARE(r.attention.size(), size_t(model->info().n_layers));
        QVERIFY(r.timings_ms.count("forward") && r.timings_ms.count("postprocess"));
        QVERIFY(!r.timings_ms.count("preprocess")); // nothing was preprocessed
        // Predictions: every class, best first, softmax of the logits (written out here).
        const std::vector<float>& z = r.logits.data;
        QCOMPARE(r.predictions.size(), z.size());
        double sum = 0;
        for (float v : z) sum += std::exp(double(v));
        for (size_t i = 0; i < r.predictions.size(); ++i) {
            const Prediction& p = r.predictions[i];
            QCOMPARE(p.logit, z[size_t(p.index)]);
            QVERIFY(std::abs(p.prob - std::exp(double(p.logit)) / sum) < 1e-6);
            if (i > 0) QVERIFY(r.predictions[i - 1].logit >= p.logit);
        }
        QCOMPARE(top_k(r, 2).size(), size_t(2));
        QCOMPARE(top_k(r, 2)[0].index, r.predictions[0].index);
        QVERIFY(top_k(r, 100000).size() == z.size());
        QVERIFY(top_k(r, -1).empty());
        QVERIFY(r.detections.empty());
        // Recording off: same numbers, no maps.
        const RunResult none = session.run(input, RecordPolicy::None);
        QVERIFY(none.attention.empty());
        QCOMPARE(none.logits.data, r.logits.data);
    }

    void image_run_keeps_the_original_size_and_the_input() {
        auto model = load_model(fixture("vit/hf_vit"));
        const ImageRGB8 img = decode_image_file(fixture("image/src_64x48.png"));
        Tensor input;
        const RunResult r = Session(*model).run(img, RecordPolicy::All, nullptr, &input);
        QCOMPARE(r.geometry.orig_w, 64);
        QCOMPARE(r.geometry.orig_h, 48);
        QCOMPARE(r.geometry.input_w, int(input.size(2)));
        QCOMPARE(r.geometry.input_h, int(input.size(1)));
        QVERIFY(r.timings_ms.count("preprocess"));
        // The same tensor run again gives the same logits (the input handed out is the one fed).
        QCOMPARE(Session(*model).run(input).logits.data, r.logits.data);
    }

    void detr_detections_every_query_once_and_skip_encoder() {
        auto model = load_model(fixture("detr/r50tiny/hf"));
        const Tensor input = read_npy(fixture("detr/r50tiny/input.npy"));
        Session session(*model);
        const RunResult r = session.run(input, RecordPolicy::SkipEncoder);
        QVERIFY(!r.attention.empty());
        for (const AttentionMap& m : r.attention) QVERIFY(m.site != Site::Encoder);
        QVERIFY(session.run(input).attention.size() > r.attention.size());
        const int Q = int(r.boxes.size(0));
        QCOMPARE(int(r.detections.size()), Q);
        for (int q = 0; q < Q; ++q) QCOMPARE(r.detections[size_t(q)].query, q);
        // Query 0 by hand: softmax over all classes, best real class, box in input pixels.
        const int C = int(r.logits.size(1));
        const float* z = r.logits.ptr();
        double sum = 0;
        int best = 0;
        for (int c = 0; c < C; ++c) sum += std::exp(double(z[c]));
        for (int c = 1; c < C - 1; ++c)
            if (z[c] > z[best]) best = c;
        QCOMPARE(r.detections[0].label_id, best);
        QVERIFY(std::abs(r.detections[0].score - std::exp(double(z[best])) / sum) < 1e-6);
        const float* b = r.boxes.ptr();
        QVERIFY(std::abs(r.detections[0].box_xyxy[2] - (b[0] + 0.5f * b[2]) * float(input.size(2))) < 1e-3f);
        // A threshold filters, in query order, strictly.
        const float t = r.detections[size_t(Q / 2)].score;
        const auto kept = above_threshold(r.detections, t);
        for (const Detection& d : kept) QVERIFY(d.score > t);
        int want = 0;
        for (const Detection& d : r.detections) want += d.score > t;
        QCOMPARE(int(kept.size()), want);
        QCOMPARE(detections_json(kept).size(), kept.size());
    }

    // Every listed extension is a format the decoder reads (an OpenCV-encoded file of that name decodes;
    // GIF, which OpenCV cannot write, is a hand-made file here and PIL's files in test_image).
    void extension_list_is_what_the_decoder_reads() {
        QTemporaryDir tmp;
        cv::Mat bgr(6, 8, CV_8UC3, cv::Scalar(10, 120, 240));
        const std::map<std::string, std::string> encoder_ext = {{".jfif", ".jpg"}, {".pnm", ".ppm"}};
        for (std::string_view e : kImageExtensions) {
            const std::string ext(e);
            if (ext == ".gif") continue; // below
            std::vector<uchar> buf;
            const std::string enc = encoder_ext.count(ext) ? encoder_ext.at(ext) : ext;
            QVERIFY2(cv::imencode(enc, ext == ".pbm" || ext == ".pgm" ? cv::Mat(6, 8, CV_8U, cv::Scalar(200)) : bgr, buf),
                     ext.c_str());
            const std::string path = tmp.filePath(QString::fromStdString("x" + ext)).toStdString();
            write_bytes(path, std::string(buf.begin(), buf.end()));
            const ImageRGB8 img = decode_image_file(path);
            QCOMPARE(img.width, 8);
            QCOMPARE(img.height, 6);
            QVERIFY(has_image_extension("dir/a" + ext));
        }
        QVERIFY(has_image_extension("A.PNG") && has_image_extension("b.JpEg"));
        QVERIFY(has_image_extension("x.gif") && !has_image_extension("notes.txt") && !has_image_extension("png"));
        QVERIFY(!has_image_extension("dir/.png") && !has_image_extension("dir.png/file"));
        const std::string gif = std::string("GIF89a") + std::string("\x01\x00\x01\x00\x80\x00\x00", 7) +
                                std::string("\x00\x00\x00\xff\xff\xff\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b", 22);
        const ImageRGB8 one = decode_image_bytes(gif, "x.gif"); // 1×1, palette index 0: black
        QCOMPARE(one.width, 1);
        QCOMPARE(one.height, 1);
        QVERIFY(one.data == std::vector<uint8_t>({0, 0, 0}));
        QVERIFY(image_name_patterns().rfind("*.png *.jpg", 0) == 0);
    }

    void folder_listing_sorts_shards_limits() {
        QTemporaryDir tmp;
        const std::string dir = tmp.path().toStdString();
        const std::string png = read_bytes(fixture("image/src_37x23.png"));
        for (const char* name : {"b.png", "a.PNG", "sub/c.jpg", "sub/deeper/d.png", "notes.txt", "e.xcf", ".hidden/f.png"})
            write_bytes(dir + "/" + name, png);
        const std::vector<std::string> all = list_image_files(dir);
        QCOMPARE(all, (std::vector<std::string>{".hidden/f.png", "a.PNG", "b.png", "sub/c.jpg", "sub/deeper/d.png"}));
        QCOMPARE(list_image_files(dir, "1/2"), (std::vector<std::string>{"a.PNG", "sub/c.jpg"}));
        QCOMPARE(list_image_files(dir, "0/2", 2), (std::vector<std::string>{".hidden/f.png", "b.png"}));
        QVERIFY_THROWS_EXCEPTION(Error, list_image_files(dir, "2/2"));
        QVERIFY_THROWS_EXCEPTION(Error, list_image_files(dir + "/missing"));
    }

    void batch_runs_skips_reports_and_cancels() {
        QTemporaryDir tmp;
        const std::string dir = tmp.path().toStdString();
        write_bytes(dir + "/a.png", read_bytes(fixture("image/src_64x48.png")));
        write_bytes(dir + "/b_broken.png", "text with an image's name\n");
        write_bytes(dir + "/c.png", read_bytes(fixture("image/src_37x23.png")));
        auto model = load_model(fixture("vit/hf_vit"));
        Session session(*model);
        const std::vector<std::string> files = list_image_files(dir);
        QCOMPARE(files.size(), size_t(3));
        std::vector<std::string> started, done, skipped;
        std::vector<std::pair<size_t, size_t>> progress;
        std::vector<std::vector<float>> logits;
        BatchCallbacks cb;
        cb.starting = [&](size_t i, size_t n, const std::string& f) { started.push_back(std::to_string(i) + "/" + std::to_string(n) + " " + f); };
        cb.done = [&](size_t, const std::string& f, RunResult& r) {
            done.push_back(f);
            logits.push_back(r.logits.data);
            QCOMPARE(r.attention.size(), size_t(model->info().n_layers));
        };
        cb.skipped = [&](size_t, const std::string& f, const std::string& why) { skipped.push_back(f + ": " + why); };
        cb.progress = [&](size_t k, size_t n) { progress.emplace_back(k, n); };
        const BatchSummary s = run_batch(session, dir, files, RecordPolicy::All, cb);
        QCOMPARE(s.processed, 2);
        QCOMPARE(s.skipped, 1);
        QVERIFY(!s.cancelled);
        QCOMPARE(started, (std::vector<std::string>{"0/3 a.png", "1/3 b_broken.png", "2/3 c.png"}));
        QCOMPARE(done, (std::vector<std::string>{"a.png", "c.png"}));
        QCOMPARE(skipped.size(), size_t(1));
        QVERIFY2(skipped[0].find("b_broken.png") != std::string::npos, skipped[0].c_str()); // the error names the file
        QCOMPARE(progress, (std::vector<std::pair<size_t, size_t>>{{1, 3}, {2, 3}, {3, 3}}));
        // The same as running each image alone.
        QCOMPARE(logits[0], Session(*model).run(decode_image_file(dir + "/a.png")).logits.data);
        // Cancel after the first image: it is kept, the rest are not run.
        CancelFlag cancel{false};
        int n = 0;
        BatchCallbacks stop;
        stop.done = [&](size_t, const std::string&, RunResult&) { ++n; cancel.store(true); };
        const BatchSummary c = run_batch(session, dir, files, RecordPolicy::None, stop, &cancel);
        QVERIFY(c.cancelled);
        QCOMPARE(c.processed, 1);
        QCOMPARE(n, 1);
    }
};

QTEST_GUILESS_MAIN(TestSession)
#include "test_session.moc"
