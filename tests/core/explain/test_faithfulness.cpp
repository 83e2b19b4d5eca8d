// Faithfulness (core/explain/faithfulness.h): the trapezoid rule, the step grid, the patch order and RISE's
// blur against hand-computed and scipy values; the four curves of a synthetic model whose logit is a known
// sum over patches (a relevance map that knows the answer beats its reverse on every test, AUCs by hand);
// a tiny real-format ViT (tests/fixtures/vit/hf_vit) against passes built here; the folder job's skips,
// dropped methods, progress and cancel; the CSVs. Expected values never come from the code under test.
#include "core/error.h"
#include "core/explain/faithfulness.h"
#include "core/interventions.h"
#include "core/io/npy.h"
#include "core/models/loader.h"
#include "core/session.h"
#include "tests/support/tensor_compare.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace attnscope;
using namespace attnscope::explain;
using attnscope::testing::fixture;
namespace fs = std::filesystem;

namespace {

// scipy.ndimage.gaussian_filter1d(delta at 5 of 11 zeros, sigma=5) (scipy 1.10, mode 'reflect').
const double kScipyK1[11] = {0.0879581457773, 0.0888961197771, 0.0904741965491, 0.0921911178194, 0.0934893884429, 0.0939820632684,
                             0.0934893884429, 0.0921911178194, 0.0904741965491, 0.0888961197771, 0.0879581457773};

// Two classes over a 2 × 5 grid of 2 × 2 patches (input [3, 4, 10]): logit 0 = Σ_p w_p · (mean of channel 0
// over patch p), logit 1 = 20. On an all-ones input logit 0 = 25, so class 0 is the top-1 class.
constexpr int kP = 2, kGh = 2, kGw = 5;
const double kW[10] = {9, 7, 5, 3, 1, 0, 0, 0, 0, 0};

class PatchSumModel final : public Model {
public:
    PatchSumModel() {
        info_.task = Task::Classify;
        info_.source = "patch-sum";
        info_.n_labels = 2;
        info_.labels = {"zero", "one"};
        info_.patch_size = kP;
        info_.image_h = kGh * kP;
        info_.image_w = kGw * kP;
    }
    const ModelInfo& info() const override { return info_; }
    const PreprocessSpec& preprocess() const override { return spec_; }
    void forward(const Tensor& x, AttentionRecorder&, RunResult& r, const CancelFlag*) const override {
        double l0 = 0;
        for (int p = 0; p < kGh * kGw; ++p) {
            double m = 0;
            for (int y = 0; y < kP; ++y)
                for (int c = 0; c < kP; ++c) m += x.data[size_t(((p / kGw) * kP + y) * kGw * kP + (p % kGw) * kP + c)];
            l0 += kW[p] * m / (kP * kP);
        }
        r.logits = Tensor({2}, {float(l0), 20.0f});
        r.layout.grid_h = kGh;
        r.layout.grid_w = kGw;
        r.layout.patch_size = kP;
    }

private:
    ModelInfo info_;
    PreprocessSpec spec_;
};

double p0(double l0) { return 1.0 / (1.0 + std::exp(20.0 - l0)); } // softmax of (l0, 20), class 0

Tensor ones() { return Tensor({3, kGh * kP, kGw * kP}, std::vector<float>(3 * kGh * kP * kGw * kP, 1.0f)); }

FaithfulnessImage prepared(const Model& m, const Tensor& input, const FaithfulnessOptions& o = {}) {
    Session s(m);
    return prepare_image(m, s.run(input, RecordPolicy::None), input, o);
}

Tensor map_of(const std::vector<float>& v) { return Tensor({kGh, kGw}, v); }

bool near(double a, double b, double tol = 2e-6) { return std::abs(a - b) <= tol; }

} // namespace

class TestFaithfulness : public QObject {
    Q_OBJECT
private slots:
    void trapezoid_by_hand() {
        QCOMPARE(trapezoid({0, 0.5, 1}, {1, 0, 1}), 0.5);
        QVERIFY(near(trapezoid({0, 0.1, 0.4}, {1, 1, 0}), 0.1 + 0.15));
        QCOMPARE(trapezoid({0.3}, {1}), 0.0);
        Curve c;
        c.fraction = {0, 0.25, 1};
        c.prob = {0.8, 0.4, 0.0};
        c.top1 = {1, 1, 0};
        QVERIFY(near(c.auc_prob(), 0.25 * 0.6 + 0.75 * 0.2));
        QVERIFY(near(c.auc_top1(), 0.25 + 0.375));
    }

    void step_grid_is_the_patches_actually_changed() {
        // DeiT at 224: 196 patches; 10% steps round to 20, 39, 59, … (Chefer: up to 90%).
        const std::vector<int> deit{0, 20, 39, 59, 78, 98, 118, 137, 157, 176};
        QCOMPARE(step_counts(196, 0.1, 0.9), deit);
        std::vector<int> all = deit;
        all.push_back(196);
        QCOMPARE(step_counts(196, 0.1, 1.0), all);
        QCOMPARE(step_counts(196, float(0.1), 0.9), deit); // a step read as float still reaches 90%
        QCOMPARE(step_counts(4, 0.1, 1.0), (std::vector<int>{0, 1, 2, 3, 4})); // rounding duplicates dropped
        QCOMPARE(step_counts(16, 0.25, 1.0), (std::vector<int>{0, 4, 8, 12, 16}));
        QVERIFY_THROWS_EXCEPTION(Error, step_counts(16, 0.0, 1.0));
        QVERIFY_THROWS_EXCEPTION(Error, step_counts(16, 1.5, 1.0));
        QVERIFY_THROWS_EXCEPTION(Error, step_counts(0, 0.1, 1.0));
    }

    void patch_order_ties_in_cell_order_nan_least() {
        const Tensor r({2, 3}, {0.5f, 2.0f, 0.5f, NAN, -1.0f, 2.0f});
        QCOMPARE(patch_order(r, true), (std::vector<int>{1, 5, 0, 2, 4, 3}));
        QCOMPARE(patch_order(r, false), (std::vector<int>{3, 4, 0, 2, 1, 5}));
    }

    void rise_kernel_matches_scipy() {
        const std::vector<double> k = rise_kernel_1d(11, 5.0);
        QCOMPARE(k.size(), size_t(11));
        double sum = 0;
        for (size_t i = 0; i < 11; ++i) {
            QVERIFY2(near(k[i], kScipyK1[i], 1e-12), qPrintable(QString("k[%1] = %2").arg(i).arg(k[i], 0, 'g', 15)));
            sum += k[i];
        }
        QVERIFY(near(sum, 1.0, 1e-12));
        QCOMPARE(rise_kernel_1d(1, 5.0), std::vector<double>{1.0});
        QVERIFY_THROWS_EXCEPTION(Error, rise_kernel_1d(10, 5.0));
    }

    void rise_blur_is_the_zero_padded_2d_convolution() {
        // A direct 11 × 11 convolution with scipy's kernel (outer product), zero padding, written out here.
        Tensor x({3, 13, 17});
        for (int64_t i = 0; i < x.numel(); ++i) x.data[size_t(i)] = float(std::sin(0.37 * double(i)) * 2.0);
        const Tensor got = rise_blur(x, 11, 5.0);
        QCOMPARE(got.shape, x.shape);
        double worst = 0;
        for (int c = 0; c < 3; ++c)
            for (int y = 0; y < 13; ++y)
                for (int xx = 0; xx < 17; ++xx) {
                    double s = 0;
                    for (int dy = -5; dy <= 5; ++dy)
                        for (int dx = -5; dx <= 5; ++dx)
                            if (y + dy >= 0 && y + dy < 13 && xx + dx >= 0 && xx + dx < 17)
                                s += kScipyK1[dy + 5] * kScipyK1[dx + 5] * x.data[size_t((c * 13 + y + dy) * 17 + xx + dx)];
                    worst = std::max(worst, std::abs(s - got.data[size_t((c * 13 + y) * 17 + xx)]));
                }
        std::printf("rise_blur vs direct convolution: maxdiff = %.3g\n", worst);
        QVERIFY(worst <= 1e-5);
    }

    void synthetic_model_curves_by_hand() {
        const PatchSumModel m;
        const FaithfulnessImage im = prepared(m, ones());
        QCOMPARE(im.target, 0);
        QVERIFY(near(im.prob, p0(25)));
        QVERIFY(near(im.prob_zero, p0(0)));
        QCOMPARE(im.top1_zero, 0);
        // The map that knows the answer: the weights themselves.
        const PerturbationCurves c = perturbation_curves(m, im, map_of({9, 7, 5, 3, 1, 0, 0, 0, 0, 0}), {});
        const std::vector<int> ten{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
        QCOMPARE(c.positive.patches, ten);
        QCOMPARE(c.negative.patches, ten);
        QCOMPARE(c.deletion.patches, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
        QCOMPARE(c.insertion.patches, c.deletion.patches);
        // Most relevant removed first: logit 0 = 25, 16, 9, 4, 1, 0, …; the class falls at the first step.
        const double pos_logit[11] = {25, 16, 9, 4, 1, 0, 0, 0, 0, 0, 0};
        // Least relevant first: the five zeros (cells 5…9), then cells 4, 3, 2, 1: 25 ×6, 24, 21, 16, 9.
        const double neg_logit[10] = {25, 25, 25, 25, 25, 25, 24, 21, 16, 9};
        for (int i = 0; i < 10; ++i) {
            QVERIFY2(near(c.positive.prob[size_t(i)], p0(pos_logit[i])), qPrintable(QString("positive %1").arg(i)));
            QCOMPARE(c.positive.top1[size_t(i)], pos_logit[i] > 20 ? 1 : 0);
            QVERIFY2(near(c.negative.prob[size_t(i)], p0(neg_logit[i])), qPrintable(QString("negative %1").arg(i)));
            QCOMPARE(c.negative.top1[size_t(i)], neg_logit[i] > 20 ? 1 : 0);
        }
        for (int i = 0; i < 11; ++i) QVERIFY(near(c.deletion.prob[size_t(i)], p0(pos_logit[i])));
        QVERIFY(near(c.positive.auc_top1(), 0.05));        // ½ · 0.1 · (1 + 0)
        QVERIFY(near(c.negative.auc_top1(), 0.7 + 0.05));  // 1 on [0, 0.7], then ½ · 0.1 · (1 + 0)
        double del = 0;
        for (int i = 1; i < 11; ++i) del += 0.1 * (p0(pos_logit[i - 1]) + p0(pos_logit[i])) / 2;
        QVERIFY(near(c.deletion.auc_prob(), del));
        // Insertion onto the blurred ones: pixel (y, x) of the blur is Sy(y)·Sx(x), S the kernel mass inside
        // the image; a patch inserted is back to 1.
        auto mass = [](int at, int size) {
            double s = 0;
            for (int d = -5; d <= 5; ++d)
                if (at + d >= 0 && at + d < size) s += kScipyK1[d + 5];
            return s;
        };
        double blurred_mean[10];
        for (int p = 0; p < 10; ++p) {
            double s = 0;
            for (int y = 0; y < kP; ++y)
                for (int x = 0; x < kP; ++x) s += mass((p / kGw) * kP + y, kGh * kP) * mass((p % kGw) * kP + x, kGw * kP);
            blurred_mean[p] = s / (kP * kP);
        }
        for (int k = 0; k <= 10; ++k) {
            double l0 = 0;
            for (int p = 0; p < 10; ++p) l0 += kW[p] * (p < k ? 1.0 : blurred_mean[p]); // cells 0…k−1 are the top k
            QVERIFY2(near(c.insertion.prob[size_t(k)], p0(l0), 1e-5), qPrintable(QString("insertion %1").arg(k)));
        }
    }

    void knowing_map_beats_its_reverse_on_every_test() {
        const PatchSumModel m;
        const FaithfulnessImage im = prepared(m, ones());
        const PerturbationCurves good = perturbation_curves(m, im, map_of({9, 7, 5, 3, 1, 0, 0, 0, 0, 0}), {});
        const PerturbationCurves bad = perturbation_curves(m, im, map_of({-9, -7, -5, -3, -1, 0, 0, 0, 0, 0}), {});
        QVERIFY(good.positive.auc_top1() < bad.positive.auc_top1());
        QVERIFY(good.positive.auc_prob() < bad.positive.auc_prob());
        QVERIFY(good.negative.auc_top1() > bad.negative.auc_top1());
        QVERIFY(good.negative.auc_prob() > bad.negative.auc_prob());
        QVERIFY(good.deletion.auc_prob() < bad.deletion.auc_prob());
        QVERIFY(good.insertion.auc_prob() > bad.insertion.auc_prob());
        QVERIFY_THROWS_EXCEPTION(Error, perturbation_curves(m, im, Tensor({3, 3}), {})); // not the 2 × 5 grid
    }

    void real_format_vit_against_passes_built_here() {
        auto model = load_model(fixture("vit/hf_vit")); // 32 × 32, 8 px patches: a 4 × 4 grid
        const Tensor input = read_npy(fixture("vit/hf_vit/input.npy"));
        Session s(*model);
        const RunResult clean = s.run(input, RecordPolicy::None);
        const FaithfulnessImage im = prepare_image(*model, clean, input, {});
        QCOMPARE(im.target, clean.predictions.front().index);
        const Explanation e = explain::explain(*model, input, Method::Attention, Target{im.target, -1});
        const PerturbationCurves c = perturbation_curves(*model, im, e.relevance, {});
        QCOMPARE(c.positive.patches, (std::vector<int>{0, 2, 3, 5, 6, 8, 10, 11, 13, 14})); // round(16 · 0.1 i)
        QCOMPARE(c.deletion.patches.back(), 16);
        QCOMPARE(c.positive.prob.front(), double(clean.predictions.front().prob));
        auto prob_of = [&](const Tensor& x) {
            for (const Prediction& p : s.run(x, RecordPolicy::None).predictions)
                if (p.index == im.target) return double(p.prob);
            return -1.0;
        };
        // Step 3 of the positive test: the 5 most relevant cells (sorted here) zeroed.
        std::vector<int> cells(16);
        for (int i = 0; i < 16; ++i) cells[size_t(i)] = i;
        std::stable_sort(cells.begin(), cells.end(), [&](int a, int b) { return e.relevance.data[size_t(a)] > e.relevance.data[size_t(b)]; });
        Tensor x = input;
        zero_patches(x, 8, {cells.begin(), cells.begin() + 5});
        QVERIFY(near(c.positive.prob[3], prob_of(x)));
        QVERIFY(near(c.deletion.prob[3], prob_of(x)));
        QVERIFY(near(c.deletion.prob.back(), prob_of(Tensor(input.shape))));           // all removed: zeros
        QVERIFY(near(c.insertion.prob.front(), prob_of(rise_blur(input, 11, 5.0))));   // nothing inserted yet
        QVERIFY(near(c.insertion.prob.back(), double(clean.predictions.front().prob))); // all inserted: clean
        // Step 3 of the negative test: the 5 least relevant zeroed.
        std::stable_sort(cells.begin(), cells.end(), [&](int a, int b) { return e.relevance.data[size_t(a)] < e.relevance.data[size_t(b)]; });
        x = input;
        zero_patches(x, 8, {cells.begin(), cells.begin() + 5});
        QVERIFY(near(c.negative.prob[3], prob_of(x)));
        for (double f : c.insertion.fraction) QVERIFY(f >= 0 && f <= 1);
    }

    void every_method_runs_on_a_real_format_vit() {
        QTemporaryDir tmp;
        fs::copy_file(fixture("image/src_64x48.png"), fs::path(tmp.path().toStdString()) / "a.png");
        auto model = load_model(fixture("vit/hf_vit"));
        const std::vector<Method> all{Method::Chefer2, Method::GradCam, Method::GradRollout, Method::Rollout, Method::Attention};
        const FaithfulnessRun run = run_faithfulness(*model, tmp.path().toStdString(), {"a.png"}, all, {});
        QVERIFY2(run.dropped.empty(), run.dropped.empty() ? "" : run.dropped.front().second.c_str());
        QCOMPARE(run.rows.size(), all.size());
        for (size_t i = 0; i < all.size(); ++i) {
            const FaithfulnessRow& r = run.rows[i];
            QCOMPARE(r.method, all[i]);
            QCOMPARE(r.curves.positive.patches.size(), size_t(10));
            QCOMPARE(r.curves.insertion.patches.size(), size_t(11));
            // Every method's curves start at the clean pass and the deletion ends at the all-zero input.
            QCOMPARE(r.curves.positive.prob.front(), double(r.prob));
            QCOMPARE(r.curves.deletion.prob.back(), run.rows[0].curves.deletion.prob.back());
            QCOMPARE(r.curves.insertion.prob.front(), run.rows[0].curves.insertion.prob.front()); // the blurred input
        }
    }

    void detr_is_refused_by_name() {
        auto model = load_model(fixture("detr/r50tiny/hf"));
        const Tensor input = read_npy(fixture("detr/r50tiny/input.npy"));
        Session s(*model);
        try {
            prepare_image(*model, s.run(input, RecordPolicy::None), input, {});
            QFAIL("no error");
        } catch (const Error& e) {
            QCOMPARE(e.kind(), ErrorKind::Unsupported);
            QVERIFY(QString(e.what()).contains("classifier"));
        }
    }

    void folder_job_skips_drops_reports_and_cancels() {
        QTemporaryDir tmp;
        const fs::path dir = tmp.path().toStdString();
        for (const char* f : {"src_64x48.png", "src_37x23.png", "palette_9x6.png"}) fs::copy_file(fixture(std::string("image/") + f), dir / f);
        std::ofstream(dir / "zz_broken.png") << "text with a .png name\n";
        auto model = load_model(fixture("vit/hf_vit"));
        const std::vector<std::string> files = list_image_files(dir.string());
        QCOMPARE(files.size(), size_t(4));
        int rollout_calls = 0;
        // Rollout: a map that favours cell order; its second image fails (→ skipped whole); chefer2 unsupported.
        const RelevanceFn seam = [&](const Model& m, const Tensor& x, Method method, int target, const ExplainOptions& o,
                                     const CancelFlag* c) -> Tensor {
            if (method == Method::Chefer2) throw Error(ErrorKind::Unsupported, "--method", "chefer2", "not here");
            if (method == Method::Rollout) {
                if (++rollout_calls == 2) throw Error(ErrorKind::Mismatch, "map", "", "made to fail");
                Tensor r({4, 4});
                for (int i = 0; i < 16; ++i) r.data[size_t(i)] = float(16 - i);
                return r;
            }
            return explain::explain(m, x, method, Target{target, -1}, o, c).relevance;
        };
        std::vector<std::string> skipped, dropped;
        std::vector<std::pair<size_t, size_t>> progress;
        FaithfulnessCallbacks cb;
        cb.skipped = [&](size_t, const std::string& f, const std::string&) { skipped.push_back(f); };
        cb.dropped = [&](Method m, const std::string&) { dropped.push_back(method_name(m)); };
        cb.progress = [&](size_t done, size_t total) { progress.emplace_back(done, total); };
        const std::vector<Method> methods{Method::Chefer2, Method::Rollout, Method::Attention};
        const FaithfulnessRun run = run_faithfulness(*model, dir.string(), files, methods, {}, cb, nullptr, seam);
        QCOMPARE(run.batch.processed, 2);
        QCOMPARE(run.batch.skipped, 2);
        QCOMPARE(skipped, (std::vector<std::string>{files[1], "zz_broken.png"}));
        QCOMPARE(dropped, std::vector<std::string>{"chefer2"}); // once, not per image
        QCOMPARE(progress.size(), size_t(4));
        QCOMPARE(progress.back(), (std::pair<size_t, size_t>{4, 4}));
        QCOMPARE(run.rows.size(), size_t(4));
        QCOMPARE(run.rows[0].image, files[0]);
        QCOMPARE(run.rows[0].method, Method::Rollout);
        QCOMPARE(run.rows[1].method, Method::Attention);
        QCOMPARE(run.rows[2].image, files[2]);
        // faithfulness.csv: header + a line per row; summary.csv: chefer2 listed with no images, empty cells.
        QCOMPARE(QString::fromStdString(faithfulness_csv(run.rows)).count('\n'), 5);
        QCOMPARE(QString::fromStdString(curves_csv(run.rows)).count('\n'), 1 + 4 * (10 + 10 + 11 + 11));
        const QStringList summary = QString::fromStdString(summary_csv(run.rows, methods)).split('\n', Qt::SkipEmptyParts);
        QCOMPARE(summary.size(), 4);
        QVERIFY(summary[1].startsWith("chefer2,0,,,"));
        QVERIFY(summary[2].startsWith("rollout,2,"));

        // Cancel after the first image's rows: the run stops, the rows so far are kept.
        CancelFlag cancel{false};
        FaithfulnessCallbacks stop;
        stop.row = [&](const FaithfulnessRow&) { cancel.store(true); };
        rollout_calls = 0;
        const FaithfulnessRun part = run_faithfulness(*model, dir.string(), files, {Method::Attention}, {}, stop, &cancel, seam);
        QVERIFY(part.batch.cancelled);
        QCOMPARE(part.rows.size(), size_t(1));
    }

    void summary_means_and_spreads_by_hand() {
        auto row = [](Method m, double pos_top1_at_half) {
            FaithfulnessRow r;
            r.method = m;
            Curve c;
            c.fraction = {0, 0.5, 1};
            c.prob = {1, 0.5, 0};
            c.top1 = {1, int(pos_top1_at_half), 0};
            r.curves = {c, c, c, c};
            return r;
        };
        // positive AUC top1: 0.25 (1, 0, 0) and 0.75 (1, 1, 0) over (0, ½, 1): mean 0.5, sample std √(2 · 0.25²) = 0.353553.
        const std::string s = summary_csv({row(Method::Attention, 0), row(Method::Attention, 1)}, {Method::Attention});
        const QStringList lines = QString::fromStdString(s).split('\n', Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 2);
        QVERIFY(lines[0].startsWith("method,images,positive_auc_top1,positive_auc_top1_std,positive_auc_prob,"));
        QVERIFY2(lines[1].startsWith("attention,2,0.500000,0.353553,0.500000,0.000000,"), qPrintable(lines[1]));
    }
};

QTEST_GUILESS_MAIN(TestFaithfulness)
#include "test_faithfulness.moc"
