// workload_panel.cpp — the Workload panel: scenarios, random workloads, adding a request to the
// running engine, aborting one in the running engine (it frees its blocks; the workload keeps
// it), removing one (a new workload: the session restarts), import and export.
module;
#include <imgui.h>
#include <format>
#include <nlohmann/json.hpp>
#include <string>
module cblab.ui;
import cblab;

namespace cblab::ui {

void WorkloadPanel::draw(const Session& session, View& view) {
  ImGui::Begin("Workload");
  view.remember_window("Workload");

  ImGui::SeparatorText("scenarios");
  for (std::string_view name : scenario_names()) {
    if (name == "random") continue;
    const std::string label(name);
    if (ImGui::Button(label.c_str())) view.push("load_scenario", {{"name", label}});
    view.remember("scenario." + label);
    ImGui::SameLine();
  }
  ImGui::NewLine();
  ImGui::PushItemWidth(70);
  ImGui::InputInt("seed", &random_seed, 0);
  ImGui::SameLine();
  ImGui::InputInt("count", &random_count, 0);
  ImGui::PopItemWidth();
  ImGui::SameLine();
  if (ImGui::Button("Randomize"))
    view.push("load_scenario", {{"name", "random"}, {"seed", random_seed}, {"count", random_count}});

  ImGui::SeparatorText("add a request (joins the running engine)");
  ImGui::SetNextItemWidth(-1);
  ImGui::InputText("##prompt", prompt, sizeof prompt);
  ImGui::PushItemWidth(80);
  ImGui::InputInt("max new", &max_new_tokens, 0);
  ImGui::SameLine();
  ImGui::InputInt("arrival", &arrival_step, 0);
  ImGui::PopItemWidth();
  ImGui::SameLine();
  if (ImGui::Button("Add"))
    view.push("add_request", {{"prompt", std::string(prompt)}, {"max_new_tokens", max_new_tokens},
                              {"arrival_step", arrival_step}});
  view.remember("Add");

  ImGui::SeparatorText("JSON (the CLI's workload format)");
  if (ImGui::Button("Import file...")) view.push("import_file");
  view.remember("Import");
  ImGui::SameLine();
  if (ImGui::Button("Export file")) view.push("export_file");
  view.remember("Export");
  ImGui::SameLine();
  if (ImGui::Button("Load pasted")) view.push("load_workload", {{"json", std::string(paste)}});
  view.remember("Load pasted");
  ImGui::InputTextMultiline("##paste", paste, sizeof paste, ImVec2(-1, 60));

  if (!view.message.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, view.message_is_error ? ImVec4(1.f, 0.45f, 0.4f, 1.f)
                                                                : ImVec4(0.6f, 0.9f, 0.6f, 1.f));
    ImGui::TextWrapped("%s", view.message.c_str());
    ImGui::PopStyleColor();
    view.remember("message");
  }

  const auto& requests = session.workload().requests;
  ImGui::SeparatorText(std::format("{} requests (abort: now; x removes: restarts)", requests.size()).c_str());
  const auto& live = session.engine().requests();
  if (ImGui::BeginChild("##requests")) {
    ImGuiListClipper clipper;
    clipper.Begin(static_cast<int>(requests.size()));
    while (clipper.Step())
      for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
        const RequestSpec& r = requests[i];
        ImGui::PushID(i);
        if (ImGui::SmallButton("x")) view.push("remove_request", {{"index", i}});
        ImGui::SameLine();
        ImGui::BeginDisabled(i >= static_cast<int>(live.size()) || live[i].is_finished());
        if (ImGui::SmallButton("abort")) view.push("abort_request", {{"index", i}});
        view.remember("abort." + std::to_string(i));
        ImGui::EndDisabled();
        ImGui::SameLine();
        ImGui::ColorButton("##c", ImGui::ColorConvertU32ToFloat4(request_color(i)),
                           ImGuiColorEditFlags_NoTooltip, ImVec2(10, 10));
        ImGui::SameLine();
        ImGui::Text("#%d %s  P=%zu new=%d at %d%s", i, r.id.c_str(), r.prompt_tokens.size(),
                    r.max_new_tokens, r.arrival_step,
                    r.priority != 0 ? std::format(" prio {}", r.priority).c_str() : "");
        if (ImGui::IsItemHovered()) view.next_hover.request = i;
        ImGui::PopID();
      }
  }
  ImGui::EndChild();
  ImGui::End();
}

}  // namespace cblab::ui
