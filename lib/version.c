#include "clattn.h"

unsigned clattn_version_number(void)
{
    return CLATTN_VERSION_NUMBER;
}

const char *clattn_version_string(void)
{
    return CLATTN_VERSION_STRING;
}
