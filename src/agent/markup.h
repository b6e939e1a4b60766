// Text for notification servers that read the body as markup (the `body-markup` capability): a
// notification comes from a remote admin and must be shown exactly as written, tags included.
#pragma once

#include <string>
#include <string_view>

namespace liaison::agent {

// `text` with & < > " ' replaced by their XML entities, so a server that parses the body as the
// spec's XML-like markup shows it literally. Bytes other than those five pass through unchanged.
std::string escape_markup(std::string_view text);

}  // namespace liaison::agent
