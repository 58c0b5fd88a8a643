/* The installed header alone, compiled as C99 and as C11 with every warning an error
 * (meson.build beside this file): a consumer needs nothing else, in either mode. */
#include <clattn.h>

int main(void)
{
    return clattn_version_number() == CLATTN_VERSION_NUMBER ? 0 : 1;
}
