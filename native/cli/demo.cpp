// cblab demo NAME — the original lab's demos, each a small story told with the real engine.
//   prefill-only        one prompt through the model: KV length = prompt length, and the
//                       cached (paged) path equals dense causal attention over the sequence
//   ragged-mask         the flattened batch of three requests (a whole prompt, a later chunk
//                       over a cached prefix, a decode token) and its ragged causal mask
//   prefill-decode-mix  the per-step log of a schedule mixing decode tokens and prefill chunks
//   scheduler-timeline  a text Gantt chart of requests over steps
//   paged-attention     block pool, block tables, slot mapping; paged decode equals dense
// Colour when stdout is a terminal, plain text when piped (or with --no-color).
#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <format>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include "commands.hpp"
import cblab;

namespace {

bool g_color = false;

std::string paint(std::string_view text, const char* ansi) {
  return g_color ? std::format("\x1b[{}m{}\x1b[0m", ansi, text) : std::string(text);
}
void title(std::string_view text) { std::printf("%s\n", paint(text, "1").c_str()); }
void print(const std::string& text) { std::fputs(text.c_str(), stdout); if (!text.ends_with('\n')) std::fputc('\n', stdout); }

std::vector<int32_t> bytes(std::string_view text) { return {text.begin(), text.end()}; }

float max_abs_diff(std::span<const float> a, std::span<const float> b) {
  float m = 0.f;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// Adds a request with the given prompt to `requests` (as the engine would) and returns its index.
int add(std::vector<cblab::Request>& requests, std::string id, std::string_view prompt) {
  cblab::Request r;
  r.spec.id = std::move(id);
  r.spec.prompt_tokens = bytes(prompt);
  requests.push_back(std::move(r));
  return static_cast<int>(requests.size()) - 1;
}

// [prefill-only] --------------------------------------------------------------------------
void prefill_only() {
  const cblab::TinyLLM model(cblab::ModelConfig{.d_model = 64, .seed = 7});
  cblab::KVCache kv(model.kv_cache_config(cblab::KVCacheKind::paged, 16, 4));
  std::vector<cblab::Request> requests;
  const int r = add(requests, "hello", "Hello, paged world");
  const int P = requests[r].num_prompt_tokens();
  kv.allocate_slots(r, P);
  const cblab::PrefillChunk whole{.request = r, .start = 0, .len = P};
  const auto batch = cblab::build_batch(std::span(&whole, 1), requests, kv);
  const auto cached = model.forward(batch, kv);
  const auto dense = model.forward_sequence(requests[r].spec.prompt_tokens);

  title("prefill-only: one prompt, one forward pass");
  std::printf("prompt            \"Hello, paged world\" (%d byte tokens)\n", P);
  std::printf("KV length         %d = prompt length %d\n", kv.num_tokens(r), P);
  std::printf("blocks held       %d of %d (block_size 4: ceil(%d/4) = %d)\n", kv.num_blocks_held(r),
              kv.pool().num_blocks(), P, kv.blocks_needed(P));
  const float diff = max_abs_diff(cached.hidden, dense.hidden);
  std::printf("hidden states     paged forward vs dense causal: max |diff| = %.2e  %s\n", diff,
              paint(diff <= 1e-4f ? "OK" : "NOT OK", diff <= 1e-4f ? "32" : "31").c_str());
}

// [ragged-mask] ---------------------------------------------------------------------------
void ragged_mask() {
  const cblab::TinyLLM model(cblab::ModelConfig{.d_model = 16, .seed = 1});
  cblab::KVCache kv(model.kv_cache_config(cblab::KVCacheKind::paged, 16, 4));
  std::vector<cblab::Request> requests;
  const int a = add(requests, "A", "abcd");     // a whole prompt this step
  const int b = add(requests, "B", "0123456");  // 4 tokens cached earlier, chunk [4, 7) now
  const int c = add(requests, "C", "xyz!");     // 3 tokens cached, one decode token at position 3
  kv.allocate_slots(a, 4);
  kv.allocate_slots(b, 7);
  kv.allocate_slots(c, 4);
  const std::vector<cblab::PrefillChunk> rows = {{c, 3, 1}, {a, 0, 4}, {b, 4, 3}};
  const auto batch = cblab::build_batch(rows, requests, kv);
  const auto mask = cblab::ragged_causal_mask(batch);

  title("ragged-mask: three requests flattened into one batch, no padding");
  std::printf("rows: C decodes position 3 (3 cached), A prefills [0,4), B prefills [4,7) over 4 cached\n\n");
  print(cblab::format_batch(batch));
  std::printf("\n%-4s %-8s %-9s %-6s %s\n", "t", "request", "position", "token", "slot");
  for (int t = 0; t < batch.num_tokens(); ++t)
    std::printf("%-4d %-8s %-9d %-6c %d\n", t, requests[batch.token_request[t]].spec.id.c_str(),
                batch.positions[t], static_cast<char>(batch.token_ids[t]), batch.slot_mapping[t]);
  int num_keys = 0;
  for (int32_t len : batch.context_lens) num_keys += len;
  std::printf("\nmask (%d new tokens x %d keys; keys = each row's whole context, end to end)\n",
              batch.num_tokens(), num_keys);
  std::printf("B's chunk sees its 4 cached keys and, causally, its own chunk; nothing of A or C.\n");
  print(cblab::format_mask(mask, batch.num_tokens(), num_keys));
}

// [prefill-decode-mix] and [scheduler-timeline] share one workload ------------------------
std::unique_ptr<cblab::Engine> mixed_engine(std::vector<cblab::StepRecord>* records) {
  auto engine = std::make_unique<cblab::Engine>(
      cblab::ModelConfig{.d_model = 32, .seed = 3},
      cblab::EngineConfig{.max_tokens_per_step = 16, .prefill_chunk_size = 8, .max_running = 4,
                          .block_size = 4, .num_blocks = 64});
  const std::vector<std::pair<const char*, const char*>> prompts = {
      {"chat", "Hi!"}, {"essay", "Write about continuous batching"}, {"code", "int main() {}"},
      {"late", "I arrive at step 3"}, {"short", "ok"}};
  for (const auto& [id, text] : prompts) {
    cblab::RequestSpec spec{.id = id, .prompt_tokens = bytes(text), .max_new_tokens = 5};
    if (std::string_view(id) == "late") spec.arrival_step = 3;
    engine->add_request(std::move(spec));
  }
  engine->run([&](const cblab::StepRecord& s) { if (records) records->push_back(s); });
  return engine;
}

void prefill_decode_mix() {
  std::vector<cblab::StepRecord> records;
  const auto engine = mixed_engine(&records);
  title("prefill-decode-mix: budget 16 tokens/step, chunks of 8, decodes first");
  for (const auto& s : records) print(cblab::format_step(s));
  std::printf("\n");
  print(cblab::format_requests(engine->requests()));
}

void scheduler_timeline() {
  std::vector<cblab::StepRecord> records;
  const auto engine = mixed_engine(&records);
  const auto& requests = engine->requests();
  const int R = static_cast<int>(requests.size()), S = static_cast<int>(records.size());
  // cell[r][s]: what request r did in step s.
  std::vector<std::string> cells(R, std::string(S, ' '));
  std::vector<int> admitted(R, S), finished(R, S);
  for (int s = 0; s < S; ++s) {
    for (int r : records[s].admitted) admitted[r] = std::min(admitted[r], s);
    for (int r : records[s].finished) finished[r] = std::min(finished[r], s);
    for (int r : records[s].decodes) cells[r][s] = 'D';
    for (const auto& c : records[s].prefills) cells[c.request][s] = 'P';
  }
  title("scheduler-timeline: one lane per request, one column per step");
  std::printf("P prefill chunk  D decode token  w waiting  ~ admitted but idle  (blank: not arrived or finished)\n\n");
  std::printf("%-8s ", "step");
  for (int s = 0; s < S; ++s) std::printf("%d", s % 10);
  std::printf("\n");
  for (int r = 0; r < R; ++r) {
    std::string lane;
    for (int s = 0; s < S; ++s) {
      char c = cells[r][s];
      if (c == ' ' && s >= requests[r].spec.arrival_step && s < admitted[r]) c = 'w';
      if (c == ' ' && s > admitted[r] && s < finished[r]) c = '~';
      const char* color = c == 'P' ? "33" : c == 'D' ? "32" : "90";
      lane += c == ' ' ? std::string(" ") : paint(std::string(1, c), color);
    }
    std::printf("%-8s %s  finished at step %d\n", requests[r].spec.id.c_str(), lane.c_str(),
                requests[r].finish_step);
  }
  std::printf("\ntokens per step: ");
  for (const auto& s : records) std::printf("%d ", s.budget_used);
  std::printf("(budget %d)\n", records.empty() ? 0 : records.front().budget);
}

// [paged-attention] -----------------------------------------------------------------------
void paged_attention() {
  const cblab::TinyLLM model(cblab::ModelConfig{.d_model = 32, .n_heads = 2, .seed = 5});
  const int B = 4;
  cblab::KVCache kv(model.kv_cache_config(cblab::KVCacheKind::paged, 8, B));
  std::vector<cblab::Request> requests;
  const int a = add(requests, "A", "shared pool");          // 11 tokens -> 3 blocks
  const int b = add(requests, "B", "paged");                // 5 tokens -> 2 blocks
  kv.allocate_slots(a, 6);
  kv.allocate_slots(b, 5);
  kv.allocate_slots(a, 5);  // A grows after B: its blocks are not contiguous
  // Fill every token's K/V with a seeded pattern, as a forward pass would.
  const int row = kv.config().num_kv_heads * kv.config().head_dim;
  cblab::SplitMix64 rng{11};
  std::vector<float> k(row), v(row);
  for (int r : {a, b})
    for (int p = 0; p < kv.num_tokens(r); ++p) {
      for (int i = 0; i < row; ++i) { k[i] = rng.uniform(); v[i] = rng.uniform(); }
      kv.write(0, r, p, k, v);
    }

  title("paged-attention: one shared pool, a block table per request");
  print(cblab::format_block_pool(kv.snapshot(), B));
  const std::vector<int> both = {a, b};
  print(cblab::format_block_tables(kv, both));
  std::printf("slot mapping of A (block_table[p / %d] * %d + p %% %d):", B, B, B);
  for (int p = 0; p < kv.num_tokens(a); ++p) std::printf(" %d", kv.slot(a, p));
  std::printf("\n\n");

  // A decode query of A against its paged context, vs dense attention over the same keys.
  const auto& cfg = kv.config();
  const cblab::kernels::AttentionShape shape{.num_heads = 2, .num_kv_heads = cfg.num_kv_heads,
                                             .head_dim = cfg.head_dim,
                                             .scale = 1.f / std::sqrt(float(cfg.head_dim))};
  const int C = kv.num_tokens(a);
  std::vector<float> q(shape.num_heads * shape.head_dim);
  for (float& x : q) x = rng.uniform();
  std::vector<float> paged(q.size()), dense(q.size()), kd(C * row), vd(C * row);
  cblab::kernels::attention_paged_decode(q, kv.paged_view(0), kv.block_table(a), C, paged, shape);
  kv.gather(0, a, C, kd, vd);
  const std::vector<uint8_t> all(C, 1);
  cblab::kernels::attention_masked_reference(q, kd, vd, all, dense, 1, C, shape);
  const float diff = max_abs_diff(paged, dense);
  std::printf("decode query of A over its %d paged keys (arch %s) vs dense attention over the\n"
              "same keys gathered contiguously: max |diff| = %.2e  %s\n", C,
              std::string(cblab::kernels::arch()).c_str(), diff,
              paint(diff <= 1e-5f ? "OK" : "NOT OK", diff <= 1e-5f ? "32" : "31").c_str());
}

}  // namespace

void cli::register_demo(CLI::App& app) {
  static const std::map<std::string, void (*)()> demos = {
      {"prefill-only", prefill_only},         {"ragged-mask", ragged_mask},
      {"prefill-decode-mix", prefill_decode_mix}, {"scheduler-timeline", scheduler_timeline},
      {"paged-attention", paged_attention}};
  struct Options { std::string name; bool no_color = false; };
  auto opt = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("demo", "Run one of the lab's demos (prefill-only, ragged-mask, "
                                         "prefill-decode-mix, scheduler-timeline, paged-attention)");
  std::vector<std::string> names;
  for (const auto& [name, fn] : demos) names.push_back(name);
  cmd->add_option("name", opt->name, "Which demo")->required()->check(CLI::IsMember(names));
  cmd->add_flag("--no-color", opt->no_color, "Plain text even in a terminal");
  cmd->callback([opt] {
    g_color = !opt->no_color && isatty(fileno(stdout));
    demos.at(opt->name)();
  });
}
