#pragma once
// The dashboard's files (web/: index.html, app.js, style.css, and uPlot's script and style from
// the npm package installed at build time), embedded in the binary so that the page works offline
// and loads nothing from anywhere but the agent. The definitions are generated at build time
// (web/embed_assets.cmake); nothing here reads a file. Constant data: any thread may call these.
//
// Served paths:
//   /  and  /index.html    the page
//   /assets/app.js         the page's script
//   /assets/style.css      the page's style
//   /assets/uPlot.iife.min.js, /assets/uPlot.min.css   the chart library (uPlot, MIT)
//
// The etag is a hash of the content made at generation time, quoted as an HTTP entity tag; it
// changes whenever a file does, so `Cache-Control: no-cache` plus `ETag` revalidates cheaply.

#include <span>
#include <string_view>

namespace connscope::agent {

struct DashboardAsset {
  std::string_view path;          // "/index.html", "/assets/app.js", ...
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
  std::string_view etag;          // "\"<16 hex digits>\""
};

// The asset served at `path` (a request's path without its query): "/" and "/index.html" give
// the page, "/assets/<name>" the others; nullptr for anything else.
const DashboardAsset* dashboard_asset(std::string_view path);

// Every embedded asset, the page first.
std::span<const DashboardAsset> dashboard_assets();

}  // namespace connscope::agent
