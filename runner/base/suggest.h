#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace firedrill {

// Edit distance with adjacent transpositions (optimal string alignment).
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely typo, else "".
std::string NearestName(std::string_view word, const std::vector<std::string>& candidates);

// ", did you mean 'x'?" or "" — ready to append to an error message.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace firedrill
