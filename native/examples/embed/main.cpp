// An embedding of cb-lab in another program: `import cblab;` and call the library.
#include <cstdio>
#include <string>
#include <vector>
import cblab;

int main() {
  const std::vector<float> a(1000, 0.5f), b(1000, 2.0f);
  std::printf("cblab %s on %s: dot = %.1f (reference %.1f)\n", std::string(cblab::version).c_str(),
              std::string(cblab::kernels::arch()).c_str(), cblab::kernels::dot(a, b),
              cblab::kernels::dot_reference(a, b));
  return 0;
}
