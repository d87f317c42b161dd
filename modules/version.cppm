// cblab:version — the library version, baked in at build time from CMake's project().
module;
#include <string_view>
export module cblab:version;

export namespace cblab {
inline constexpr std::string_view version = CBLAB_VERSION_STRING;
}
