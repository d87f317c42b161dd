// model.cpp — TinyLLM's weights and its forward passes. One layer loop (run) serves every
// path; the paths differ only in how attention reads keys and values.
module;
#include <cmath>
#include <cstdint>
#include <format>
#include <functional>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>
module cblab.engine;
import cblab.kernels;

namespace cblab {

namespace ck = cblab::kernels;

// [config and PRNG] ---------------------------------------------------------------------------

void validate(const ModelConfig& c) {
  auto at_least = [](const char* field, int value, int min) {
    if (value < min) throw ConfigError(field, std::to_string(value), std::format(">= {}", min));
  };
  at_least("model.vocab_size", c.vocab_size, 2);
  at_least("model.d_model", c.d_model, 2);
  at_least("model.n_layers", c.n_layers, 1);
  at_least("model.n_heads", c.n_heads, 1);
  at_least("model.n_kv_heads", c.n_kv_heads, 1);
  at_least("model.head_dim", c.head_dim, 0);
  at_least("model.mlp_dim", c.mlp_dim, 0);
  if (c.n_heads % c.n_kv_heads != 0)
    throw ConfigError("model.n_kv_heads", std::to_string(c.n_kv_heads),
                      std::format("a divisor of model.n_heads ({})", c.n_heads));
  if (c.head_dim == 0 && c.d_model % c.n_heads != 0)
    throw ConfigError("model.n_heads", std::to_string(c.n_heads),
                      std::format("a divisor of model.d_model ({}) when model.head_dim is 0",
                                  c.d_model));
  if (c.resolved_head_dim() % 2 != 0)
    throw ConfigError("model.head_dim", std::to_string(c.resolved_head_dim()),
                      "an even number (RoPE rotates pairs of dimensions)");
  if (!(c.rope_theta > 1.f))
    throw ConfigError("model.rope_theta", std::format("{}", c.rope_theta), "> 1");
  // The weights' bytes, in 64-bit before anything is drawn (see TinyLLM's constructor):
  // embedding and LM head (V, E), per layer wq, wo (E, H*D), wk, wv (E, Hkv*D), w_up, w_down
  // (E, F) and two norms (E), and the final norm (E).
  const int64_t E = c.d_model, D = c.resolved_head_dim();
  const int64_t per_row = add_saturated(add_saturated(mul_saturated(2 * int64_t{c.n_heads}, D),
                                                      mul_saturated(2 * int64_t{c.n_kv_heads}, D)),
                                        2 * int64_t{c.mlp_dim} + 2);
  const int64_t floats = add_saturated(mul_saturated(2 * int64_t{c.vocab_size} + 1, E),
                                       mul_saturated(c.n_layers, mul_saturated(E, per_row)));
  const int64_t bytes = mul_saturated(floats, sizeof(float));
  if (bytes > kMaxWeightBytes)
    throw ConfigError("model",
                      std::format("vocab_size {}, d_model {}, n_layers {}, n_heads {}, n_kv_heads "
                                  "{}, head_dim {}, mlp_dim {}: {} of weights",
                                  c.vocab_size, c.d_model, c.n_layers, c.n_heads, c.n_kv_heads,
                                  D, c.mlp_dim, bytes_text(bytes)),
                      std::format("at most {} of weights (cap)", bytes_text(kMaxWeightBytes)));
}

uint64_t SplitMix64::next() {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

float SplitMix64::uniform() {
  const auto top24 = static_cast<int32_t>(next() >> 40);    // 0 .. 2^24 - 1
  return static_cast<float>(top24 - (1 << 23)) * 0x1p-23f;  // exact: [-1, 1)
}

namespace {
// rows x cols uniform values scaled by 1/sqrt(fan_in) (fan_in = rows for an (in, out) matrix).
std::vector<float> random_matrix(SplitMix64& rng, int rows, int cols, float scale) {
  std::vector<float> m(static_cast<std::size_t>(rows) * cols);
  for (float& x : m) x = rng.uniform() * scale;
  return m;
}
float fan_in_scale(int fan_in) { return 1.f / std::sqrt(static_cast<float>(fan_in)); }
}  // namespace

// The draw order is part of the model's definition: embedding, then per layer wq, wk, wv, wo,
// w_up, w_down, then the LM head. Norm weights are 1.
TinyLLM::TinyLLM(const ModelConfig& config) : config_(config) {
  validate(config);
  const int V = config.vocab_size, E = config.d_model, F = config.mlp_dim;
  const int D = config.resolved_head_dim(), HD = config.n_heads * D, KD = config.n_kv_heads * D;
  SplitMix64 rng{config.seed};
  embedding_ = random_matrix(rng, V, E, 1.f);
  for (int l = 0; l < config.n_layers; ++l) {
    Layer layer;
    layer.attn_norm.assign(E, 1.f);
    layer.wq = random_matrix(rng, E, HD, fan_in_scale(E));
    layer.wk = random_matrix(rng, E, KD, fan_in_scale(E));
    layer.wv = random_matrix(rng, E, KD, fan_in_scale(E));
    layer.wo = random_matrix(rng, HD, E, fan_in_scale(HD));
    if (F > 0) {
      layer.mlp_norm.assign(E, 1.f);
      layer.w_up = random_matrix(rng, E, F, fan_in_scale(E));
      layer.w_down = random_matrix(rng, F, E, fan_in_scale(F));
    }
    layers_.push_back(std::move(layer));
  }
  final_norm_.assign(E, 1.f);
  lm_head_ = random_matrix(rng, E, V, fan_in_scale(E));
}

KVCacheConfig TinyLLM::kv_cache_config(KVCacheKind kind, int num_blocks, int block_size) const {
  return {kind, config_.n_layers, config_.n_kv_heads, config_.resolved_head_dim(), num_blocks,
          block_size};
}

// [the layer loop] ----------------------------------------------------------------------------

ForwardOutput TinyLLM::run(std::span<const int32_t> tokens, std::span<const int32_t> positions,
                           std::span<const int32_t> last_rows, const Attend& attend) const {
  const int T = static_cast<int>(tokens.size()), R = static_cast<int>(last_rows.size());
  const int V = config_.vocab_size, E = config_.d_model, F = config_.mlp_dim;
  const int H = config_.n_heads, Hkv = config_.n_kv_heads, D = config_.resolved_head_dim();
  const auto t_e = static_cast<std::size_t>(T) * E;

  std::vector<float> x(t_e);  // (T, E) the residual stream
  for (int t = 0; t < T; ++t)
    std::copy_n(embedding_.begin() + static_cast<std::size_t>(tokens[t]) * E, E,
                x.begin() + static_cast<std::size_t>(t) * E);

  std::vector<float> h(t_e), o(t_e);                                  // (T, E)
  std::vector<float> q(static_cast<std::size_t>(T) * H * D);          // (T, H, D)
  std::vector<float> attn(q.size());                                  // (T, H, D)
  std::vector<float> k(static_cast<std::size_t>(T) * Hkv * D), v(k.size());  // (T, Hkv, D)
  std::vector<float> up(static_cast<std::size_t>(T) * F);             // (T, F)
  for (int l = 0; l < config_.n_layers; ++l) {
    const Layer& w = layers_[l];
    ck::rmsnorm(x, w.attn_norm, h, T, E);
    ck::matmul(h, w.wq, q, T, E, H * D);
    ck::matmul(h, w.wk, k, T, E, Hkv * D);
    ck::matmul(h, w.wv, v, T, E, Hkv * D);
    ck::rope(q, positions, H, D, config_.rope_theta);
    ck::rope(k, positions, Hkv, D, config_.rope_theta);
    attend(l, q, k, v, attn);
    ck::matmul(attn, w.wo, o, T, H * D, E);
    for (std::size_t i = 0; i < t_e; ++i) x[i] += o[i];
    if (F > 0) {  // x += w_down · silu(w_up · rmsnorm(x))
      ck::rmsnorm(x, w.mlp_norm, h, T, E);
      ck::matmul(h, w.w_up, up, T, E, F);
      for (float& u : up) u = u / (1.f + std::exp(-u));
      ck::matmul(up, w.w_down, o, T, F, E);
      for (std::size_t i = 0; i < t_e; ++i) x[i] += o[i];
    }
  }

  ForwardOutput out;
  out.hidden.resize(t_e);
  ck::rmsnorm(x, final_norm_, out.hidden, T, E);
  std::vector<float> last(static_cast<std::size_t>(R) * E);  // (R, E)
  for (int r = 0; r < R; ++r)
    std::copy_n(out.hidden.begin() + static_cast<std::size_t>(last_rows[r]) * E, E,
                last.begin() + static_cast<std::size_t>(r) * E);
  out.logits.resize(static_cast<std::size_t>(R) * V);
  ck::matmul(last, lm_head_, out.logits, R, E, V);
  return out;
}

// [the attention paths] -----------------------------------------------------------------------

namespace {
ck::AttentionShape attention_shape(const ModelConfig& c) {
  const int D = c.resolved_head_dim();
  return {c.n_heads, c.n_kv_heads, D, 1.f / std::sqrt(static_cast<float>(D))};
}
std::vector<int32_t> last_row_of_each_seq(const Batch& batch) {
  std::vector<int32_t> rows(batch.num_seqs());
  for (int r = 0; r < batch.num_seqs(); ++r) rows[r] = batch.cu_seqlens_q[r + 1] - 1;
  return rows;
}
}  // namespace

// K/V of the new tokens go into the cache first: attention then reads them from there.
void TinyLLM::write_kv(const Batch& batch, KVCache& kv, int layer, std::span<const float> k,
                       std::span<const float> v) const {
  const int row = config_.n_kv_heads * config_.resolved_head_dim();
  for (int t = 0; t < batch.num_tokens(); ++t)
    kv.write(layer, batch.token_request[t], batch.positions[t],
             k.subspan(static_cast<std::size_t>(t) * row, row),
             v.subspan(static_cast<std::size_t>(t) * row, row));
}

ForwardOutput TinyLLM::forward_sequence(std::span<const int32_t> tokens) const {
  const int S = static_cast<int>(tokens.size());
  std::vector<int32_t> positions(S);
  std::iota(positions.begin(), positions.end(), 0);
  const int32_t last = S - 1;
  const auto shape = attention_shape(config_);
  return run(tokens, positions, std::span(&last, 1),
             [&](int, std::span<const float> q, std::span<const float> k,
                 std::span<const float> v, std::span<float> out) {
               ck::attention_dense_causal(q, k, v, out, S, shape);
             });
}

std::vector<float> TinyLLM::attention_weights(std::span<const int32_t> tokens, int layer) const {
  if (layer < 0 || layer >= config_.n_layers)
    throw ConfigError("layer", std::to_string(layer), std::format("0..{}", config_.n_layers - 1));
  const int S = static_cast<int>(tokens.size());
  const int H = config_.n_heads, Hkv = config_.n_kv_heads, D = config_.resolved_head_dim();
  const auto shape = attention_shape(config_);
  std::vector<float> weights(static_cast<std::size_t>(H) * S * S, 0.f);  // (H, S, S)
  std::vector<int32_t> positions(S);
  std::iota(positions.begin(), positions.end(), 0);
  const int32_t last = S - 1;
  run(tokens, positions, std::span(&last, 1),
      [&](int l, std::span<const float> q, std::span<const float> k, std::span<const float> v,
          std::span<float> out) {
        if (l == layer)
          for (int h = 0; h < H; ++h)
            for (int i = 0; i < S; ++i) {
              // Scores of query i against keys 0..i (its KV head is h / (H / Hkv)), then the
              // same stable softmax as the reference; keys after i keep weight exactly 0.
              float* row = &weights[(static_cast<std::size_t>(h) * S + i) * S];
              const float* qi = &q[(static_cast<std::size_t>(i) * H + h) * D];
              for (int j = 0; j <= i; ++j) {
                const float* kj = &k[(static_cast<std::size_t>(j) * Hkv + h / (H / Hkv)) * D];
                float dot = 0.f;
                for (int d = 0; d < D; ++d) dot += qi[d] * kj[d];
                row[j] = dot * shape.scale;
              }
              ck::softmax_reference(std::span(row, i + 1), 1, i + 1);
            }
        ck::attention_dense_causal(q, k, v, out, S, shape);
      });
  return weights;
}

ForwardOutput TinyLLM::forward(const Batch& batch, KVCache& kv) const {
  if (kv.config().kind == KVCacheKind::dense) return forward_prefill_ragged(batch, kv);
  const auto shape = attention_shape(config_);
  return run(batch.token_ids, batch.positions, last_row_of_each_seq(batch),
             [&](int layer, std::span<const float> q, std::span<const float> k,
                 std::span<const float> v, std::span<float> out) {
               write_kv(batch, kv, layer, k, v);
               ck::attention_varlen_paged(q, kv.paged_view(layer), batch.varlen(), out, shape);
             });
}

ForwardOutput TinyLLM::forward_prefill_ragged(const Batch& batch, KVCache& kv) const {
  const auto shape = attention_shape(config_);
  const int T = batch.num_tokens(), row = config_.n_kv_heads * config_.resolved_head_dim();
  const std::vector<uint8_t> mask = ragged_causal_mask(batch);  // (T, Tk)
  const int Tk = std::accumulate(batch.context_lens.begin(), batch.context_lens.end(), 0);
  std::vector<float> keys(static_cast<std::size_t>(Tk) * row), values(keys.size());  // (Tk, Hkv, D)
  return run(batch.token_ids, batch.positions, last_row_of_each_seq(batch),
             [&](int layer, std::span<const float> q, std::span<const float> k,
                 std::span<const float> v, std::span<float> out) {
               write_kv(batch, kv, layer, k, v);
               // Every row's whole context (cached prefix + new tokens), laid end to end.
               std::size_t at = 0;
               for (int r = 0; r < batch.num_seqs(); ++r) {
                 const std::size_t n = static_cast<std::size_t>(batch.context_lens[r]) * row;
                 kv.gather(layer, batch.requests[r], batch.context_lens[r],
                           std::span(keys).subspan(at, n), std::span(values).subspan(at, n));
                 at += n;
               }
               ck::attention_masked(q, keys, values, mask, out, T, Tk, shape);
             });
}

ForwardOutput TinyLLM::forward_decode(const Batch& batch, KVCache& kv) const {
  for (int r = 0; r < batch.num_seqs(); ++r)
    if (batch.query_len(r) != 1)
      throw std::invalid_argument(std::format(
          "forward_decode: row {} has {} new tokens; allowed: exactly 1 (use forward)", r,
          batch.query_len(r)));
  if (kv.config().kind == KVCacheKind::dense) return forward_prefill_ragged(batch, kv);
  const auto shape = attention_shape(config_);
  const int HD = config_.n_heads * config_.resolved_head_dim();
  const int MB = batch.max_blocks_per_seq;
  return run(batch.token_ids, batch.positions, last_row_of_each_seq(batch),
             [&](int layer, std::span<const float> q, std::span<const float> k,
                 std::span<const float> v, std::span<float> out) {
               write_kv(batch, kv, layer, k, v);  // the decode token must see itself
               for (int r = 0; r < batch.num_seqs(); ++r)
                 ck::attention_paged_decode(
                     q.subspan(static_cast<std::size_t>(r) * HD, HD), kv.paged_view(layer),
                     std::span(batch.block_tables).subspan(static_cast<std::size_t>(r) * MB, MB),
                     batch.context_lens[r], out.subspan(static_cast<std::size_t>(r) * HD, HD),
                     shape);
             });
}

}  // namespace cblab
