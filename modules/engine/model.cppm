// cblab.engine:model — TinyLLM, a decoder-only transformer small enough to read in one sitting.
//
//   token ids -> embedding -> L x [ RMSNorm -> Q,K,V -> RoPE -> write K/V -> attention -> O,
//                                   (+ RMSNorm -> SiLU MLP) ] -> RMSNorm -> LM head -> logits
//
// Byte vocabulary by default (256: a prompt is its text). The weights come from splitmix64
// seeded with `seed` (see SplitMix64), not from <random>'s distributions, whose output the
// standard leaves to each library: native and wasm build bit-identical weights.
// Three ways to run a batch, the same numbers:
//   forward(batch, kv)                 the fused pass the engine uses: one attention call per
//                                      layer for every decode token and prefill chunk
//                                      (unified varlen paged attention; a dense cache uses the
//                                      ragged mask instead);
//   forward_prefill_ragged(batch, kv)  the teaching path: the ragged causal mask over every
//                                      row's context, laid end to end;
//   forward_decode(batch, kv)          one-token rows only, each against its paged context.
// And forward_sequence(tokens): one whole sequence, no cache, dense causal attention — the
// oracle the batched paths are tested against.
// In every path a token's K/V are written to the cache BEFORE attention, so a decode token
// sees itself and a later chunk sees every earlier chunk.
// Not here: sampling other than greedy, tied embeddings, real tokenizers, quantization.
//
// Shape letters: V vocab, E d_model, H heads, Hkv kv heads, D head_dim, F mlp_dim, L layers,
// T new tokens in a batch, R batch rows, S sequence length.
module;
#include <cstdint>
#include <functional>
#include <span>
#include <vector>
export module cblab.engine:model;
import :kv_cache;
import :batch;

export namespace cblab {

struct ModelConfig {
  int vocab_size = 256;  // V: bytes
  int d_model = 64;      // E
  int n_layers = 1;      // L
  int n_heads = 1;       // H
  int n_kv_heads = 1;    // Hkv, divides H (grouped-query attention when smaller)
  int head_dim = 0;      // D; 0 = d_model / n_heads
  int mlp_dim = 0;       // F; 0 = no MLP block (attention-only, like the original)
  float rope_theta = 10000.f;
  uint64_t seed = 0;

  int resolved_head_dim() const { return head_dim > 0 ? head_dim : d_model / n_heads; }
};

// Throws ConfigError naming the first bad field.
void validate(const ModelConfig& config);

// splitmix64 (Steele, Lea, Flood 2014): state += 0x9E3779B97F4A7C15, then two xor-shift-multiply
// rounds. uniform() takes the top 24 bits, so every value is exactly representable in float.
struct SplitMix64 {
  uint64_t state;
  uint64_t next();
  float uniform();  // in [-1, 1)
};

struct ForwardOutput {
  std::vector<float> hidden;  // (T, E) final (normalized) hidden state of every new token
  std::vector<float> logits;  // (R, V) next-token logits at the last new token of each row
};

class TinyLLM {
 public:
  explicit TinyLLM(const ModelConfig& config);

  ForwardOutput forward(const Batch& batch, KVCache& kv) const;
  ForwardOutput forward_prefill_ragged(const Batch& batch, KVCache& kv) const;
  ForwardOutput forward_decode(const Batch& batch, KVCache& kv) const;
  ForwardOutput forward_sequence(std::span<const int32_t> tokens) const;  // R = 1
  // The attention weights of one layer over a whole sequence (the dense causal path):
  // weights (H, S, S); row i of head h sums to 1 over keys 0..i and is exactly 0 after i.
  // Because batched equals alone, these are the weights the fused step gives a request's new
  // tokens, whatever its chunking: the page draws them for any step. Throws ConfigError
  // ("layer") for a layer outside 0..L-1.
  std::vector<float> attention_weights(std::span<const int32_t> tokens, int layer) const;

  // The KV cache shape this model needs.
  KVCacheConfig kv_cache_config(KVCacheKind kind, int num_blocks, int block_size) const;
  const ModelConfig& config() const { return config_; }

 private:
  struct Layer {
    std::vector<float> attn_norm;   // (E)
    std::vector<float> wq;          // (E, H*D)
    std::vector<float> wk, wv;      // (E, Hkv*D)
    std::vector<float> wo;          // (H*D, E)
    std::vector<float> mlp_norm;    // (E)
    std::vector<float> w_up;        // (E, F)
    std::vector<float> w_down;      // (F, E)
  };
  // attend(layer, q, k, v, out): q (T, H*D) roped, k, v (T, Hkv*D) roped; out (T, H*D).
  using Attend = std::function<void(int, std::span<const float>, std::span<const float>,
                                    std::span<const float>, std::span<float>)>;
  ForwardOutput run(std::span<const int32_t> tokens, std::span<const int32_t> positions,
                    std::span<const int32_t> last_rows, const Attend& attend) const;
  void write_kv(const Batch& batch, KVCache& kv, int layer, std::span<const float> k,
                std::span<const float> v) const;

  ModelConfig config_;
  std::vector<float> embedding_;   // (V, E)
  std::vector<Layer> layers_;      // (L)
  std::vector<float> final_norm_;  // (E)
  std::vector<float> lm_head_;     // (E, V)
};

}  // namespace cblab
