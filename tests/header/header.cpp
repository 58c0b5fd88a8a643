// The installed header alone, compiled as C++ with every warning an error (meson.build beside
// this file). That it links at all proves the extern "C" guards: without them the call below
// would name a C++-mangled symbol the library does not have.
#include <clattn.h>

int main()
{
    return clattn_version_number() == CLATTN_VERSION_NUMBER ? 0 : 1;
}
