// An embedding of cb-lab in another program: `import cblab;`, build an engine, queue requests,
// step it, and read the plain StepRecord each step returns.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>
import cblab;

int main() {
  cblab::Engine engine(cblab::ModelConfig{.d_model = 32, .seed = 1},
                       cblab::EngineConfig{.max_tokens_per_step = 16, .prefill_chunk_size = 8,
                                           .block_size = 4, .num_blocks = 32});
  for (std::string_view prompt : {"Hello from an embedding", "cb-lab"}) {
    engine.add_request({.id = std::string(prompt.substr(0, 5)),
                        .prompt_tokens = std::vector<int32_t>(prompt.begin(), prompt.end()),
                        .max_new_tokens = 4});
  }
  int prefill_tokens = 0;
  const int num_steps = engine.run([&](const cblab::StepRecord& s) { prefill_tokens += s.num_prefill_tokens(); });

  int output_tokens = 0;
  for (const cblab::Request& r : engine.requests()) output_tokens += r.num_output_tokens();
  std::printf("cblab %s on %s: %zu requests, %d steps, %d prefill tokens, %d output tokens\n",
              std::string(cblab::version).c_str(), std::string(cblab::kernels::arch()).c_str(),
              engine.requests().size(), num_steps, prefill_tokens, output_tokens);
  return 0;
}
