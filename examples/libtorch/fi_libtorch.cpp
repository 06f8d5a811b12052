// libfi inside a libtorch program: the way an inference engine written against libtorch
// computes FI of its own weights.
//
// A small torch::nn model (Linear 16 -> 12, tanh, Linear 12 -> K = 5), one input, the K
// class scores s_i = d log P_i / d W1 by torch::autograd::grad (one call per class on a
// retained graph), written into one (K, 12, 16) tensor, and that tensor's memory handed to
// fi_direct in place, as float32 and as bfloat16 (FI_BF16: libfi reads the bf16 words, no
// conversion, no copy). FI per element, per row (output neuron) and per column (input
// feature) of W1, for the class target k = argmax P.
//
// Checked against a reference computed here independently: the same scores in double,
// B_b = [sqrt(P_i) s_i[b]] (the softmax direction sqrt(P) projected out when p >= K, and the
// class score with it), FI_b = ||pinv(B_b) s_k[b]||^2 with torch::linalg::pinv at the same
// rank tolerance; and the
// float32 / bf16 models against the model in float64.
// Exit status 0 when every comparison holds. Built and run by `make check-libtorch`.
#include <torch/torch.h>

#include <fi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace {

const int64_t IN = 16, HIDDEN = 12, K = 5;

struct Scores {
    torch::Tensor S;    // (K, HIDDEN, IN) in the model's dtype: d log P_i / d W1
    torch::Tensor P;    // (K) float64
    int64_t k = 0;      // argmax P
};

// The K class scores of the first weight of model for input x.
Scores class_scores(torch::nn::Sequential &model, const torch::Tensor &x)
{
    torch::Tensor logits = model->forward(x.to(model->parameters()[0].dtype()))[0];
    // log_softmax in at least float32 (a bf16 softmax would round P itself to 3 digits).
    torch::Tensor logp = torch::log_softmax(
        logits.scalar_type() == torch::kFloat64 ? logits : logits.to(torch::kFloat32), 0);
    torch::Tensor w1 = model->parameters()[0];  // Linear(IN, HIDDEN).weight
    Scores s;
    s.P = torch::softmax(logits.detach().to(torch::kFloat64), 0);
    s.k = s.P.argmax().item<int64_t>();
    s.S = torch::empty({K, HIDDEN, IN}, w1.options().requires_grad(false));
    for (int64_t i = 0; i < K; i++) {
        auto g = torch::autograd::grad({logp[i]}, {w1}, {}, /*retain_graph=*/i < K - 1);
        s.S[i].copy_(g[0]);  // into row i of the scores buffer libfi reads
    }
    return s;
}

// Reference FI per block: groups is (count, p) of flat coordinates into one score row.
torch::Tensor pinv_fi(const torch::Tensor &S, const torch::Tensor &P, const torch::Tensor &groups,
                      int64_t k, double rtol)
{
    torch::Tensor flat = S.reshape({K, -1}).to(torch::kFloat64);
    torch::Tensor B = (flat.index({torch::indexing::Slice(), groups}) *
                       P.sqrt().view({K, 1, 1})).permute({1, 2, 0});    // (count, p, K)
    // Softmax scores satisfy B sqrt(P) = 0 exactly; rounding (bf16: 2^-8) leaves a residue
    // that is not information. In blocks of p >= K, where it can pose as a direction of its
    // own, project it out, as libfi does (docs/math.md section 6).
    torch::Tensor g = flat[k].index({groups}).unsqueeze(-1);           // (count, p, 1)
    if (groups.size(1) >= K) {
        torch::Tensor q = P.sqrt() / P.sqrt().norm();
        B = B - torch::matmul(B, q.view({K, 1})) * q.view({1, 1, K});
        // the class target is then the class's column of that B over sqrt(P_k): its score
        // without the residue, whose FI is the leverage of SPEC fact 2 (what fi_direct gives)
        g = B.select(2, k).unsqueeze(-1) / P[k].sqrt();
    }
    torch::Tensor pinv = torch::linalg::pinv(B, rtol, /*hermitian=*/false);
    return torch::matmul(pinv, g).squeeze(-1).pow(2).sum(-1);
}

struct Layout {
    const char *name;
    fi_blocks blocks;
    torch::Tensor groups;
};

std::vector<Layout> layouts()
{
    torch::Tensor idx = torch::arange(HIDDEN * IN).view({HIDDEN, IN});
    return {
        {"elements", fi_blocks{HIDDEN * IN, 1, 1, 1}, idx.reshape({-1, 1})},
        {"rows", fi_blocks{HIDDEN, IN, 1, IN}, idx},
        {"columns", fi_blocks{IN, HIDDEN, IN, 1}, idx.t().contiguous()},
    };
}

// FI per block straight from the torch tensor's memory: no copy, no conversion.
bool libfi_fi(fi_context *ctx, const Scores &s, const Layout &l, std::vector<double> &out)
{
    fi_dtype dt = s.S.scalar_type() == torch::kBFloat16 ? FI_BF16
                : s.S.scalar_type() == torch::kFloat32  ? FI_F32 : FI_F64;
    out.assign(static_cast<size_t>(l.blocks.count), 0.0);
    const int64_t n = HIDDEN * IN;
    int st = fi_direct(ctx, K, s.P.data_ptr<double>(), dt, s.S.data_ptr(), n, n, &l.blocks,
                       nullptr, s.k, out.data(), 0);
    if (st != FI_OK) {
        std::fprintf(stderr, "fi_direct (%s): %s\n", l.name, fi_context_error(ctx));
        return false;
    }
    return true;
}

double max_rel(const std::vector<double> &got, const torch::Tensor &want)
{
    double worst = 0.0;
    auto w = want.accessor<double, 1>();
    for (size_t b = 0; b < got.size(); b++) {
        double den = std::fabs(w[static_cast<int64_t>(b)]);
        double err = std::fabs(got[b] - w[static_cast<int64_t>(b)]);
        worst = std::fmax(worst, den > 0 ? err / den : err);
    }
    return worst;
}

torch::nn::Sequential make_model()
{
    return torch::nn::Sequential(torch::nn::Linear(IN, HIDDEN), torch::nn::Functional(torch::tanh),
                                 torch::nn::Linear(HIDDEN, K));
}

}  // namespace

int main()
{
    torch::manual_seed(0);
    torch::nn::Sequential m64 = make_model();
    m64->to(torch::kFloat64);
    torch::Tensor x = torch::randn({1, IN}, torch::kFloat64);

    fi_context *ctx = nullptr;
    if (fi_context_create(&ctx) != FI_OK) return 1;
    bool ok = true;

    Scores ref = class_scores(m64, x);
    std::printf("libfi %s in libtorch: W1 %lldx%lld, K = %lld, P_k = %.4f (class %lld)\n",
                fi_version_string(), static_cast<long long>(HIDDEN), static_cast<long long>(IN),
                static_cast<long long>(K), ref.P[ref.k].item<double>(),
                static_cast<long long>(ref.k));

    // u: the unit roundoff of the scores' dtype. libfi's default rank tolerance (1.2.0) is
    // max(p, K) u, which cuts the rounding noise of the rank-1 rows; pinv gets the same.
    struct Run { const char *name; torch::Dtype dtype; double u, tol_f64; };
    const Run runs[] = {{"float64", torch::kFloat64, std::ldexp(1.0, -53), 1e-9},
                        {"float32", torch::kFloat32, std::ldexp(1.0, -24), 1e-3},
                        {"bfloat16", torch::kBFloat16, std::ldexp(1.0, -8), 0.1}};
    for (const Run &r : runs) {
        torch::nn::Sequential m = make_model();
        {
            torch::NoGradGuard no_grad;
            auto src = m64->parameters();
            auto dst = m->parameters();
            for (size_t i = 0; i < src.size(); i++) dst[i].copy_(src[i]);
        }
        m->to(r.dtype);
        Scores s = class_scores(m, x);
        if (s.S.scalar_type() != r.dtype || !s.S.is_contiguous()) ok = false;
        const void *before = s.S.data_ptr();
        for (const Layout &l : layouts()) {
          for (int method : {FI_METHOD_AUTO, FI_METHOD_REFERENCE}) {
            if (fi_context_set(ctx, FI_OPT_METHOD, method) != FI_OK) return 1;
            std::vector<double> fi;
            if (!libfi_fi(ctx, s, l, fi)) { ok = false; continue; }
            // Same scores, widened to double, through pinv: libfi's own accuracy.
            const double big = static_cast<double>(std::max(l.blocks.size, K));
            double same = max_rel(fi, pinv_fi(s.S, s.P, l.groups, s.k, big * r.u));
            // The float64 model: what the reduced precision costs. Compared where FI is not
            // tiny (relative error of near-zero elements says nothing).
            torch::Tensor want = pinv_fi(ref.S, ref.P, l.groups, ref.k, big * 0x1p-53);
            torch::Tensor sel = want > 1e-3 * want.max();
            torch::Tensor got = torch::tensor(fi, torch::kFloat64);
            double vs64 = ((got - want).abs() / want.abs()).masked_select(sel).max()
                              .item<double>();
            bool good = same < 1e-9 && vs64 < r.tol_f64;
            ok = ok && good;
            std::printf("  %-8s %-8s %-9s %4lld blocks  vs pinv(same scores) %.1e  "
                        "vs float64 model %.1e  %s\n", r.name, l.name,
                        method == FI_METHOD_AUTO ? "auto" : "reference",
                        static_cast<long long>(l.blocks.count), same, vs64,
                        good ? "ok" : "MISMATCH");
          }
        }
        if (s.S.data_ptr() != before) ok = false;  // libfi read the tensor where it was
    }
    fi_context_free(ctx);
    std::printf("libtorch example: %s\n", ok ? "OK" : "MISMATCH");
    return ok ? 0 : 1;
}
