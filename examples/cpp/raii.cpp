// libfi from C++ with RAII: handles live in std::unique_ptr with custom deleters, a failed
// status becomes an exception carrying the status and the context's message.
//
//   g++ -std=c++11 -Iinclude examples/cpp/raii.cpp -Llib -lfi -o raii
//
// Computes FI per output channel of a small weight matrix in two ways (block FI of each row,
// and element FI reduced over each row), checks the p = 1 closed form, and shows an error.
#include "fi.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace fi {

// A failed libfi call: what() is the context's message, status() the FI_ERR_* code.
class error : public std::runtime_error {
  public:
    error(int status, const std::string &msg)
        : std::runtime_error(msg + " (" + fi_strerror(status) + ")"), status_(status) {}
    int status() const noexcept { return status_; }

  private:
    int status_;
};

struct context_deleter {
    void operator()(fi_context *c) const noexcept { fi_context_free(c); }
};
struct metric_deleter {
    void operator()(fi_metric *m) const noexcept { fi_metric_free(m); }
};
using context_ptr = std::unique_ptr<fi_context, context_deleter>;
using metric_ptr = std::unique_ptr<fi_metric, metric_deleter>;

// Throws fi::error unless status is FI_OK; the message comes from ctx when there is one.
inline void check(const fi_context *ctx, int status)
{
    if (status != FI_OK) throw error(status, ctx ? fi_context_error(ctx) : fi_strerror(status));
}

inline context_ptr make_context()
{
    fi_context *raw = nullptr;
    check(nullptr, fi_context_create(&raw));
    return context_ptr(raw);
}

// A metric over K rows of n float scores, owned by the returned pointer.
inline metric_ptr make_metric(fi_context *ctx, const std::vector<double> &probs,
                              const std::vector<float> &scores, int64_t n, const fi_blocks &b)
{
    fi_metric *raw = nullptr;
    check(ctx, fi_metric_from_scores(ctx, static_cast<int64_t>(probs.size()), probs.data(),
                                     FI_F32, scores.data(), n, n, &b, &raw));
    return metric_ptr(raw);
}

inline std::vector<double> compute(fi_context *ctx, const fi_metric *m, const float *target)
{
    std::vector<double> out(static_cast<size_t>(fi_metric_count(m)));
    check(ctx, fi_compute(ctx, m, FI_F32, target, out.data(), 0));
    return out;
}

} // namespace fi

int main()
{
    const int64_t K = 5, R = 6, C = 3, n = R * C; // rows of 3 < K - 1: block FI informative
    const std::vector<double> probs = {0.4, 0.25, 0.15, 0.12, 0.08};
    // Zero-mean scores of a softmax head: s_i = J (e_i - P) for a fixed J (n x K).
    std::vector<float> scores(static_cast<size_t>(K * n));
    unsigned long long lcg = 42; // a fixed pseudo-random J, entries in [-1, 1)
    for (int64_t j = 0; j < n; j++) {
        double J[5], mean = 0;
        for (int64_t i = 0; i < K; i++) {
            lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
            J[i] = static_cast<double>(lcg >> 11) / 4503599627370496.0 - 1.0;
            mean += probs[static_cast<size_t>(i)] * J[i];
        }
        for (int64_t i = 0; i < K; i++)
            scores[static_cast<size_t>(i * n + j)] = static_cast<float>(J[i] - mean);
    }
    const int k = 0; // class target: the predicted class
    try {
        fi::context_ptr ctx = fi::make_context();
        fi::check(ctx.get(), fi_context_set(ctx.get(), FI_OPT_RCOND, 1e-5));
        const fi_blocks rows = {R, C, 1, C}, elements = {n, 1, 1, 1};
        fi::metric_ptr mrows = fi::make_metric(ctx.get(), probs, scores, n, rows);
        fi::metric_ptr melem = fi::make_metric(ctx.get(), probs, scores, n, elements);
        const float *target = scores.data() + k * n;
        std::vector<double> fi_rows = fi::compute(ctx.get(), mrows.get(), target);
        std::vector<double> fi_elem = fi::compute(ctx.get(), melem.get(), target);
        double bound = 0;
        fi::check(ctx.get(), fi_class_bound(ctx.get(), mrows.get(), k, &bound));
        int bad = 0;
        for (int64_t r = 0; r < R; r++) {
            double sum = 0;
            for (int64_t c = 0; c < C; c++) {
                const int64_t j = r * C + c;
                double den = 0;
                for (int64_t i = 0; i < K; i++) {
                    const double s = scores[static_cast<size_t>(i * n + j)];
                    den += probs[static_cast<size_t>(i)] * s * s;
                }
                const double expect = static_cast<double>(target[j]) * target[j] / den;
                bad += std::fabs(fi_elem[static_cast<size_t>(j)] - expect) > 1e-12 * expect;
                sum += fi_elem[static_cast<size_t>(j)];
            }
            bad += fi_rows[static_cast<size_t>(r)] > bound * (1 + 1e-9);
            std::printf("row %lld: block FI %.5f (bound %.5f), element FI summed %.5f\n",
                        static_cast<long long>(r), fi_rows[static_cast<size_t>(r)], bound, sum);
        }
        // An error: probabilities that do not sum to 1, reported as an exception.
        try {
            fi::make_metric(ctx.get(), {0.5, 0.2, 0.1, 0.1, 0.05}, scores, n, rows);
            bad++;
        } catch (const fi::error &e) {
            std::printf("caught fi::error status %d: %s\n", e.status(), e.what());
            bad += e.status() != FI_ERR_PROBABILITY;
        }
        std::printf("raii example: %s\n", bad ? "MISMATCH" : "OK");
        return bad ? 1 : 0;
    } catch (const fi::error &e) { // handles are released by the unique_ptrs on the way out
        std::fprintf(stderr, "libfi: %s\n", e.what());
        return 1;
    }
}
