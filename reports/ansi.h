// The escape codes the terminal view and its status line paint with (SGR), in one place.
// Internal to reports/; whether to paint at all is TerminalView::WantColour's call.
#pragma once

namespace firedrill::ansi {

inline constexpr const char* kReset = "\x1b[0m";
inline constexpr const char* kBold = "\x1b[1m";
inline constexpr const char* kDim = "\x1b[2m";
inline constexpr const char* kRed = "\x1b[31m";
inline constexpr const char* kGreen = "\x1b[32m";
inline constexpr const char* kYellow = "\x1b[33m";
inline constexpr const char* kBoldRed = "\x1b[1;31m";
inline constexpr const char* kBoldGreen = "\x1b[1;32m";
inline constexpr const char* kBoldYellow = "\x1b[1;33m";

}  // namespace firedrill::ansi
